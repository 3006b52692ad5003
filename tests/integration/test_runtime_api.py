"""Runtimes that misbehave against the Runtime API: AWS's errors, and the server keeps serving."""

import json

from lambda_helpers import invoke

# A `provided` bootstrap in Debian's python3 that posts its answer twice and once for a request id
# that does not exist, and reports the status codes it got.
MISBEHAVING = r'''#!/usr/bin/python3
import http.client, json, os, sys
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
def call(method, path, body=None):
    c = http.client.HTTPConnection(api)
    c.request(method, "/2018-06-01/runtime" + path, body=body)
    r = c.getresponse()
    data = r.read()
    return r.status, data.decode()
while True:
    c = http.client.HTTPConnection(api)
    c.request("GET", "/2018-06-01/runtime/invocation/next")
    r = c.getresponse()
    rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
    r.read()
    wrong = call("POST", "/invocation/not-a-request/response", b'"wrong"')
    first = call("POST", "/invocation/%s/response" % rid, json.dumps({"wrong": wrong}).encode())
    second = call("POST", "/invocation/%s/response" % rid, b'"second"')
    init_late = call("POST", "/init/error", b"{}")
    print("second post:", json.dumps(second), flush=True)
    print("late init error:", json.dumps(init_late), flush=True)
'''

NEVER_READY = "#!/bin/sh\necho 'initialising forever'\nexec sleep 600\n"


def test_runtime_posting_twice_or_for_another_id(lambda_client, functions, logs_client):
    name = functions.create({"bootstrap": MISBEHAVING}, runtime="provided.al2023",
                            handler="x")["FunctionName"]
    inv = invoke(lambda_client, name, {"n": 1})
    assert inv.function_error is None, str(inv)
    status, body = inv.payload["wrong"]
    assert status == 400
    assert json.loads(body)["errorType"] == "InvalidRequestID"
    # The second invocation is served by the same environment, so the extra posts the runtime
    # made after the first answer were refused without harm.
    again = invoke(lambda_client, name, {"n": 2})
    assert again.function_error is None, str(again)
    assert again.payload["wrong"][0] == 400
    messages = [e["message"] for e in logs_client.filter_log_events(
        logGroupName="/aws/lambda/" + name)["events"]]
    seconds = [json.loads(m.split(": ", 1)[1]) for m in messages if m.startswith("second post:")]
    assert seconds, messages
    assert seconds[0][0] == 403, messages
    assert json.loads(seconds[0][1])["errorType"] == "InvalidStateTransition"
    late = [json.loads(m.split(": ", 1)[1]) for m in messages if m.startswith("late init error:")]
    assert late and late[0][0] == 403


def test_runtime_that_never_calls_next_times_out_init(lambda_client, functions, logs_client):
    name = functions.create({"bootstrap": NEVER_READY}, runtime="provided.al2023",
                            handler="x", Timeout=30)["FunctionName"]
    inv = invoke(lambda_client, name, {})
    assert inv.function_error == "Unhandled"
    assert inv.payload["errorType"] == "Sandbox.Timedout", inv.payload
    assert "Init phase timed out after 10.00 seconds" in inv.payload["errorMessage"]
    assert "initialising forever" in inv.log
    assert "INIT_REPORT Init Duration:" in inv.log and "Status: timeout" in inv.log
    # The server kept serving meanwhile.
    assert lambda_client.get_function(FunctionName=name)["Configuration"]["FunctionName"] == name
