// haneul console: a small single-page app over the public APIs of the endpoint it is served
// from (Lambda's rest-json, CloudWatch Logs' and DynamoDB's json protocols, /metrics). No build
// step and no dependencies: plain DOM and fetch.
"use strict";

const main = document.getElementById("main");
let stopPage = () => {};  // stops the current page's timers when another page opens

// ---- small helpers -------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// ---- SigV4 ---------------------------------------------------------------------------------
// A server started with credentials wants every API request SigV4-signed, as the SDKs do. The
// console asks for an access key pair once (kept in this browser's localStorage) and signs each
// request with WebCrypto (available on localhost and https origins).

const CREDENTIALS_KEY = "haneul.credentials";

function storedCredentials() {
  try { return JSON.parse(localStorage.getItem(CREDENTIALS_KEY) || "null"); } catch (e) { return null; }
}

const utf8 = (text) => new TextEncoder().encode(text);
const hex = (buffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");
const sha256Hex = async (data) => hex(await crypto.subtle.digest("SHA-256", typeof data === "string" ? utf8(data) : data));

async function hmac(key, text) {
  const imported = await crypto.subtle.importKey("raw", typeof key === "string" ? utf8(key) : key,
    { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return crypto.subtle.sign("HMAC", imported, utf8(text));
}

// RFC 3986 encoding as SigV4 wants it: unreserved characters stay, everything else is %XX.
function uriEncode(text, keepSlash) {
  let out = "";
  for (const byte of utf8(text)) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-._~]/.test(c) || (keepSlash && c === "/") ? c : "%" + byte.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

function canonicalQuery(query) {
  const decode = (s) => decodeURIComponent(s.replace(/\+/g, "%20"));
  return query.split("&").filter(Boolean).map((pair) => {
    const at = pair.indexOf("=");
    return [uriEncode(decode(at < 0 ? pair : pair.slice(0, at))), uriEncode(decode(at < 0 ? "" : pair.slice(at + 1)))];
  }).sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0) : a[0] < b[0] ? -1 : 1))
    .map(([k, v]) => k + "=" + v).join("&");
}

// fetch() of one of the endpoint's APIs, signed for `service` when credentials are stored.
async function awsFetch(service, path, init = {}) {
  const headers = { ...(init.headers || {}) };
  const body = init.body === undefined ? "" : init.body;
  const payloadHash = await sha256Hex(body);
  // Also what keeps the console's own page from answering a GET / meant for S3's ListBuckets.
  headers["X-Amz-Content-Sha256"] = payloadHash;
  const credentials = storedCredentials();
  if (credentials) {
    const region = credentials.region || "us-east-1";
    const amzDate = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
    const date = amzDate.slice(0, 8);
    headers["X-Amz-Date"] = amzDate;
    const [rawPath, rawQuery = ""] = path.split("?");
    const signed = { host: location.host, "x-amz-content-sha256": payloadHash, "x-amz-date": amzDate };
    const names = Object.keys(signed).sort();
    const canonical = [(init.method || "GET").toUpperCase(),
      service === "s3" ? rawPath : uriEncode(rawPath, true), canonicalQuery(rawQuery),
      names.map((n) => n + ":" + signed[n] + "\n").join(""), names.join(";"), payloadHash].join("\n");
    const scope = `${date}/${region}/${service}/aws4_request`;
    const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, await sha256Hex(canonical)].join("\n");
    let key = await hmac("AWS4" + credentials.secretAccessKey, date);
    for (const part of [region, service, "aws4_request"]) key = await hmac(key, part);
    headers.Authorization = `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, ` +
      `SignedHeaders=${names.join(";")}, Signature=${hex(await hmac(key, toSign))}`;
  }
  return fetch(path, { ...init, headers });
}

