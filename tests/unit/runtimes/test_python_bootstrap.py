"""Black-box tests of runtimes/python3/bootstrap.py against a fake Runtime API.

Each test writes a function into a temporary LAMBDA_TASK_ROOT, starts the bootstrap the way the
invoker does (`/usr/bin/python3 bootstrap.py`, Lambda environment variables, no -u), drives it
through FakeRuntimeApi and checks what AWS's python runtime would post and log. Expected bodies
and log lines are AWS's (awslambdaric) formats. Every runtime started is killed at teardown.
"""

import calendar
import json
import os
import re
import textwrap
import time

import pytest

from fake_runtime_api import DEFAULT_ARN, FakeRuntimeApi, RuntimeProcess

PYTHON = "/usr/bin/python3"
BOOTSTRAP = os.path.normpath(
    os.path.join(os.path.dirname(__file__), "..", "..", "..", "runtimes", "python3", "bootstrap.py")
)
LOG_TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


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
        process = RuntimeProcess([PYTHON, BOOTSTRAP], api, task_root, handler, str(workdir), extra_env)
        processes.append(process)
        return process

    yield start
    for process in processes:
        process.kill()


# --- results ------------------------------------------------------------------------------


def test_result_is_posted_as_json_with_default_separators(api, start):
    process = start({"app.py": """
        def handler(event, context):
            return {"echo": event, "list": [1, 2.5, None, True]}
    """})
    result = api.invoke({"a": "b"}, process=process)
    assert result.kind == "response"
    assert result.body == b'{"echo": {"a": "b"}, "list": [1, 2.5, null, true]}'
    assert result.headers["content-type"] == "application/json"


def test_none_result_is_posted_as_null(api, start):
    process = start({"app.py": """
        def handler(event, context):
            pass
    """})
    assert api.invoke({}, process=process).body == b"null"


def test_bytes_result_is_posted_raw(api, start):
    process = start({"app.py": """
        def handler(event, context):
            return b"\\x00raw"
    """})
    result = api.invoke({}, process=process)
    assert result.body == b"\x00raw"
    assert result.headers["content-type"] == "application/unknown"


@pytest.mark.parametrize(
    "execution_env, expected",
    [(None, b'"caf\\u00e9"'), ("AWS_Lambda_python3.11", b'"caf\\u00e9"'), ("AWS_Lambda_python3.12", '"café"'.encode())],
)
def test_non_ascii_is_escaped_before_python312_like_aws(api, start, execution_env, expected):
    process = start(
        {"app.py": """
            def handler(event, context):
                return "caf\\u00e9"
        """},
        extra_env={"AWS_EXECUTION_ENV": execution_env} if execution_env else None,
    )
    assert api.invoke({}, process=process).body == expected


def test_decimal_results_are_numbers(api, start):
    process = start({"app.py": """
        from decimal import Decimal
        def handler(event, context):
            return {"int": Decimal("42"), "frac": Decimal("1.5")}
    """})
    assert api.invoke({}, process=process).json() == {"int": 42, "frac": 1.5}


def test_unserialisable_result_is_a_marshal_error(api, start):
    process = start({"app.py": """
        def handler(event, context):
            return {1, 2}
    """})
    request_id = api.enqueue({})
    result = api.wait_for_result(request_id, process)
    assert result.kind == "error"
    assert result.json() == {
        "errorMessage": "Unable to marshal response: Object of type set is not JSON serializable",
        "errorType": "Runtime.MarshalError",
        "requestId": request_id,
        "stackTrace": [],
    }
    assert result.headers["lambda-runtime-function-error-type"] == "Runtime.MarshalError"


def test_invalid_json_event_is_an_unmarshal_error(api, start):
    process = start({"app.py": """
        def handler(event, context):
            return "unreachable"
    """})
    request_id = api.enqueue(raw_body=b"{not json")
    assert api.wait_for_result(request_id, process).json() == {
        "errorMessage": "Unable to unmarshal input: Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1)",
        "errorType": "Runtime.UnmarshalError",
        "requestId": request_id,
        "stackTrace": [],
    }


