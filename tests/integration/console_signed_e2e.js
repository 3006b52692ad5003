// The console against a server started with --credentials: every API call is refused until the
// page is given the key pair, then the page signs its requests itself (SigV4 with WebCrypto):
// the function list (Lambda), the Test button (a signed POST with a body), tables (DynamoDB's
// json protocol) and buckets (S3). Prints a JSON report; test_console.py asserts on it.
//   node console_signed_e2e.js ENDPOINT ACCESS_KEY SECRET FUNCTION_NAME SCREENSHOT_DIR
"use strict";
const { chromium } = require("playwright-core");

const [endpoint, accessKey, secret, name, shots] = process.argv.slice(2);

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
    await page.goto(endpoint + "/");
    await page.waitForSelector("#access-key", { timeout: 15000 });
    report.refusal = await page.textContent("#auth-error");
    await page.screenshot({ path: `${shots}/credentials.png`, fullPage: true });

    // A wrong secret is refused too, and the form comes back.
    await page.fill("#access-key", accessKey);
    await page.fill("#secret-key", "not-the-secret");
    await page.click("#sign-in");
    await page.waitForFunction(() => document.querySelector("#auth-error")?.textContent.includes("Signature"),
                               null, { timeout: 15000 });
    report.wrongSecret = await page.textContent("#auth-error");

    await page.fill("#access-key", accessKey);
    await page.fill("#secret-key", secret);
    await page.click("#sign-in");
    await page.waitForSelector(`tr[data-function="${name}"]`, { timeout: 15000 });
    report.listed = await page.locator("#functions tr[data-function]").count();

    await page.click(`tr[data-function="${name}"] a`);
    await page.waitForSelector("#event");
    await page.fill("#event", JSON.stringify({ name: "signed" }));
    await page.click("#test");
    await page.waitForSelector("#result-payload", { timeout: 30000 });
    report.payload = await page.textContent("#result-payload");

    await page.click("#nav-tables");
    await page.waitForSelector("#tables", { timeout: 15000 });
    report.tables = await page.locator("#tables a").allTextContents();
    await page.click("#nav-buckets");
    await page.waitForSelector("#buckets", { timeout: 15000 });
    report.buckets = await page.locator("#buckets a").allTextContents();
    await page.screenshot({ path: `${shots}/signed-buckets.png`, fullPage: true });
    report.pageErrors = pageErrors;
  } catch (error) {
    report.failure = String(error && error.stack || error);
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(report));
})();