// An error of an API; `auth` when the server refused the request's signature (or its absence).
class ApiError extends Error {
  constructor(status, type, message) {
    super(type + ": " + message);
    // Lambda and S3 refuse with 403, DynamoDB and Logs with 400: the error type tells.
    this.status = status;
    this.auth = /UnrecognizedClient|InvalidSignature|MissingAuthentication|SignatureDoesNotMatch|InvalidAccessKeyId|AccessDenied|IncompleteSignature|Signature ?expired|RequestTimeTooSkewed/i.test(type);
  }
}

async function lambdaApi(method, path, body, headers = {}) {
  const response = await awsFetch("lambda", "/2015-03-31" + path, {
    method, headers: { "Content-Type": "application/json", ...headers },
    body: body === undefined ? undefined : body,
  });
  const text = await response.text();
  if (!response.ok) {
    let message = text;
    try { message = JSON.parse(text).message || text; } catch (e) { /* not JSON */ }
    const type = response.headers.get("x-amzn-ErrorType") || String(response.status);
    throw new ApiError(response.status, type, message);
  }
  return { response, text };
}

async function jsonApi(service, target, version, body) {
  const response = await awsFetch(service, "/", {
    method: "POST",
    headers: { "X-Amz-Target": target, "Content-Type": "application/x-amz-json-" + version },
    body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const type = (data.__type || String(response.status)).split("#").pop();
    throw new ApiError(response.status, type, data.message || data.Message || "");
  }
  return data;
}

// S3 (path-style, XML answers).
async function s3Api(path) {
  const response = await awsFetch("s3", path, { method: "GET" });
  const text = await response.text();
  const xml = new DOMParser().parseFromString(text, "application/xml");
  if (!response.ok) {
    const field = (name) => xml.getElementsByTagName(name)[0]?.textContent || "";
    throw new ApiError(response.status, field("Code") || String(response.status), field("Message"));
  }
  return xml;
}

// The gateway's management API (apigatewayv2's rest-json, signed as "apigateway"; its wire
// names are lowerCamelCase: items, apiId, routeKey, ...).
async function gatewayApi(path) {
  const response = await awsFetch("apigateway", "/v2" + path, { method: "GET" });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const type = response.headers.get("x-amzn-ErrorType") || String(response.status);
    throw new ApiError(response.status, type.split(":")[0], data.message || data.Message || "");
  }
  return data;
}

const logsApi = (op, body) => jsonApi("logs", "Logs_20140328." + op, "1.1", body);
const tableApi = (op, body) => jsonApi("dynamodb", "DynamoDB_20120810." + op, "1.0", body);

function fail(where, error) {
  if (error && error.auth) return credentialsPage(String(error.message));
  where.replaceChildren(el("p", { class: "error", id: "page-error" }, String(error.message || error)));
}

// Asks for the access key pair the server was started with (`--credentials KEY:SECRET`).
function credentialsPage(reason) {
  const current = storedCredentials() || {};
  const key = el("input", { type: "text", id: "access-key", placeholder: "access key id", value: current.accessKeyId || "" });
  const secret = el("input", { type: "password", id: "secret-key", placeholder: "secret access key" });
  const region = el("input", { type: "text", id: "region", value: current.region || "us-east-1" });
  const save = () => {
    if (!key.value.trim() || !secret.value) return;
    localStorage.setItem(CREDENTIALS_KEY, JSON.stringify({
      accessKeyId: key.value.trim(), secretAccessKey: secret.value, region: region.value.trim() || "us-east-1" }));
    location.hash = "#/";
    route();
  };
  const forget = () => { localStorage.removeItem(CREDENTIALS_KEY); location.hash = "#/"; route(); };
  main.replaceChildren(el("h1", {}, "Credentials"),
    reason ? el("p", { class: "error", id: "auth-error" }, reason) : null,
    el("p", { class: "muted" }, "This server wants signed requests. Enter an access key pair it was started with; " +
      "it is kept in this browser only and every request is signed with it (SigV4)."),
    el("div", { class: "row" }, key, secret, region,
      el("button", { class: "primary", id: "sign-in", onclick: save }, "Sign in"),
      current.accessKeyId ? el("button", { id: "sign-out", onclick: forget }, "Forget") : null));
}