def test_event_is_parsed_with_json_semantics(api, start):
    process = start({"app.py": """
        def handler(event, context):
            return [repr(event), type(event["big"]).__name__]
    """})
    result = api.invoke(raw_body=b' \n{"big": 12345678901234567890, "f": 1e2, "s": "\\u00e9\\n", "n": null} \n', process=process)
    assert result.json() == ["{'big': 12345678901234567890, 'f': 100.0, 's': '\u00e9\\n', 'n': None}", "int"]


# --- context ------------------------------------------------------------------------------


def test_context_exposes_function_and_invocation_data(api, start):
    process = start({"app.py": """
        import os
        def handler(event, context):
            cc = context.client_context
            return {
                "function_name": context.function_name,
                "function_version": context.function_version,
                "invoked_function_arn": context.invoked_function_arn,
                "memory_limit_in_mb": context.memory_limit_in_mb,
                "aws_request_id": context.aws_request_id,
                "log_group_name": context.log_group_name,
                "log_stream_name": context.log_stream_name,
                "identity": [context.identity.cognito_identity_id, context.identity.cognito_identity_pool_id],
                "client": [cc.client.installation_id, cc.client.app_title, cc.custom, cc.env],
                "trace_env": os.environ.get("_X_AMZN_TRACE_ID"),
            }
    """})
    request_id = api.enqueue(
        {},
        trace_id="Root=1-abc;Sampled=1",
        client_context={"client": {"installation_id": "inst", "app_title": "app"}, "custom": {"k": "v"}, "env": {"e": 1}},
        cognito_identity={"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"},
    )
    assert api.wait_for_result(request_id, process).json() == {
        "function_name": "test-fn",
        "function_version": "$LATEST",
        "invoked_function_arn": DEFAULT_ARN,
        "memory_limit_in_mb": "256",  # a string on AWS too
        "aws_request_id": request_id,
        "log_group_name": "/aws/lambda/test-fn",
        "log_stream_name": "2024/01/01/[$LATEST]0123456789abcdef",
        "identity": ["id-1", "pool-1"],
        "client": ["inst", "app", {"k": "v"}, {"e": 1}],
        "trace_env": "Root=1-abc;Sampled=1",
    }


def test_context_without_optional_headers(api, start):
    process = start({"app.py": """
        import os
        def handler(event, context):
            return [context.client_context, context.identity.cognito_identity_id,
                    os.environ.get("_X_AMZN_TRACE_ID", "unset")]
    """})
    first = api.invoke({}, process=process, trace_id="Root=1-first").json()
    assert first == [None, None, "Root=1-first"]
    # The next invocation has no trace id: the variable must not leak from the previous one.
    assert api.invoke({}, process=process, trace_id=None).json() == [None, None, "unset"]


def test_remaining_time_counts_down_to_the_deadline_and_stops_at_zero(api, start):
    process = start({"app.py": """
        def handler(event, context):
            return context.get_remaining_time_in_millis()
    """})
    remaining = api.invoke({}, process=process, deadline_ms=int(time.time() * 1000) + 5000).json()
    assert 3000 < remaining <= 5000
    assert api.invoke({}, process=process, deadline_ms=int(time.time() * 1000) - 5000).json() == 0


# --- warm reuse ----------------------------------------------------------------------------


def test_warm_process_serves_invocations_over_one_connection(api, start):
    process = start({"app.py": """
        import os
        count = 0
        def handler(event, context):
            global count
            count += 1
            return [count, os.getpid(), event]
    """})
    results = [api.invoke({"n": n}, process=process).json() for n in range(3)]
    assert [r[0] for r in results] == [1, 2, 3]
    assert {r[1] for r in results} == {process.pid}
    assert [r[2] for r in results] == [{"n": 0}, {"n": 1}, {"n": 2}]
    api.wait_for_polls(4, process)  # the fourth GET /next is parked
    clients = {client for _, _, client in api.requests}
    assert len(clients) == 1, "the runtime should keep one keep-alive connection: %s" % api.requests


# --- handler errors -----------------------------------------------------------------------


