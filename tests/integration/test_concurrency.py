"""Concurrency as Lambda counts it: real parallelism across environments, reserved concurrency
(Put/Get/DeleteFunctionConcurrency), the account limit, GetAccountSettings, and Lambda's 429
TooManyRequestsException with its Reason."""

import concurrent.futures
import json
import re
import time

import pytest
from botocore.exceptions import ClientError

from lambda_helpers import make_lambda_client, make_zip

SLEEPER = """
import time
def handler(event, context):
    start = time.time()
    time.sleep(event.get("sleep", 0.2))
    return {"start": start, "end": time.time()}
"""


def parallel_client(endpoint, n):
    return make_lambda_client(endpoint, max_pool_connections=n)


def fire(client, name, n, payload, **kwargs):
    """n concurrent invokes; returns a list of (payload dict | ClientError)."""
    body = json.dumps(payload).encode()

    def one(_):
        try:
            resp = client.invoke(FunctionName=name, Payload=body, **kwargs)
            assert resp.get("FunctionError") is None, resp["Payload"].read()
            return json.loads(resp["Payload"].read())
        except ClientError as e:
            return e

    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


def max_overlap(results):
    """The largest number of invocations that ran at the same moment."""
    events = []
    for r in results:
        events.append((r["start"], 1))
        events.append((r["end"], -1))
    running = peak = 0
    for _, delta in sorted(events, key=lambda e: (e[0], e[1])):
        running += delta
        peak = max(peak, running)
    return peak


def assert_throttle(error, reason):
    resp = error.response
    assert resp["Error"]["Code"] == "TooManyRequestsException", resp
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert resp["Error"]["Message"] == "Rate Exceeded."
    assert resp["Reason"] == reason, resp
    assert resp["retryAfterSeconds"], resp


@pytest.fixture
def big_server(server_factory):
    # 200 environments of one vCPU each (1769 MB, as Lambda sizes CPU by memory; at 128 MB each
    # would get 7% of a CPU and 200 of them starve on this 2-core host) are more than this host's
    # default memory budget, which counts MemorySize.
    return server_factory(args=["--memory-budget-mb", "1048576"])


def test_two_hundred_concurrent_invokes_run_in_parallel(big_server):
    client = parallel_client(big_server.endpoint, 200)
    client.create_function(FunctionName="sleeper", Runtime="python3.12",
                           Role="arn:aws:iam::000000000000:role/r", Handler="app.handler",
                           Code={"ZipFile": make_zip({"app.py": SLEEPER})},
                           MemorySize=1769, Timeout=60)
    # Rounds until 200 environments exist: the first ones end before the last start, so one
    # round may reuse some and the next starts the rest.
    for _ in range(3):
        began = time.monotonic()
        rounds = fire(client, "sleeper", 200, {"sleep": 0.2})
        print(f"200 concurrent invokes: {time.monotonic() - began:.2f} s")
        assert all(isinstance(r, dict) for r in rounds), \
            [r for r in rounds if not isinstance(r, dict)][:3]
    # Measured: 200 warm environments.
    began = time.monotonic()
    warm = fire(client, "sleeper", 200, {"sleep": 0.2})
    elapsed = time.monotonic() - began
    print(f"200 concurrent warm invokes: {elapsed:.2f} s, peak overlap {max_overlap(warm)}")
    assert all(isinstance(r, dict) for r in warm)
    serial = 200 * 0.2
    assert elapsed < serial / 4, f"200 x 200 ms took {elapsed:.1f} s (serial: {serial:.0f} s)"
    assert max_overlap(warm) > 20