function decodeBase64Utf8(text) {
  const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

// REPORT RequestId: ...\tDuration: 1.23 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\t...
function parseReport(log) {
  const line = log.split("\n").find((l) => l.startsWith("REPORT ")) || "";
  const field = (name) => {
    const match = line.match(new RegExp(name + ": ([0-9.]+ \\w+)"));
    return match ? match[1] : null;
  };
  return {
    duration: field("Duration"), billed: field("Billed Duration"),
    memorySize: field("Memory Size"), memoryUsed: field("Max Memory Used"),
    init: field("Init Duration") || field("Restore Duration"),
  };
}

// ---- pages ---------------------------------------------------------------------------------

async function functionsPage() {
  main.replaceChildren(el("h1", {}, "Functions"), el("p", { class: "muted" }, "Loading…"));
  try {
    let functions = [];
    let marker = "";
    do {
      const { text } = await lambdaApi("GET", "/functions/" + (marker ? "?Marker=" + encodeURIComponent(marker) : ""));
      const page = JSON.parse(text);
      functions = functions.concat(page.Functions || []);
      marker = page.NextMarker || "";
    } while (marker);
    const rows = functions.map((f) => el("tr", { "data-function": f.FunctionName },
      el("td", {}, el("a", { href: "#/functions/" + encodeURIComponent(f.FunctionName) }, f.FunctionName)),
      el("td", {}, f.Runtime || f.PackageType || ""), el("td", {}, f.MemorySize + " MB"),
      el("td", {}, f.Timeout + " s"), el("td", {}, f.LastModified || ""),
      el("td", { class: "concurrency", "data-name": f.FunctionName }, "…")));
    main.replaceChildren(el("h1", {}, "Functions (" + functions.length + ")"),
      functions.length === 0 ? el("p", { class: "muted" }, "No functions yet. Deploy one with `haneul deploy` or `aws lambda create-function`.")
        : el("table", { id: "functions" },
          el("tr", {}, ["Name", "Runtime", "Memory", "Timeout", "Last modified", "Reserved concurrency"].map((h) => el("th", {}, h))),
          rows));
    for (const f of functions) {
      lambdaApi("GET", "/functions/" + encodeURIComponent(f.FunctionName) + "/concurrency")
        .then(({ text }) => JSON.parse(text).ReservedConcurrentExecutions)
        .catch(() => undefined)
        .then((value) => {
          const cell = main.querySelector(`td.concurrency[data-name="${CSS.escape(f.FunctionName)}"]`);
          if (cell) cell.textContent = value === undefined ? "unreserved" : String(value);
        });
    }
  } catch (error) {
    fail(main, error);
  }
}

function savedEvents(name) {
  try { return JSON.parse(localStorage.getItem("haneul.events." + name) || "{}"); } catch (e) { return {}; }
}

function saveEvents(name, events) {
  localStorage.setItem("haneul.events." + name, JSON.stringify(events));
}

async function functionPage(name, tab) {
  const encoded = encodeURIComponent(name);
  main.replaceChildren(el("h1", {}, name), el("p", { class: "muted" }, "Loading…"));
  let config;
  try {
    config = JSON.parse((await lambdaApi("GET", "/functions/" + encoded)).text).Configuration;
  } catch (error) {
    fail(main, error);
    return;
  }
  const body = el("div");
  const tabs = ["test", "configuration", "logs"].map((t) =>
    el("button", { class: t === tab ? "active" : "", id: "tab-" + t,
                   onclick: () => { location.hash = "#/functions/" + encoded + "/" + t; } }, t[0].toUpperCase() + t.slice(1)));
  main.replaceChildren(el("h1", {}, name),
    el("p", { class: "muted" }, `${config.Runtime || config.PackageType} · ${config.MemorySize} MB · timeout ${config.Timeout} s · ${config.State || "Active"}`),
    el("div", { class: "tabs" }, tabs), body);
  if (tab === "configuration") {
    body.append(el("pre", { id: "configuration" }, JSON.stringify(config, null, 2)));
  } else if (tab === "logs") {
    logsTab(body, name);
  } else {
    testTab(body, name);
  }
}

function testTab(body, name) {
  const events = savedEvents(name);
  const select = el("select", { id: "saved-events" }, el("option", { value: "" }, "— saved events —"),
    Object.keys(events).sort().map((n) => el("option", { value: n }, n)));
  const editor = el("textarea", { id: "event", spellcheck: "false" }, events[Object.keys(events)[0]] || '{\n  "key": "value"\n}');
  const eventName = el("input", { type: "text", id: "event-name", placeholder: "event name" });
  const message = el("p", { id: "event-message" });
  const result = el("div", { id: "result" });
  select.addEventListener("change", () => { if (select.value) editor.value = events[select.value]; });
  const parse = () => {
    try {
      JSON.parse(editor.value);
      message.textContent = "";
      message.className = "";
      return true;
    } catch (error) {
      message.textContent = "The event is not valid JSON: " + error.message;
      message.className = "error";
      return false;
    }
  };
  const save = el("button", { id: "save-event", onclick: () => {
    if (!parse()) return;
    const n = eventName.value.trim();
    if (!n) { message.textContent = "Name the event to save it."; message.className = "error"; return; }
    events[n] = editor.value;
    saveEvents(name, events);
    if (![...select.options].some((o) => o.value === n)) select.append(el("option", { value: n }, n));
    select.value = n;
    message.textContent = "Saved " + n + ".";
    message.className = "ok";
  } }, "Save");
  const test = el("button", { class: "primary", id: "test", onclick: async () => {
    if (!parse()) return;  // nothing is sent for a malformed event
    test.disabled = true;
    result.replaceChildren(el("p", { class: "muted" }, "Invoking…"));
    try {
      const { response, text } = await lambdaApi("POST", "/functions/" + encodeURIComponent(name) + "/invocations",
        editor.value, { "X-Amz-Log-Type": "Tail", "X-Amz-Invocation-Type": "RequestResponse" });
      const log = response.headers.get("X-Amz-Log-Result") ? decodeBase64Utf8(response.headers.get("X-Amz-Log-Result")) : "";
      const functionError = response.headers.get("X-Amz-Function-Error");
      const report = parseReport(log);
      let pretty = text;
      try { pretty = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* not JSON */ }
      const figure = (label, id, value) => el("div", {}, el("b", {}, label), el("span", { id }, value || "—"));
      result.replaceChildren(
        el("h2", { class: functionError ? "error" : "ok", id: "result-status" },
           functionError ? "Execution failed (" + functionError + ")" : "Execution succeeded"),
        el("div", { class: "figures" },
          figure("Duration", "duration", report.duration), figure("Billed duration", "billed", report.billed),
          figure("Memory size", "memory-size", report.memorySize), figure("Max memory used", "memory-used", report.memoryUsed),
          figure("Init duration", "init-duration", report.init)),
        el("h2", {}, "Result"), el("pre", { id: "result-payload" }, pretty),
        el("h2", {}, "Log tail"), el("pre", { id: "log-tail" }, log));
    } catch (error) {
      result.replaceChildren(el("p", { class: "error", id: "result-status" }, String(error.message || error)));
    } finally {
      test.disabled = false;
    }
  } }, "Test");
  editor.addEventListener("input", parse);
  body.append(el("div", { class: "panel" }, el("div", { class: "row" }, select, eventName, save, test), editor, message), result);
}

function logsTab(body, name) {
  const group = "/aws/lambda/" + name;
  const out = el("pre", { id: "logs" }, "Loading…");
  const pattern = el("input", { type: "text", id: "filter-pattern", placeholder: "filter pattern, e.g. ERROR or { $.level = \"ERROR\" }", size: "50" });
  const status = el("span", { class: "muted", id: "logs-status" });
  let lines = [];
  let after = Date.now() - 3600 * 1000;
  let running = true;
  async function poll() {
    try {
      const request = { logGroupName: group, startTime: after, limit: 1000 };
      if (pattern.value.trim()) request.filterPattern = pattern.value.trim();
      let data = await logsApi("FilterLogEvents", request);
      let events = data.events || [];
      while (data.nextToken && events.length < 5000) {
        data = await logsApi("FilterLogEvents", { ...request, nextToken: data.nextToken });
        events = events.concat(data.events || []);
      }
      for (const e of events) {
        lines.push(new Date(e.timestamp).toISOString() + "  " + e.message.replace(/\n$/, ""));
        after = Math.max(after, e.timestamp + 1);
      }
      if (lines.length > 5000) lines = lines.slice(-5000);
      out.textContent = lines.length ? lines.join("\n") : "No log events in the last hour.";
      status.textContent = "live · " + new Date().toLocaleTimeString();
      status.className = "muted";
    } catch (error) {
      if (String(error.message).startsWith("ResourceNotFoundException")) {
        out.textContent = "No log group yet: invoke the function first.";
      } else {
        status.textContent = String(error.message || error);
        status.className = "error";
      }
    }
    if (running) timer = setTimeout(poll, 2000);
  }
  let timer = null;
  pattern.addEventListener("change", () => { lines = []; after = Date.now() - 3600 * 1000; clearTimeout(timer); poll(); });
  stopPage = () => { running = false; clearTimeout(timer); };
  body.append(el("div", { class: "row" }, pattern, status), out);
  poll();
}

async function tablesPage() {
  main.replaceChildren(el("h1", {}, "Tables"), el("p", { class: "muted" }, "Loading…"));
  try {
    let names = [];
    let start;
    do {
      const page = await tableApi("ListTables", start ? { ExclusiveStartTableName: start } : {});
      names = names.concat(page.TableNames || []);
      start = page.LastEvaluatedTableName;
    } while (start);
    main.replaceChildren(el("h1", {}, "Tables (" + names.length + ")"),
      names.length === 0 ? el("p", { class: "muted" }, "No tables.")
        : el("table", { id: "tables" }, el("tr", {}, el("th", {}, "Name")),
          names.map((n) => el("tr", {}, el("td", {}, el("a", { href: "#/tables/" + encodeURIComponent(n) }, n))))));
  } catch (error) {
    fail(main, error);
  }
}

async function tablePage(name) {
  main.replaceChildren(el("h1", {}, name), el("p", { class: "muted" }, "Loading…"));
  try {
    const description = (await tableApi("DescribeTable", { TableName: name })).Table;
    const hash = description.KeySchema.find((k) => k.KeyType === "HASH").AttributeName;
    const hashType = description.AttributeDefinitions.find((a) => a.AttributeName === hash).AttributeType;
    const key = el("input", { type: "text", id: "query-key", placeholder: hash + " = …" });
    const items = el("div", { id: "items" });
    const show = async () => {
      try {
        const data = key.value.trim()
          ? await tableApi("Query", { TableName: name, KeyConditionExpression: "#k = :v", Limit: 100,
              ExpressionAttributeNames: { "#k": hash }, ExpressionAttributeValues: { ":v": { [hashType]: key.value.trim() } } })
          : await tableApi("Scan", { TableName: name, Limit: 100 });
        items.replaceChildren(el("p", { class: "muted" }, (data.Items || []).length + " item(s)" + (data.LastEvaluatedKey ? " (first page)" : "")),
          el("pre", {}, (data.Items || []).map((i) => JSON.stringify(i)).join("\n")));
      } catch (error) {
        fail(items, error);
      }
    };
    main.replaceChildren(el("h1", {}, name),
      el("p", { class: "muted" }, `${description.ItemCount ?? "?"} items · key ${description.KeySchema.map((k) => k.AttributeName + " (" + k.KeyType + ")").join(", ")}`),
      el("div", { class: "row" }, key, el("button", { onclick: show }, "Query")), items);
    show();
  } catch (error) {
    fail(main, error);
  }
}

async function bucketsPage() {
  main.replaceChildren(el("h1", {}, "Buckets"), el("p", { class: "muted" }, "Loading…"));
  try {
    const xml = await s3Api("/");
    const buckets = [...xml.getElementsByTagName("Bucket")].map((b) => ({
      name: b.getElementsByTagName("Name")[0].textContent,
      created: b.getElementsByTagName("CreationDate")[0]?.textContent || "" }));
    main.replaceChildren(el("h1", {}, "Buckets (" + buckets.length + ")"),
      buckets.length === 0 ? el("p", { class: "muted" }, "No buckets. Make one with `aws s3 mb s3://NAME`.")
        : el("table", { id: "buckets" }, el("tr", {}, el("th", {}, "Name"), el("th", {}, "Created")),
          buckets.map((b) => el("tr", {}, el("td", {}, el("a", { href: "#/buckets/" + encodeURIComponent(b.name) }, b.name)), el("td", {}, b.created)))));
  } catch (error) {
    fail(main, error);
  }
}

// One "folder" of a bucket: its sub-prefixes and objects (ListObjectsV2 with a / delimiter).
async function bucketPage(bucket, prefix) {
  main.replaceChildren(el("h1", {}, bucket), el("p", { class: "muted" }, "Loading…"));
  try {
    const xml = await s3Api("/" + encodeURIComponent(bucket) + "?list-type=2&delimiter=%2F&max-keys=1000" +
      (prefix ? "&prefix=" + encodeURIComponent(prefix) : ""));
    const text = (node, name) => node.getElementsByTagName(name)[0]?.textContent || "";
    const folders = [...xml.getElementsByTagName("CommonPrefixes")].map((p) => text(p, "Prefix"));
    const objects = [...xml.getElementsByTagName("Contents")].map((o) => ({
      key: text(o, "Key"), size: text(o, "Size"), modified: text(o, "LastModified"), etag: text(o, "ETag") }));
    const link = (p) => "#/buckets/" + encodeURIComponent(bucket) + "/" + p.split("/").map(encodeURIComponent).join("/");
    const up = prefix ? prefix.replace(/[^/]*\/$/, "") : null;
    main.replaceChildren(el("h1", {}, bucket + (prefix ? " / " + prefix : "")),
      el("p", { class: "muted" }, `${folders.length} folder(s), ${objects.length} object(s)` +
        (text(xml, "IsTruncated") === "true" ? " (first 1000)" : "")),
      el("table", { id: "objects" },
        el("tr", {}, ["Key", "Size", "Last modified", "ETag"].map((h) => el("th", {}, h))),
        up !== null ? el("tr", {}, el("td", {}, el("a", { href: up ? link(up) : "#/buckets/" + encodeURIComponent(bucket) }, "..")), el("td"), el("td"), el("td")) : null,
        folders.map((f) => el("tr", { class: "folder" }, el("td", {}, el("a", { href: link(f) }, f.slice(prefix.length))), el("td"), el("td"), el("td"))),
        objects.map((o) => el("tr", { class: "object" }, el("td", {}, o.key.slice(prefix.length)), el("td", {}, o.size), el("td", {}, o.modified), el("td", {}, o.etag)))));
  } catch (error) {
    fail(main, error);
  }
}

async function apisPage() {
  main.replaceChildren(el("h1", {}, "APIs"), el("p", { class: "muted" }, "Loading…"));
  try {
    const apis = (await gatewayApi("/apis")).items || [];
    main.replaceChildren(el("h1", {}, "APIs (" + apis.length + ")"),
      apis.length === 0 ? el("p", { class: "muted" }, "No APIs. Make one with `aws apigatewayv2 create-api`.")
        : el("table", { id: "apis" }, el("tr", {}, ["Name", "Id", "Protocol", "Endpoint"].map((h) => el("th", {}, h))),
          apis.map((a) => el("tr", {}, el("td", {}, el("a", { href: "#/apis/" + encodeURIComponent(a.apiId) }, a.name)),
            el("td", {}, a.apiId), el("td", {}, a.protocolType || ""), el("td", {}, a.apiEndpoint || "")))));
  } catch (error) {
    fail(main, error);
  }
}

async function apiPage(id) {
  main.replaceChildren(el("h1", {}, id), el("p", { class: "muted" }, "Loading…"));
  try {
    const api = await gatewayApi("/apis/" + encodeURIComponent(id));
    const [routes, integrations, stages] = await Promise.all(["routes", "integrations", "stages"].map(
      (what) => gatewayApi("/apis/" + encodeURIComponent(id) + "/" + what).then((d) => d.items || [])));
    const integrationOf = (target) => integrations.find((i) => target && target.endsWith("/" + i.integrationId));
    main.replaceChildren(el("h1", {}, api.name + " (" + id + ")"),
      el("p", { class: "muted" }, (api.protocolType || "") + " · " + (api.apiEndpoint || "")),
      el("h2", {}, "Routes"),
      el("table", { id: "routes" }, el("tr", {}, ["Route", "Integration", "Authorization"].map((h) => el("th", {}, h))),
        routes.map((r) => {
          const integration = integrationOf(r.target);
          return el("tr", {}, el("td", {}, r.routeKey),
            el("td", {}, integration ? `${integration.integrationType} ${integration.integrationUri || ""}` : (r.target || "")),
            el("td", {}, r.authorizationType || "NONE"));
        })),
      el("h2", {}, "Stages"),
      el("table", { id: "stages" }, el("tr", {}, ["Stage", "Auto deploy", "Variables"].map((h) => el("th", {}, h))),
        stages.map((st) => el("tr", {}, el("td", {}, st.stageName), el("td", {}, String(!!st.autoDeploy)),
          el("td", {}, JSON.stringify(st.stageVariables || {}))))));
  } catch (error) {
    fail(main, error);
  }
}

// ---- metrics -------------------------------------------------------------------------------

// Prometheus text: [{name, labels, value}] for every sample line.
function parseMetrics(text) {
  const samples = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const match = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/);
    if (!match) continue;
    const labels = {};
    for (const pair of (match[2] || "").slice(1, -1).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]] = pair[2];
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

