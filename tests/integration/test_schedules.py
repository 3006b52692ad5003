"""Scheduled rules (EventBridge `events` API via boto3) invoke Lambda functions with
EventBridge's scheduled-event shape. Time is injected: the server runs with
`--test-clock-file`, and the tests move "now" by rewriting that file (the scheduler re-reads it
every 100 ms), so nothing sleeps for minutes. Functions run in the process sandbox and append
each event they receive to a file, which the tests read."""

import calendar
import json
import os
import subprocess
import time
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import HaneulServer
from lambda_helpers import REGION, ROLE, function_arn, haneul_bin, make_lambda_client, make_zip, poll

RECORDER = r'''
import json, os
def handler(event, context):
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps(event) + "\n")
    return {}
'''


def epoch_ms(text):
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%S")) * 1000


class Clock:
    def __init__(self, path):
        self.path = path

    def set(self, text):
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(epoch_ms(text)))
        os.replace(tmp, self.path)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    base = tmp_path_factory.mktemp("schedules")
    clock = Clock(str(base / "clock"))
    clock.set("2024-01-01T11:58:00")
    srv = HaneulServer(str(base / "data"), str(base / "server.log"),
                       ["--sandbox", "process", "--test-clock-file", clock.path,
                        "--async-retry-delay-ms", "100"])
    srv.start()
    yield {"server": srv, "clock": clock, "base": base}
    srv.stop()


def events_client(endpoint):
    cfg = Config(retries={"max_attempts": 0}, read_timeout=30, connect_timeout=10)
    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test",
                                    region_name=REGION)
    return session.client("events", endpoint_url=endpoint, config=cfg)


def make_recorder(endpoint, out_path):
    client = make_lambda_client(endpoint)
    name = "sched-" + uuid.uuid4().hex[:10]
    client.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE,
                           Handler="app.handler", Code={"ZipFile": make_zip({"app.py": RECORDER})},
                           Environment={"Variables": {"OUT": out_path}})
    return name


def received(path):
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def test_cron_rule_delivers_the_scheduled_event_once(env):
    srv, clock = env["server"], env["clock"]
    events = events_client(srv.endpoint)
    out = str(env["base"] / ("cron-" + uuid.uuid4().hex[:6]))
    name = make_recorder(srv.endpoint, out)
    rule = "noon-" + uuid.uuid4().hex[:6]
    arn = events.put_rule(Name=rule, ScheduleExpression="cron(0 12 * * ? *)")["RuleArn"]
    assert arn == f"arn:aws:events:{REGION}:000000000000:rule/{rule}"
    resp = events.put_targets(Rule=rule, Targets=[{"Id": "fn", "Arn": function_arn(name)}])
    assert resp["FailedEntryCount"] == 0
    described = events.describe_rule(Name=rule)
    assert described["ScheduleExpression"] == "cron(0 12 * * ? *)"
    assert described["State"] == "ENABLED"
    assert described["Arn"] == arn
    assert events.list_targets_by_rule(Rule=rule)["Targets"] == [
        {"Id": "fn", "Arn": function_arn(name)}]

    clock.set("2024-01-01T12:00:20")
    got = poll(lambda: received(out), timeout=20, interval=0.1)
    assert len(got) == 1, got
    event = got[0]
    assert event["version"] == "0"
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["account"] == "000000000000"
    assert event["region"] == REGION
    assert event["time"] == "2024-01-01T12:00:00Z"
    assert event["resources"] == [arn]
    assert event["detail"] == {}
    assert len(event["id"]) == 36
    # Still noon: the same firing is not delivered again (the scheduler re-checks every 100 ms).
    clock.set("2024-01-01T12:00:50")
    assert not poll(lambda: len(received(out)) > 1, timeout=1.0, interval=0.1)

    events.disable_rule(Name=rule)
    clock.set("2024-01-02T12:00:10")
    assert not poll(lambda: len(received(out)) > 1, timeout=1.0, interval=0.1)
    events.remove_targets(Rule=rule, Ids=["fn"])
    events.delete_rule(Name=rule)
    with pytest.raises(ClientError) as err:
        events.describe_rule(Name=rule)
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_rate_rule_with_constant_input(env):
    srv, clock = env["server"], env["clock"]
    clock.set("2024-02-01T00:00:00")
    events = events_client(srv.endpoint)
    out = str(env["base"] / ("rate-" + uuid.uuid4().hex[:6]))
    name = make_recorder(srv.endpoint, out)
    rule = "every5-" + uuid.uuid4().hex[:6]
    events.put_rule(Name=rule, ScheduleExpression="rate(5 minutes)")
    events.put_targets(Rule=rule, Targets=[{"Id": "fn", "Arn": function_arn(name),
                                            "Input": json.dumps({"job": "cleanup"})}])
    clock.set("2024-02-01T00:05:01")
    got = poll(lambda: received(out), timeout=20, interval=0.1)
    assert got == [{"job": "cleanup"}]
    clock.set("2024-02-01T00:10:01")
    got = poll(lambda: len(received(out)) == 2 and received(out), timeout=20, interval=0.1)
    assert got == [{"job": "cleanup"}, {"job": "cleanup"}]
    events.remove_targets(Rule=rule, Ids=["fn"])
    events.delete_rule(Name=rule)


