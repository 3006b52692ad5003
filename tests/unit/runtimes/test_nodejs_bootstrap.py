"""Black-box tests of runtimes/nodejs/bootstrap.mjs against a fake Runtime API.

Each test writes a function into a temporary LAMBDA_TASK_ROOT, starts `node bootstrap.mjs` with
the Lambda environment, drives it through FakeRuntimeApi and checks what AWS's Node.js runtime
would post and log (bodies {errorType, errorMessage, trace}, console lines
`<ISO time>\\t<request id>\\t<LEVEL>\\t<message>`, exit codes 129/128). Every runtime started is
killed at teardown. Skipped when there is no `node` on PATH.
"""

import json
import os
import re
import shutil
import textwrap
import time

import pytest

from fake_runtime_api import DEFAULT_ARN, FakeRuntimeApi, RuntimeProcess

NODE = shutil.which("node")
BOOTSTRAP = os.path.normpath(
    os.path.join(os.path.dirname(__file__), "..", "..", "..", "runtimes", "nodejs", "bootstrap.mjs")
)
ISO_TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")


@pytest.fixture
def api():
    fake = FakeRuntimeApi()
    yield fake
    fake.close()


@pytest.fixture
def start(api, tmp_path):
    """start(files, handler, extra_env=None) -> RuntimeProcess, with files written to the task
    root ({relative path: source}, dedented)."""
    processes = []

    def start(files, handler="app.handler", extra_env=None):
        task_root = tmp_path / "task"
        task_root.mkdir(exist_ok=True)
        for name, source in files.items():
            path = task_root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(source).lstrip("\n"))
        workdir = tmp_path / ("process%d" % len(processes))
        workdir.mkdir()
        process = RuntimeProcess([NODE, BOOTSTRAP], api, task_root, handler, str(workdir), extra_env)
        processes.append(process)
        return process

    yield start
    for process in processes:
        process.kill()


def log_lines(process):
    """stdout split into records: one console call is one line."""
    return process.stdout().split("\n")[:-1]


# --- module formats -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "files",
    [
        pytest.param({"app.js": "exports.handler = async (event) => ({ echo: event, format: 'cjs' });"}, id="exports.handler"),
        pytest.param(
            {"app.js": "async function handler(event) { return { echo: event, format: 'cjs' }; }\nmodule.exports = { handler };"},
            id="module.exports",
        ),
        pytest.param(
            {"app.js": "const h = {}; h.handler = async (event) => ({ echo: event, format: 'cjs' }); module.exports = h;"},
            id="module.exports-dynamic",
        ),
        pytest.param({"app.cjs": "exports.handler = async (event) => ({ echo: event, format: 'cjs' });"}, id=".cjs"),
        pytest.param(
            {"app.mjs": "export const handler = async (event) => ({ echo: event, format: typeof require === 'undefined' ? 'esm' : 'cjs' });"},
            id=".mjs",
        ),
        pytest.param(
            {
                "package.json": '{"type": "module"}',
                "app.js": "export const handler = async (event) => ({ echo: event, format: typeof require === 'undefined' ? 'esm' : 'cjs' });",
            },
            id="package.json-type-module",
        ),
    ],
)
def test_handler_module_formats(api, start, files):
    process = start(files)
    result = api.invoke({"a": 1}, process=process)
    assert result.kind == "response"
    expected_format = "esm" if "export const" in "".join(files.values()) else "cjs"
    assert result.json() == {"echo": {"a": 1}, "format": expected_format}
    assert result.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    "files",
    [
        pytest.param({"package.json": '{"type": "module"}', "app.js": "ESM"}, id="package.json-type-module"),
        pytest.param({"app.mjs": "ESM"}, id=".mjs"),
    ],
)
def test_es_module_handler_is_the_named_export_even_with_a_default_export(api, start, files):
    source = "export const handler = async () => 'named';\nexport default { handler: async () => 'default' };"
    process = start({name: source if text == "ESM" else text for name, text in files.items()})
    assert api.invoke({}, process=process).json() == "named"


def test_js_is_commonjs_without_package_type_module(api, start):
    process = start({
        "package.json": '{"name": "fn"}',
        "app.js": "exports.handler = async () => [typeof require, typeof module];",
    })
    assert api.invoke({}, process=process).json() == ["function", "object"]


