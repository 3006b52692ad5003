// Drives the web console in headless Chromium (Debian's chromium, through playwright-core):
// the function list, a saved test event and the Test button, a malformed event that is refused
// before anything is sent, the live log view, and the metrics charts. Prints a JSON report of
// what the page showed; the pytest side (test_console.py) asserts on it.
// Then the read-only browsers of buckets (a folder and its object) and of APIs (routes, stages).
//   node console_e2e.js ENDPOINT FUNCTION_NAME SCREENSHOT_DIR BUCKET API_ID
"use strict";
const { chromium } = require("playwright-core");

const [endpoint, name, shots, bucket, apiId] = process.argv.slice(2);

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  const report = {};
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const pageErrors = [];
    page.on("pageerror", (error) => pageErrors.push(String(error)));
    let invocations = 0;
    page.on("request", (request) => {
      if (request.method() === "POST" && request.url().includes("/invocations")) invocations += 1;
    });

    await page.goto(endpoint + "/");
    await page.waitForSelector(`tr[data-function="${name}"]`, { timeout: 15000 });
    report.listed = await page.locator("#functions tr[data-function]").count();
    await page.screenshot({ path: `${shots}/functions.png`, fullPage: true });

    await page.click(`tr[data-function="${name}"] a`);
    await page.waitForSelector("#event");
    await page.fill("#event", JSON.stringify({ name: "console" }));
    await page.fill("#event-name", "first-event");
    await page.click("#save-event");
    report.saved = await page.locator("#saved-events option", { hasText: "first-event" }).count();
    await page.click("#test");
    await page.waitForSelector("#result-payload", { timeout: 30000 });
    report.status = await page.textContent("#result-status");
    report.payload = await page.textContent("#result-payload");
    report.duration = await page.textContent("#duration");
    report.billed = await page.textContent("#billed");
    report.memoryUsed = await page.textContent("#memory-used");
    report.initDuration = await page.textContent("#init-duration");
    report.logTail = await page.textContent("#log-tail");
    await page.screenshot({ path: `${shots}/test.png`, fullPage: true });

    // A malformed event: the error shows inline and nothing is sent.
    const before = invocations;
    await page.fill("#event", "{ not json");
    await page.click("#test");
    report.malformedMessage = await page.textContent("#event-message");
    report.malformedClass = await page.getAttribute("#event-message", "class");
    await page.waitForTimeout(300);  // a request, if one were sent, would have started by now
    report.sentForMalformed = invocations - before;
    await page.screenshot({ path: `${shots}/malformed.png`, fullPage: true });

    // Saved events survive a reload.
    await page.reload();
    await page.waitForSelector("#saved-events");
    report.savedAfterReload = await page.locator("#saved-events option", { hasText: "first-event" }).count();

    await page.click("#tab-logs");
    await page.waitForFunction(() => (document.querySelector("#logs") || {}).textContent?.includes("REPORT RequestId"),
                               null, { timeout: 20000 });
    report.logs = await page.textContent("#logs");
    await page.screenshot({ path: `${shots}/logs.png`, fullPage: true });

    await page.click("#nav-metrics");
    await page.waitForFunction(() => Number(document.querySelector("#chart-invocations")?.dataset.points || 0) >= 2,
                               null, { timeout: 20000 });
    // Invoke from the page's own origin while the charts poll, then wait for a non-zero point.
    await page.evaluate(async (fn) => {
      for (let i = 0; i < 3; i++) {
        await fetch(`/2015-03-31/functions/${fn}/invocations`, { method: "POST", body: "{}" });
      }
    }, name);
    await page.waitForFunction(() => {
      const canvas = document.querySelector("#chart-invocations");
      return canvas && Number(canvas.dataset.latest || 0) > 0;
    }, null, { timeout: 20000 });
    report.chartPoints = Number(await page.getAttribute("#chart-invocations", "data-points"));
    report.chartLatest = Number(await page.getAttribute("#chart-invocations", "data-latest"));
    await page.screenshot({ path: `${shots}/metrics.png`, fullPage: true });

    await page.goto(endpoint + "/#/functions/no-such-function-here");
    await page.waitForSelector("#page-error");
    report.missingFunction = await page.textContent("#page-error");

    await page.click("#nav-buckets");
    await page.waitForSelector("#buckets");
    report.bucketListed = await page.locator("#buckets a", { hasText: bucket }).count();
    await page.click(`#buckets a:text-is("${bucket}")`);
    await page.waitForSelector("#objects tr.folder a");
    report.folders = await page.locator("#objects tr.folder a").allTextContents();
    await page.click("#objects tr.folder a");
    await page.waitForSelector("#objects tr.object");
    report.objects = await page.locator("#objects tr.object td:first-child").allTextContents();
    await page.screenshot({ path: `${shots}/bucket.png`, fullPage: true });

    await page.click("#nav-apis");
    await page.waitForSelector("#apis");
    await page.click(`#apis a[href="#/apis/${apiId}"]`);
    await page.waitForSelector("#routes");
    report.routes = await page.locator("#routes tr td:first-child").allTextContents();
    report.stages = await page.locator("#stages tr td:first-child").allTextContents();
    await page.screenshot({ path: `${shots}/api.png`, fullPage: true });
    report.pageErrors = pageErrors;
  } catch (error) {
    report.failure = String(error && error.stack || error);
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(report));
})();