def test_reserved_concurrency_throttles_with_its_reason(functions, lambda_client, endpoint):
    name = functions.unique("reserved")
    functions.create({"app.py": SLEEPER}, name=name)
    put = lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=5)
    assert put["ReservedConcurrentExecutions"] == 5
    got = lambda_client.get_function_concurrency(FunctionName=name)
    assert got["ReservedConcurrentExecutions"] == 5
    assert lambda_client.get_function(FunctionName=name)["Concurrency"] == {
        "ReservedConcurrentExecutions": 5}
    client = parallel_client(endpoint, 50)
    results = fire(client, name, 50, {"sleep": 1.5})
    ok = [r for r in results if isinstance(r, dict)]
    throttled = [r for r in results if not isinstance(r, dict)]
    for error in throttled:
        assert_throttle(error, "ReservedFunctionConcurrentInvocationLimitExceeded")
    assert len(ok) >= 5 and throttled, (len(ok), len(throttled))
    assert max_overlap(ok) <= 5
    lambda_client.delete_function_concurrency(FunctionName=name)
    resp = lambda_client.get_function_concurrency(FunctionName=name)
    assert "ReservedConcurrentExecutions" not in resp


def test_zero_reserved_throttles_everything(functions, lambda_client):
    name = functions.unique("off")
    functions.create({"app.py": SLEEPER}, name=name)
    lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    with pytest.raises(ClientError) as e:
        lambda_client.invoke(FunctionName=name, Payload=b"{}")
    assert_throttle(e.value, "ReservedFunctionConcurrentInvocationLimitExceeded")
    lambda_client.delete_function_concurrency(FunctionName=name)
    resp = lambda_client.invoke(FunctionName=name, Payload=b'{"sleep": 0}')
    assert resp["StatusCode"] == 200


def test_reservation_bad_input(functions, lambda_client, raw_lambda_client):
    name = functions.unique("bad")
    functions.create({"app.py": SLEEPER}, name=name)
    with pytest.raises(ClientError) as e:
        lambda_client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=901)
    err = e.value.response["Error"]
    assert err["Code"] == "InvalidParameterValueException"
    assert err["Message"] == (
        "Specified ReservedConcurrentExecutions for function decreases account's "
        "UnreservedConcurrentExecution below its minimum value of [100].")
    with pytest.raises(ClientError) as e:
        raw_lambda_client.put_function_concurrency(FunctionName=name,
                                                   ReservedConcurrentExecutions=-1)
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as e:
        raw_lambda_client.put_function_concurrency(FunctionName=name,
                                                   ReservedConcurrentExecutions="many")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as e:
        lambda_client.put_function_concurrency(FunctionName="no-such-fn",
                                               ReservedConcurrentExecutions=1)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_account_settings_and_cli(functions, lambda_client, aws):
    name = functions.unique("acct")
    functions.create({"app.py": SLEEPER}, name=name)
    before = lambda_client.get_account_settings()
    assert before["AccountLimit"]["ConcurrentExecutions"] == 1000
    assert before["AccountUsage"]["FunctionCount"] >= 1
    aws("lambda", "put-function-concurrency", "--function-name", name,
        "--reserved-concurrent-executions", "50")
    after = aws("lambda", "get-account-settings").json
    assert (after["AccountLimit"]["UnreservedConcurrentExecutions"]
            == before["AccountLimit"]["UnreservedConcurrentExecutions"] - 50)
    got = aws("lambda", "get-function-concurrency", "--function-name", name).json
    assert got == {"ReservedConcurrentExecutions": 50}
    aws("lambda", "delete-function-concurrency", "--function-name", name)