@pytest.mark.parametrize("handler", ["lib/app.handler", "app.nested.deeper.fn"])
def test_handler_paths(api, start, handler):
    source = "exports.handler = async () => 'dir'; exports.nested = { deeper: { fn: async () => 'nested' } };"
    process = start({"lib/app.js": source, "app.js": source}, handler=handler)
    assert api.invoke({}, process=process).json() == ("dir" if handler.startswith("lib/") else "nested")


def test_handler_from_node_modules(api, start):
    process = start({
        "node_modules/pkg-handler/package.json": '{"name": "pkg-handler", "main": "main.js"}',
        "node_modules/pkg-handler/main.js": "exports.handler = async () => 'from node_modules';",
    }, handler="pkg-handler.handler")
    assert api.invoke({}, process=process).json() == "from node_modules"


# --- results and handler styles -----------------------------------------------------------


def test_result_is_json_stringified(api, start):
    process = start({"app.js": "exports.handler = async () => ({ s: 'caf\u00e9', n: [1, 2.5, null, true] });"})
    assert api.invoke({}, process=process).body == '{"s":"caf\u00e9","n":[1,2.5,null,true]}'.encode()


def test_undefined_result_is_null(api, start):
    process = start({"app.js": "exports.handler = async () => {};"})
    assert api.invoke({}, process=process).body == b"null"


def test_callback_result_waits_for_the_event_loop_to_drain(api, start):
    process = start({"app.js": """
        exports.handler = (event, context, callback) => {
          setTimeout(() => console.log('timer fired'), 200);
          callback(null, { via: 'callback' });
        };
    """})
    result = api.invoke({}, process=process)
    assert result.json() == {"via": "callback"}
    assert "\tINFO\ttimer fired" in process.stdout(), "the response must wait for pending timers"


def test_callback_result_is_immediate_when_not_waiting_for_the_event_loop(api, start):
    process = start({"app.js": """
        exports.handler = (event, context, callback) => {
          context.callbackWaitsForEmptyEventLoop = false;
          setTimeout(() => console.log('late timer'), 5000);
          callback(null, 'right away');
        };
    """})
    started = time.monotonic()
    assert api.invoke({}, process=process).json() == "right away"
    assert time.monotonic() - started < 4
    assert "late timer" not in process.stdout()


def test_sync_handler_without_callback_succeeds_with_null(api, start):
    # As on AWS: a non-async handler's return value is ignored.
    process = start({"app.js": "exports.handler = (event, context) => 'ignored';"})
    assert api.invoke({}, process=process).body == b"null"


def test_only_the_first_report_counts(api, start):
    process = start({"app.js": """
        exports.handler = (event, context, callback) => {
          context.callbackWaitsForEmptyEventLoop = false;
          callback(null, 'first');
          callback(null, 'second');
          context.succeed('third');
        };
    """})
    assert api.invoke({}, process=process).json() == "first"
    assert api.invoke({}, process=process).json() == "first"
    assert process.stdout() == "", "later calls are ignored silently"


@pytest.mark.parametrize(
    "call, expected",
    [("context.succeed({ legacy: 'succeed' })", {"legacy": "succeed"}), ("context.done(null, 'done')", "done")],
)
def test_legacy_context_methods(api, start, call, expected):
    process = start({"app.js": "exports.handler = (event, context) => { %s; };" % call})
    assert api.invoke({}, process=process).json() == expected


def test_unserialisable_result_is_an_error(api, start):
    process = start({"app.js": "exports.handler = async () => { const o = {}; o.self = o; return o; };"})
    result = api.invoke({}, process=process)
    assert result.kind == "error"
    body = result.json()
    assert (body["errorType"], body["errorMessage"]) == ("Error", "Unable to stringify response body")
    assert body["trace"][0] == "Error: Unable to stringify response body"


def test_never_settled_promise_fails_with_node_js_exit(api, start):
    process = start({"app.js": "exports.handler = async () => new Promise(() => {});"})
    body = api.invoke({}, process=process).json()
    assert body["errorType"] == "Runtime.NodeJsExit"
    assert body["errorMessage"].startswith("The Lambda runtime client detected an unexpected Node.js exit code.")
    assert api.invoke({}, process=process).json()["errorType"] == "Runtime.NodeJsExit"  # still serving