def test_missed_firings_are_delivered_at_most_once_after_a_restart(tmp_path):
    clock = Clock(str(tmp_path / "clock"))
    clock.set("2024-03-01T00:00:00")
    args = ["--sandbox", "process", "--test-clock-file", clock.path, "--async-retry-delay-ms", "100"]
    data = str(tmp_path / "data")
    srv = HaneulServer(data, str(tmp_path / "server.log"), args).start()
    try:
        events = events_client(srv.endpoint)
        out = str(tmp_path / "out")
        name = make_recorder(srv.endpoint, out)
        events.put_rule(Name="minutely", ScheduleExpression="rate(1 minute)")
        events.put_targets(Rule="minutely", Targets=[{"Id": "fn", "Arn": function_arn(name)}])
        clock.set("2024-03-01T00:01:00")
        assert poll(lambda: len(received(out)) == 1, timeout=20, interval=0.1)
    finally:
        srv.stop()
    # Down for an hour: 59 firings missed; one (the latest) is delivered on start, not 59.
    clock.set("2024-03-01T01:00:30")
    srv = HaneulServer(data, str(tmp_path / "server.log"), args).start()
    try:
        got = poll(lambda: len(received(out)) >= 2 and received(out), timeout=20, interval=0.1)
        assert got and got[1]["time"] == "2024-03-01T01:00:00Z", got
        assert not poll(lambda: len(received(out)) > 2, timeout=1.0, interval=0.1)
    finally:
        srv.stop()


def test_errors_are_eventbridges(env):
    events = events_client(env["server"].endpoint)
    for expression in ["rate(1 minutes)", "rate(5 minute)", "cron(0 12 * * * *)",
                       "cron(0 12 * *)", "rate(0 minutes)"]:
        with pytest.raises(ClientError) as err:
            events.put_rule(Name="bad", ScheduleExpression=expression)
        assert err.value.response["Error"]["Code"] == "ValidationException", expression
        assert err.value.response["Error"]["Message"] == "Parameter ScheduleExpression is not valid."
    with pytest.raises(ClientError) as err:
        events.put_rule(Name="nothing")
    assert err.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as err:
        events.enable_rule(Name="no-such-rule")
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert err.value.response["Error"]["Message"] == "Rule no-such-rule does not exist on EventBus default."
    events.put_rule(Name="busy", ScheduleExpression="rate(1 day)")
    events.put_targets(Rule="busy", Targets=[{"Id": "a", "Arn": function_arn("whatever")}])
    with pytest.raises(ClientError) as err:
        events.delete_rule(Name="busy")
    assert err.value.response["Error"]["Message"] == "Rule can't be deleted since it has targets."
    too_many = [{"Id": f"t{i}", "Arn": function_arn("whatever")} for i in range(6)]
    with pytest.raises(ClientError) as err:
        events.put_targets(Rule="busy", Targets=too_many)
    assert err.value.response["Error"]["Code"] == "LimitExceededException"
    events.remove_targets(Rule="busy", Ids=["a"])
    events.delete_rule(Name="busy")


def test_list_rules_pages_with_prefix(env):
    events = events_client(env["server"].endpoint)
    prefix = "page-" + uuid.uuid4().hex[:6]
    for i in range(5):
        events.put_rule(Name=f"{prefix}-{i}", ScheduleExpression="rate(1 day)", State="DISABLED",
                        Description=f"rule {i}")
    first = events.list_rules(NamePrefix=prefix, Limit=3)
    assert [r["Name"] for r in first["Rules"]] == [f"{prefix}-{i}" for i in range(3)]
    assert first["Rules"][0]["State"] == "DISABLED"
    assert first["Rules"][0]["Description"] == "rule 0"
    second = events.list_rules(NamePrefix=prefix, Limit=3, NextToken=first["NextToken"])
    assert [r["Name"] for r in second["Rules"]] == [f"{prefix}-3", f"{prefix}-4"]
    assert "NextToken" not in second
    for i in range(5):
        events.delete_rule(Name=f"{prefix}-{i}")


def test_haneul_schedules_cli(env):
    srv = env["server"]
    name = make_recorder(srv.endpoint, str(env["base"] / "cli-unused"))
    rule = "cli-" + uuid.uuid4().hex[:6]

    def cli(*args):
        return subprocess.run([haneul_bin(), "schedules", *args, "--endpoint", srv.endpoint],
                              capture_output=True, text=True, timeout=30)

    put = cli("put", rule, "--schedule", "rate(1 hour)", "--function", name, "--input", '{"a":1}')
    assert put.returncode == 0, put.stderr
    assert put.stdout.strip() == f"arn:aws:events:{REGION}:000000000000:rule/{rule}"
    listed = cli("list")
    assert listed.returncode == 0, listed.stderr
    assert f"{rule}\tENABLED\trate(1 hour)\t{function_arn(name)}" in listed.stdout.splitlines()
    bad = cli("put", rule + "x", "--schedule", "rate(1 hours)", "--function", name)
    assert bad.returncode == 1
    assert "ValidationException: Parameter ScheduleExpression is not valid." in bad.stderr
    deleted = cli("delete", rule)
    assert deleted.returncode == 0, deleted.stderr
    assert rule not in cli("list").stdout
    assert cli("frobnicate").returncode == 2


def test_awscli_manages_rules(aws):
    rule = "awscli-" + uuid.uuid4().hex[:6]
    put = aws("events", "put-rule", "--name", rule, "--schedule-expression", "cron(0 3 ? * MON-FRI *)",
              "--state", "DISABLED").json
    assert put["RuleArn"].endswith(":rule/" + rule)
    described = aws("events", "describe-rule", "--name", rule).json
    assert described["State"] == "DISABLED"
    assert described["ScheduleExpression"] == "cron(0 3 ? * MON-FRI *)"
    bad = aws("events", "put-rule", "--name", rule, "--schedule-expression", "cron(0 3 * * * *)",
              check=False)
    assert bad.rc != 0 and "Parameter ScheduleExpression is not valid." in bad.stderr
    aws("events", "delete-rule", "--name", rule)