def test_account_limit_throttles(server_factory):
    srv = server_factory(args=["--account-concurrency", "3"])
    client = parallel_client(srv.endpoint, 12)
    client.create_function(FunctionName="busy", Runtime="python3.12",
                           Role="arn:aws:iam::000000000000:role/r", Handler="app.handler",
                           Code={"ZipFile": make_zip({"app.py": SLEEPER})})
    assert client.get_account_settings()["AccountLimit"]["ConcurrentExecutions"] == 3
    results = fire(client, "busy", 12, {"sleep": 1.5})
    ok = [r for r in results if isinstance(r, dict)]
    throttled = [r for r in results if not isinstance(r, dict)]
    assert ok and throttled
    for error in throttled:
        assert_throttle(error, "ConcurrentInvocationLimitExceeded")
    assert max_overlap(ok) <= 3
    # Below the minimum unreserved, nothing can be reserved.
    with pytest.raises(ClientError) as e:
        client.put_function_concurrency(FunctionName="busy", ReservedConcurrentExecutions=1)
    assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_provisioned_environments_answer_without_init_duration(functions, lambda_client):
    from lambda_helpers import assert_log_frame, invoke, poll
    name = functions.unique("prov")
    functions.create({"app.py": SLEEPER}, name=name)
    lambda_client.publish_version(FunctionName=name)
    with pytest.raises(ClientError) as e:
        lambda_client.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier="$LATEST", ProvisionedConcurrentExecutions=1)
    assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as e:
        lambda_client.get_provisioned_concurrency_config(FunctionName=name, Qualifier="1")
    assert e.value.response["Error"]["Code"] == "ProvisionedConcurrencyConfigNotFoundException"
    put = lambda_client.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=2)
    assert put["RequestedProvisionedConcurrentExecutions"] == 2
    assert put["Status"] in ("IN_PROGRESS", "READY")
    ready = poll(lambda: lambda_client.get_provisioned_concurrency_config(
        FunctionName=name, Qualifier="1")["Status"] == "READY", timeout=30)
    assert ready
    got = lambda_client.get_provisioned_concurrency_config(FunctionName=name, Qualifier="1")
    assert got["AvailableProvisionedConcurrentExecutions"] == 2
    for _ in range(2):
        out = invoke(lambda_client, name, {"sleep": 0}, Qualifier="1")
        assert_log_frame(out, version="1", cold=False)
    listed = lambda_client.list_provisioned_concurrency_configs(FunctionName=name)
    assert [c["FunctionArn"].rsplit(":", 1)[1]
            for c in listed["ProvisionedConcurrencyConfigs"]] == ["1"]
    lambda_client.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="1")
    with pytest.raises(ClientError) as e:
        lambda_client.get_provisioned_concurrency_config(FunctionName=name, Qualifier="1")
    assert e.value.response["Error"]["Code"] == "ProvisionedConcurrencyConfigNotFoundException"


def test_memory_budget_evicts_idle_then_throttles(server_factory):
    srv = server_factory(args=["--memory-budget-mb", "256"])
    client = parallel_client(srv.endpoint, 4)
    for name in ("first", "second"):
        client.create_function(FunctionName=name, Runtime="python3.12",
                               Role="arn:aws:iam::000000000000:role/r", Handler="app.handler",
                               Code={"ZipFile": make_zip({"app.py": SLEEPER})}, MemorySize=128)
    client.invoke(FunctionName="first", Payload=b'{"sleep": 0}')
    # Two environments of "second" fit only once the idle one of "first" is evicted.
    results = fire(client, "second", 2, {"sleep": 1.0})
    assert all(isinstance(r, dict) for r in results), results
    # A third at the same time has no room: throttled rather than over budget.
    results = fire(client, "second", 3, {"sleep": 1.0})
    throttled = [r for r in results if not isinstance(r, dict)]
    assert len(throttled) >= 1
    for error in throttled:
        assert_throttle(error, "ConcurrentInvocationLimitExceeded")


def test_prewarm_starts_an_environment_at_create(server_factory):
    from lambda_helpers import assert_log_frame, invoke, poll
    import urllib.request
    srv = server_factory(args=["--prewarm"])
    client = make_lambda_client(srv.endpoint)
    client.create_function(FunctionName="warm", Runtime="python3.12",
                           Role="arn:aws:iam::000000000000:role/r", Handler="app.handler",
                           Code={"ZipFile": make_zip({"app.py": SLEEPER})})

    def environments():
        with urllib.request.urlopen(srv.endpoint + "/metrics", timeout=30) as resp:
            text = resp.read().decode()
        return re.search(r"^haneul_lambda_environments (\d+)$", text, re.M).group(1) == "1"

    assert poll(environments, timeout=15)
    out = invoke(client, "warm", {"sleep": 0})
    assert_log_frame(out, cold=False)