# --- context ------------------------------------------------------------------------------


def test_context_exposes_function_and_invocation_data(api, start):
    process = start({"app.js": """
        exports.handler = async (event, context) => ({
          json: JSON.parse(JSON.stringify(context)),
          clientContext: context.clientContext,
          identity: context.identity,
          trace: process.env._X_AMZN_TRACE_ID,
          methods: ['getRemainingTimeInMillis', 'succeed', 'fail', 'done'].map((m) => typeof context[m]),
        });
    """})
    request_id = api.enqueue(
        {},
        trace_id="Root=1-abc;Sampled=1",
        client_context={"client": {"installation_id": "inst"}, "custom": {"k": "v\u00e9"}},
        cognito_identity={"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"},
    )
    result = api.wait_for_result(request_id, process).json()
    # The keys JSON.stringify(context) shows on AWS, in AWS's order.
    assert list(result["json"].items()) == [
        ("callbackWaitsForEmptyEventLoop", True),
        ("functionVersion", "$LATEST"),
        ("functionName", "test-fn"),
        ("memoryLimitInMB", "256"),
        ("logGroupName", "/aws/lambda/test-fn"),
        ("logStreamName", "2024/01/01/[$LATEST]0123456789abcdef"),
        ("clientContext", {"client": {"installation_id": "inst"}, "custom": {"k": "v\u00e9"}}),
        ("identity", {"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"}),
        ("invokedFunctionArn", DEFAULT_ARN),
        ("awsRequestId", request_id),
    ]
    assert result["trace"] == "Root=1-abc;Sampled=1"
    assert result["methods"] == ["function"] * 4


def test_trace_env_is_removed_when_an_invocation_has_none(api, start):
    process = start({"app.js": "exports.handler = async () => process.env._X_AMZN_TRACE_ID ?? 'unset';"})
    assert api.invoke({}, process=process, trace_id="Root=1-first").json() == "Root=1-first"
    assert api.invoke({}, process=process, trace_id=None).json() == "unset"


def test_remaining_time_counts_down_to_the_deadline(api, start):
    process = start({"app.js": "exports.handler = async (e, context) => context.getRemainingTimeInMillis();"})
    remaining = api.invoke({}, process=process, deadline_ms=int(time.time() * 1000) + 5000).json()
    assert 3000 < remaining <= 5000
    # Not clamped at zero, as on AWS.
    assert api.invoke({}, process=process, deadline_ms=int(time.time() * 1000) - 5000).json() < -4000


def test_warm_process_serves_invocations_over_one_connection(api, start):
    process = start({"app.js": "let count = 0;\nexports.handler = async (event) => [++count, process.pid, event];"})
    results = [api.invoke({"n": n}, process=process).json() for n in range(3)]
    assert [r[0] for r in results] == [1, 2, 3]
    assert {r[1] for r in results} == {process.pid}
    assert [r[2] for r in results] == [{"n": 0}, {"n": 1}, {"n": 2}]
    api.wait_for_polls(4, process)
    clients = {client for _, _, client in api.requests}
    assert len(clients) == 1, "the runtime should keep one keep-alive connection: %s" % api.requests


# --- handler errors -----------------------------------------------------------------------


def test_thrown_error_is_posted_and_logged_like_aws(api, start, tmp_path):
    process = start({"app.js": """
        exports.handler = async () => {
          throw new Error('boom');
        };
    """})
    request_id = api.enqueue({})
    result = api.wait_for_result(request_id, process)
    body = result.json()
    assert list(body) == ["errorType", "errorMessage", "trace"]
    assert (body["errorType"], body["errorMessage"]) == ("Error", "boom")
    assert body["trace"][0] == "Error: boom"
    assert body["trace"][1].startswith("    at exports.handler (%s:2:9)" % (tmp_path / "task" / "app.js"))
    assert result.headers["lambda-runtime-function-error-type"] == "Error"
    [line] = log_lines(process)
    match = re.fullmatch(r"(%s)\t%s\tERROR\tInvoke Error \t(\{.*\})" % (ISO_TIME, request_id), line)
    assert match, line
    assert json.loads(match.group(2)) == {"errorType": "Error", "errorMessage": "boom", "stack": body["trace"]}