def test_handler_exception_reports_type_message_and_user_frames(api, start, tmp_path):
    process = start({"app.py": """
        def handler(event, context):
            return helper(event)


        def helper(event):
            raise ValueError("boom")
    """})
    request_id = api.enqueue({})
    result = api.wait_for_result(request_id, process)
    app = str(tmp_path / "task" / "app.py")
    assert result.kind == "error"
    assert result.body == json.dumps(
        {
            "errorMessage": "boom",
            "errorType": "ValueError",
            "requestId": request_id,
            "stackTrace": [
                '  File "%s", line 2, in handler\n    return helper(event)\n' % app,
                '  File "%s", line 6, in helper\n    raise ValueError("boom")\n' % app,
            ],
        }
    ).encode()
    assert result.headers["lambda-runtime-function-error-type"] == "ValueError"
    nbsp = "\u00a0"
    assert process.stderr() == (
        "[ERROR] ValueError: boom\rTraceback (most recent call last):\r"
        + '%s%sFile "%s", line 2, in handler\r%sreturn helper(event)\r' % (nbsp, nbsp, app, nbsp * 4)
        + '%s%sFile "%s", line 6, in helper\r%sraise ValueError("boom")\n' % (nbsp, nbsp, app, nbsp * 4)
    )


def test_process_keeps_serving_after_a_handler_error(api, start):
    process = start({"app.py": """
        def handler(event, context):
            if event.get("fail"):
                raise KeyError("missing")
            return "ok"
    """})
    failed = api.invoke({"fail": True}, process=process).json()
    assert (failed["errorType"], failed["errorMessage"]) == ("KeyError", "'missing'")
    assert api.invoke({}, process=process).json() == "ok"


# --- init errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "files, handler, error_type, message",
    [
        ({}, "nope.handler", "Runtime.ImportModuleError", "Unable to import module 'nope': No module named 'nope'"),
        (
            {"app.py": "import not_installed_anywhere\n"},
            "app.handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'app': No module named 'not_installed_anywhere'",
        ),
        (
            {"app.py": "def handler(event, context):\n    pass\n"},
            "app.nope",
            "Runtime.HandlerNotFound",
            "Handler 'nope' missing on module 'app'",
        ),
        (
            {"app.py": "def handler(event, context):\n    pass\n"},
            "app",
            "Runtime.MalformedHandlerName",
            "Bad handler 'app': not enough values to unpack (expected 2, got 1)",
        ),
        ({}, "sys.handler", "Runtime.BuiltInModuleConflict", "Cannot use built-in module sys as a handler module"),
    ],
)
def test_init_error_is_posted_logged_and_exits_1(api, start, files, handler, error_type, message):
    process = start(files, handler=handler)
    error = api.wait_for_init_error(process)
    assert error.json() == {"errorMessage": message, "errorType": error_type, "requestId": "", "stackTrace": []}
    assert error.body == json.dumps(error.json()).encode()
    assert error.headers["lambda-runtime-function-error-type"] == error_type
    assert process.wait() == 1
    assert process.stderr() == "[ERROR] %s: %s\rTraceback (most recent call last):\n" % (error_type, message)
    assert re.fullmatch(r"\[WARNING\]\t%s\t\tLAMBDA_WARNING: Unhandled exception\. .*\n" % LOG_TIME, process.stdout())
    assert not [r for r in api.requests if r[0] == "GET"], "no invocation may be requested after an init error"


def test_syntax_error_is_user_code_syntax_error(api, start, tmp_path):
    process = start({"app.py": "def handler(event, context):\n    return 1 +\n"})
    error = api.wait_for_init_error(process).json()
    app = str(tmp_path / "task" / "app.py")
    assert error == {
        "errorMessage": "Syntax error in module 'app': invalid syntax (app.py, line 2)",
        "errorType": "Runtime.UserCodeSyntaxError",
        "requestId": "",
        "stackTrace": ['  File "%s" Line 2\n        return 1 +\n' % app],
    }
    assert process.wait() == 1