const sum = (samples, test) => samples.filter((s) => test(s.name)).reduce((a, s) => a + (isFinite(s.value) ? s.value : 0), 0);

// The q-quantile (in the histogram's unit) from cumulative _bucket samples summed over labels.
function quantile(samples, q) {
  const buckets = new Map();
  for (const s of samples) {
    if (!/duration.*_bucket$/.test(s.name) || /init/.test(s.name)) continue;
    const le = s.labels.le === "+Inf" ? Infinity : Number(s.labels.le);
    buckets.set(le, (buckets.get(le) || 0) + s.value);
  }
  const sorted = [...buckets.entries()].sort((a, b) => a[0] - b[0]);
  const total = sorted.length ? sorted[sorted.length - 1][1] : 0;
  if (!total) return null;
  for (const [le, count] of sorted) if (count >= q * total) return le === Infinity ? null : le;
  return null;
}

function drawChart(canvas, title, points) {
  const ratio = window.devicePixelRatio || 1;
  canvas.width = canvas.clientWidth * ratio;
  canvas.height = canvas.clientHeight * ratio;
  const ctx = canvas.getContext("2d");
  ctx.scale(ratio, ratio);
  const w = canvas.clientWidth, h = canvas.clientHeight;
  ctx.clearRect(0, 0, w, h);
  ctx.fillStyle = "#16191f";
  ctx.font = "12px system-ui";
  const values = points.map((p) => p.v).filter((v) => v !== null);
  const max = Math.max(1, ...values);
  ctx.fillText(title + (values.length ? "  (latest " + values[values.length - 1] + ", max " + max + ")" : "  (no data yet)"), 8, 16);
  ctx.strokeStyle = "#0972d3";
  ctx.lineWidth = 2;
  ctx.beginPath();
  let started = false;
  points.forEach((p, i) => {
    if (p.v === null) return;
    const x = 8 + (i / Math.max(1, points.length - 1)) * (w - 16);
    const y = h - 10 - (p.v / max) * (h - 36);
    if (!started) { ctx.moveTo(x, y); started = true; } else ctx.lineTo(x, y);
  });
  ctx.stroke();
  canvas.dataset.points = String(values.length);
  canvas.dataset.latest = values.length ? String(values[values.length - 1]) : "";
}