def test_error_fields_and_custom_error_types(api, start):
    process = start({"app.js": """
        class ValidationError extends Error {
          constructor(message) { super(message); this.name = 'ValidationError'; this.field = 'email'; }
        }
        exports.handler = async () => { throw new ValidationError('bad email'); };
    """})
    body = api.invoke({}, process=process).json()
    assert (body["errorType"], body["errorMessage"]) == ("ValidationError", "bad email")
    # The log line also carries the error's own enumerable properties.
    logged = json.loads(log_lines(process)[0].split("\t", 4)[4])
    assert list(logged.items())[:4] == [
        ("errorType", "ValidationError"),
        ("errorMessage", "bad email"),
        ("name", "ValidationError"),
        ("field", "email"),
    ]
    assert logged["stack"] == body["trace"]


def test_callback_with_a_non_error_value(api, start):
    process = start({"app.js": "exports.handler = (event, context, callback) => callback('plain failure');"})
    result = api.invoke({}, process=process)
    assert result.json() == {"errorType": "string", "errorMessage": "plain failure", "trace": []}
    logged = json.loads(log_lines(process)[0].split("\t", 4)[4])
    assert (logged["errorType"], logged["errorMessage"]) == ("Error", "plain failure")


def test_synchronous_throw_from_a_callback_handler(api, start):
    process = start({"app.js": "exports.handler = (event, context, callback) => { throw new TypeError('sync'); };"})
    body = api.invoke({}, process=process).json()
    assert (body["errorType"], body["errorMessage"]) == ("TypeError", "sync")
    assert api.invoke({}, process=process).json()["errorType"] == "TypeError"  # still serving


def test_uncaught_exception_during_an_invocation_fails_it_and_exits_129(api, start):
    process = start({"app.js": """
        exports.handler = async () => {
          setTimeout(() => { throw new RangeError('async boom'); }, 10);
          return new Promise(() => {});
        };
    """})
    request_id = api.enqueue({})
    body = api.wait_for_result(request_id, process).json()
    assert (body["errorType"], body["errorMessage"]) == ("RangeError", "async boom")
    assert process.wait() == 129
    assert re.search(r"\t%s\tERROR\tUncaught Exception \t\{\"errorType\":\"RangeError\"" % request_id, process.stdout())


def test_unhandled_rejection_during_an_invocation_exits_128(api, start):
    process = start({"app.js": """
        exports.handler = async () => {
          Promise.reject(new Error('nobody catches me'));
          return new Promise(() => {});
        };
    """})
    body = api.invoke({}, process=process).json()
    assert (body["errorType"], body["errorMessage"]) == ("Runtime.UnhandledPromiseRejection", "Error: nobody catches me")
    assert process.wait() == 128


# --- init errors --------------------------------------------------------------------------


def test_missing_module_is_import_module_error(api, start):
    process = start({}, handler="nope.handler")
    error = api.wait_for_init_error(process)
    body = error.json()
    message = "Error: Cannot find module 'nope'\nRequire stack:\n- %s" % BOOTSTRAP
    assert (body["errorType"], body["errorMessage"]) == ("Runtime.ImportModuleError", message)
    assert body["trace"][:3] == ["Runtime.ImportModuleError: Error: Cannot find module 'nope'", "Require stack:", "- " + BOOTSTRAP]
    assert error.headers["lambda-runtime-function-error-type"] == "Runtime.ImportModuleError"
    assert process.wait() == 129
    [line] = log_lines(process)
    match = re.fullmatch(r"%s\tundefined\tERROR\tUncaught Exception \t(\{.*\})" % ISO_TIME, line)
    assert match, line
    logged = json.loads(match.group(1))
    assert logged == {"errorType": "Runtime.ImportModuleError", "errorMessage": message, "stack": body["trace"]}
    assert not [r for r in api.requests if r[0] == "GET"], "no invocation may be requested after an init error"