def test_exception_at_import_is_reported_with_its_own_type(api, start, tmp_path):
    process = start({"app.py": """
        x = 1
        raise RuntimeError("cannot start")
    """})
    error = api.wait_for_init_error(process).json()
    assert (error["errorType"], error["errorMessage"], error["requestId"]) == ("RuntimeError", "cannot start", "")
    assert error["stackTrace"][-1] == '  File "%s", line 2, in <module>\n    raise RuntimeError("cannot start")\n' % (
        tmp_path / "task" / "app.py"
    )
    assert not any("/runtimes/python3/bootstrap.py" in frame for frame in error["stackTrace"])
    assert process.wait() == 1


# --- handler names ------------------------------------------------------------------------


@pytest.mark.parametrize("handler", ["lib/app.handler", "lib.app.handler"])
def test_handler_in_a_subdirectory_or_package(api, start, handler):
    process = start({"lib/app.py": """
        def handler(event, context):
            return __name__
    """}, handler=handler)
    assert api.invoke({}, process=process).json() == "lib.app"


def test_task_root_comes_first_on_sys_path(api, start, tmp_path):
    process = start({"app.py": """
        import sys
        def handler(event, context):
            return sys.path[0]
    """})
    assert api.invoke({}, process=process).json() == str(tmp_path / "task")


# --- logging ------------------------------------------------------------------------------


def test_print_reaches_stdout_before_the_response_is_posted(api, start):
    process = start({"app.py": """
        import sys
        def handler(event, context):
            print("hello", event["who"])
            sys.stdout.write("no newline")
            return "ok"
    """})
    api.invoke({"who": "world"}, process=process)
    # The process is still running: nothing may be sitting in a buffer.
    assert process.stdout() == "hello world\nno newline"


def test_logging_records_are_formatted_like_aws(api, start):
    process = start({"app.py": """
        import logging
        logging.getLogger().warning("at init")
        logger = logging.getLogger()
        def handler(event, context):
            logger.setLevel(logging.INFO)
            logger.info("handling %s", event["n"])
            logging.getLogger("child").debug("filtered out")
            return "ok"
    """}, extra_env={"TZ": "EST+5"})  # timestamps must still be UTC
    request_id = api.enqueue({"n": 7})
    before = time.gmtime()
    api.wait_for_result(request_id, process)
    lines = process.stdout().split("\n")
    assert re.fullmatch(r"\[WARNING\]\t%s\t\tat init" % LOG_TIME, lines[0])
    assert re.fullmatch(r"\[INFO\]\t%s\t%s\thandling 7" % (LOG_TIME, request_id), lines[1])
    assert lines[2:] == [""]
    logged = time.strptime(lines[1].split("\t")[1][:19], "%Y-%m-%dT%H:%M:%S")
    assert abs(calendar.timegm(logged) - calendar.timegm(before)) < 120


def test_log_level_comes_from_aws_lambda_log_level(api, start):
    process = start({"app.py": """
        import logging
        def handler(event, context):
            logging.getLogger().debug("debug record")
            return logging.getLogger().level
    """}, extra_env={"AWS_LAMBDA_LOG_LEVEL": "debug"})
    assert api.invoke({}, process=process).json() == 10
    assert "\tdebug record\n" in process.stdout()


def test_runtime_does_not_import_logging_or_json_for_user_code(api, start):
    process = start({"app.py": """
        import sys
        def handler(event, context):
            return sorted(m for m in ("logging", "json", "re", "http.client", "socket", "traceback") if m in sys.modules)
    """})
    assert api.invoke({"a": 1}, process=process).json() == []


# --- the runtime itself -------------------------------------------------------------------


def test_unreachable_runtime_api_exits_non_zero_with_a_message(start):
    import socket

    with socket.socket() as unused:  # a port nobody listens on
        unused.bind(("127.0.0.1", 0))
        address = "127.0.0.1:%d" % unused.getsockname()[1]
        process = start({"app.py": "def handler(e, c):\n    pass\n"}, extra_env={"AWS_LAMBDA_RUNTIME_API": address})
        assert process.wait() == 1
    assert "haneul python runtime: fatal: ConnectionRefusedError" in process.stderr()