function metricsPage() {
  const charts = [
    ["invocations", "Invocations per interval"], ["errors", "Errors per interval"],
    ["throttles", "Throttles per interval"], ["p50", "Duration p50 (bucket bound)"],
    ["p99", "Duration p99 (bucket bound)"], ["concurrency", "Concurrent executions"],
  ];
  const canvases = Object.fromEntries(charts.map(([id]) => [id, el("canvas", { id: "chart-" + id })]));
  const status = el("p", { class: "muted", id: "metrics-status" }, "Reading /metrics every 2 s…");
  main.replaceChildren(el("h1", {}, "Metrics"), status,
    el("div", { class: "charts" }, charts.map(([id]) => canvases[id])));
  const series = Object.fromEntries(charts.map(([id]) => [id, []]));
  let previous = null;
  let running = true;
  let timer = null;
  async function poll() {
    try {
      const response = await fetch("/metrics");
      if (!response.ok) throw new Error("/metrics answered " + response.status);
      const samples = parseMetrics(await response.text());
      const totals = {
        invocations: sum(samples, (n) => /invocations_total$/.test(n)),
        errors: sum(samples, (n) => /errors_total$/.test(n)),
        throttles: sum(samples, (n) => /throttles_total$/.test(n)),
      };
      for (const key of ["invocations", "errors", "throttles"]) {
        series[key].push({ v: previous === null ? totals[key] : Math.max(0, totals[key] - previous[key]) });
      }
      previous = totals;
      series.p50.push({ v: quantile(samples, 0.5) });
      series.p99.push({ v: quantile(samples, 0.99) });
      series.concurrency.push({ v: sum(samples, (n) => n === "haneul_lambda_account_concurrent_executions") });
      for (const [id, title] of charts) {
        if (series[id].length > 120) series[id].shift();
        drawChart(canvases[id], title, series[id]);
      }
      status.textContent = "live · " + new Date().toLocaleTimeString() + " · " + samples.length + " samples";
    } catch (error) {
      status.textContent = String(error.message || error);
      status.className = "error";
    }
    if (running) timer = setTimeout(poll, 2000);
  }
  stopPage = () => { running = false; clearTimeout(timer); };
  poll();
}

// ---- routing -------------------------------------------------------------------------------

function route() {
  stopPage();
  stopPage = () => {};
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  if (parts[0] === "functions" && parts[1]) return functionPage(parts[1], parts[2] || "test");
  if (parts[0] === "tables" && parts[1]) return tablePage(parts[1]);
  if (parts[0] === "tables") return tablesPage();
  if (parts[0] === "metrics") return metricsPage();
  if (parts[0] === "buckets" && parts[1]) return bucketPage(parts[1], parts.slice(2).join("/"));
  if (parts[0] === "buckets") return bucketsPage();
  if (parts[0] === "apis" && parts[1]) return apiPage(parts[1]);
  if (parts[0] === "apis") return apisPage();
  if (parts[0] === "credentials") return credentialsPage("");
  return functionsPage();
}

window.addEventListener("hashchange", route);
route();