@pytest.mark.parametrize(
    "files, handler, error_type, message",
    [
        ({"app.js": "exports.handler = async () => 1;"}, "app.nope", "Runtime.HandlerNotFound", "app.nope is undefined or not exported"),
        ({"app.mjs": "export const handler = async () => 1;"}, "app.nope", "Runtime.HandlerNotFound", "app.nope is undefined or not exported"),
        ({"app.js": "exports.handler = 'text';"}, "app.handler", "Runtime.HandlerNotFound", "app.handler is not a function"),
        ({"app.js": "exports.handler = 1;"}, "app", "Runtime.MalformedHandlerName", "Bad handler"),
        (
            {"app.js": "exports.handler = 1;"},
            "../app.handler",
            "Runtime.MalformedHandlerName",
            "'../app.handler' is not a valid handler name. Use absolute paths when specifying root directories in handler names.",
        ),
        ({"app.js": "exports.handler = async () => {\n  return 1 +;\n};"}, "app.handler", "Runtime.UserCodeSyntaxError", "SyntaxError: Unexpected token ';'"),
        ({"app.mjs": "export const handler = async () => {;"}, "app.handler", "Runtime.UserCodeSyntaxError", "SyntaxError: Unexpected end of input"),
        ({"app.js": "throw new TypeError('init failed');"}, "app.handler", "TypeError", "init failed"),
        (
            {"app.mjs": "import missing from 'not-installed-anywhere';\nexport const handler = async () => missing;"},
            "app.handler",
            "Error",
            None,  # ESM resolution errors are not wrapped, as on AWS
        ),
    ],
)
def test_init_errors(api, start, files, handler, error_type, message):
    process = start(files, handler=handler)
    error = api.wait_for_init_error(process)
    body = error.json()
    assert body["errorType"] == error_type
    if message is None:
        assert body["errorMessage"].startswith("Cannot find package 'not-installed-anywhere' imported from ")
    else:
        assert body["errorMessage"] == message
        assert body["trace"][0] == "%s: %s" % (error_type, message.split("\n")[0])
    assert process.wait() == 129
    assert re.fullmatch(r"%s\tundefined\tERROR\tUncaught Exception \t\{.*\}" % ISO_TIME, log_lines(process)[-1])


# --- console ------------------------------------------------------------------------------


def test_console_methods_write_one_record_per_call(api, start):
    process = start({"app.js": """
        console.log('loading');
        exports.handler = async () => {
          console.log('multi\\nline', { x: 1 }, 42);
          console.info('%s is %d', 'answer', 42);
          console.warn('careful');
          console.error('bad', new Error('e1').message);
          console.debug('details');
          console.trace('tracing');
          return 'ok';
        };
    """})
    request_id = api.enqueue({})
    api.wait_for_result(request_id, process)
    lines = log_lines(process)
    expected = [
        ("undefined", "INFO", "loading"),
        (request_id, "INFO", "multi\rline { x: 1 } 42"),
        (request_id, "INFO", "answer is 42"),
        (request_id, "WARN", "careful"),
        (request_id, "ERROR", "bad e1"),
        (request_id, "DEBUG", "details"),
        (request_id, "TRACE", "tracing"),
    ]
    assert len(lines) == len(expected), lines
    for line, (rid, level, message) in zip(lines, expected):
        assert re.fullmatch(ISO_TIME, line.split("\t")[0]), line
        assert line.split("\t", 1)[1] == "%s\t%s\t%s" % (rid, level, message)


def test_log_level_filters_console_methods(api, start):
    process = start({"app.js": """
        exports.handler = async () => { console.debug('hidden'); console.info('hidden'); console.warn('shown'); return 1; };
    """}, extra_env={"AWS_LAMBDA_LOG_LEVEL": "warn"})
    api.invoke({}, process=process)
    assert [line.split("\t", 2)[2] for line in log_lines(process)] == ["WARN\tshown"]


# --- the runtime itself -------------------------------------------------------------------


def test_unreachable_runtime_api_exits_non_zero_with_a_message(start):
    import socket

    with socket.socket() as unused:  # a port nobody listens on
        unused.bind(("127.0.0.1", 0))
        address = "127.0.0.1:%d" % unused.getsockname()[1]
        process = start({"app.js": "exports.handler = async () => 1;"}, extra_env={"AWS_LAMBDA_RUNTIME_API": address})
        assert process.wait() == 1
    assert "haneul nodejs runtime: fatal: Error: connect ECONNREFUSED" in process.stderr()
