"""GET /metrics: Prometheus text with invocations, errors, throttles, duration histograms, cold
and warm starts, concurrency and async queue gauges, labelled by function and version."""

import json
import re
import urllib.request

import pytest
from botocore.exceptions import ClientError

from lambda_helpers import ROLE, make_lambda_client, make_zip

APP = """
def handler(event, context):
    if event.get("fail"):
        raise RuntimeError("no")
    return {"ok": True}
"""

SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def scrape(endpoint):
    with urllib.request.urlopen(endpoint + "/metrics", timeout=30) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = resp.read().decode()
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            assert line == "" or line.startswith(("# HELP ", "# TYPE ")), line
            continue
        m = SAMPLE_RE.match(line)
        assert m, f"not a Prometheus sample line: {line!r}"
        samples[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return samples


def test_metrics_count_invocations_by_function_and_version(server_factory):
    srv = server_factory()
    client = make_lambda_client(srv.endpoint)
    client.create_function(FunctionName="m", Runtime="python3.12", Role=ROLE,
                           Handler="app.handler", Code={"ZipFile": make_zip({"app.py": APP})})
    client.publish_version(FunctionName="m")
    for payload in ({}, {}, {"fail": True}):
        client.invoke(FunctionName="m", Payload=json.dumps(payload).encode())
    client.invoke(FunctionName="m", Qualifier="1", Payload=b"{}")
    client.put_function_concurrency(FunctionName="m", ReservedConcurrentExecutions=0)
    with pytest.raises(ClientError):
        client.invoke(FunctionName="m", Payload=b"{}")
    client.delete_function_concurrency(FunctionName="m")

    s = scrape(srv.endpoint)
    latest = '{function="m",version="$LATEST"}'
    v1 = '{function="m",version="1"}'
    assert s["haneul_lambda_invocations_total" + latest] == 3
    assert s["haneul_lambda_invocations_total" + v1] == 1
    assert s["haneul_lambda_errors_total" + latest] == 1
    assert s["haneul_lambda_throttles_total" + latest] == 1
    assert s["haneul_lambda_cold_starts_total" + latest] == 1
    assert s["haneul_lambda_warm_starts_total" + latest] == 2
    assert s["haneul_lambda_cold_starts_total" + v1] == 1
    assert s['haneul_lambda_duration_milliseconds_count' + latest] == 3
    assert s['haneul_lambda_duration_milliseconds_bucket{function="m",version="$LATEST",le="+Inf"}'] == 3
    assert s['haneul_lambda_init_duration_milliseconds_count' + latest] == 1
    assert s['haneul_lambda_init_duration_milliseconds_sum' + latest] > 0
    assert s['haneul_lambda_concurrent_executions{function="m"}'] == 0
    assert s["haneul_lambda_environments"] >= 2
    assert s["haneul_lambda_async_oldest_event_age_seconds"] == 0


def test_metrics_show_the_async_queue(server_factory):
    srv = server_factory()
    client = make_lambda_client(srv.endpoint)
    client.create_function(FunctionName="q", Runtime="python3.12", Role=ROLE,
                           Handler="app.handler", Code={"ZipFile": make_zip({"app.py": APP})})
    client.put_function_concurrency(FunctionName="q", ReservedConcurrentExecutions=0)
    for _ in range(3):
        client.invoke(FunctionName="q", InvocationType="Event", Payload=b"{}")
    s = scrape(srv.endpoint)
    assert s['haneul_lambda_async_queue_depth{function="q"}'] == 3
    assert s['haneul_lambda_async_events_accepted_total{function="q",version="$LATEST"}'] == 3
    assert s["haneul_lambda_async_oldest_event_age_seconds"] >= 0
    assert s['haneul_lambda_throttles_total{function="q",version="$LATEST"}'] >= 3


def test_idle_environments_are_frozen_then_reaped(server_factory):
    from lambda_helpers import poll
    srv = server_factory(args=["--keep-alive-seconds", "2"])
    client = make_lambda_client(srv.endpoint)
    client.create_function(FunctionName="idle", Runtime="python3.12", Role=ROLE,
                           Handler="app.handler", Code={"ZipFile": make_zip({"app.py": APP})})
    client.invoke(FunctionName="idle", Payload=b"{}")
    if srv.sandbox == "namespace":
        # The cgroup freezer stops an environment that stays idle; it thaws on reuse.
        assert poll(lambda: scrape(srv.endpoint)["haneul_lambda_environments_frozen"] == 1,
                    timeout=10)
        resp = client.invoke(FunctionName="idle", Payload=b"{}")
        assert json.loads(resp["Payload"].read()) == {"ok": True}
        s = scrape(srv.endpoint)
        assert s['haneul_lambda_warm_starts_total{function="idle",version="$LATEST"}'] == 1
    # After the keep-alive, the idle environment is gone.
    assert poll(lambda: scrape(srv.endpoint)["haneul_lambda_environments"] == 0, timeout=15)
