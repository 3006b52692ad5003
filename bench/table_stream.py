#!/usr/bin/python3
"""bench/table_stream: end-to-end latency from PutItem to a function receiving the stream record
(through an event source mapping), beside the same function invoked directly (Invoke API) in the
same run. Both are measured the same way: the client notes the time just before its call, the
function notes the time it receives the event (same host clock), one request at a time.

  bench/table_stream.py [--quick] [--build-dir DIR]

Target (issue #11), reported, never asserted: stream p50 <= 10 ms. The functions run in the
process sandbox; the function appends "<id> <receipt ns>" lines to a file the bench reads.
Exits non-zero only when something could not run."""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

from lambda_helpers import make_zip  # noqa: E402

FUNCTION = r'''
import os, time
def handler(event, context):
    now = time.time_ns()
    ids = []
    for record in event.get("Records", []):
        ids.append(record["dynamodb"]["NewImage"]["id"]["S"])
    if "id" in event:
        ids.append(event["id"])
    with open(os.environ["OUT"], "a") as f:
        for i in ids:
            f.write(f"{i} {now}\n")
    return {}
'''


def client(service, endpoint):
    cfg = Config(retries={"max_attempts": 0}, read_timeout=60, connect_timeout=10)
    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test",
                                    region_name="us-east-1")
    return session.client(service, endpoint_url=endpoint, config=cfg)


class Receipts:
    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.seen = {}

    def wait(self, ident, timeout=10.0):
        deadline = time.monotonic() + timeout
        while ident not in self.seen:
            try:
                with open(self.path) as f:
                    f.seek(self.offset)
                    chunk = f.read()
            except FileNotFoundError:
                chunk = ""
            complete = chunk[:chunk.rfind("\n") + 1]
            self.offset += len(complete.encode())
            for line in complete.splitlines():
                i, t = line.split()
                self.seen[i] = int(t)
            if ident in self.seen:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{ident} never reached the function")
            time.sleep(0.0002)
        return self.seen[ident]


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100.0 * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    args = parser.parse_args()
    count = 30 if args.quick else 300
    binary = os.environ.get("HANEUL") or os.path.join(args.build_dir, "cli", "haneul")
    scratch = tempfile.mkdtemp(prefix="haneul-bench-stream-")
    log = open(os.path.join(scratch, "server.log"), "wb")
    proc = subprocess.Popen([binary, "serve", "--port", "0", "--data", os.path.join(scratch, "data"),
                             "--sandbox", "process", "--log-level", "warn"],
                            stdout=log, stderr=log, start_new_session=True)
    try:
        endpoint = None
        deadline = time.monotonic() + 30
        while endpoint is None:
            with open(os.path.join(scratch, "server.log"), "rb") as f:
                m = re.search(rb"listening on (http://[0-9.]+:\d+)", f.read())
            if m:
                endpoint = m.group(1).decode()
            elif proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("haneul serve did not start")
            else:
                time.sleep(0.02)
        lam, ddb = client("lambda", endpoint), client("dynamodb", endpoint)
        out = os.path.join(scratch, "receipts")
        lam.create_function(FunctionName="receiver", Runtime="python3.12",
                            Role="arn:aws:iam::000000000000:role/bench", Handler="app.handler",
                            Code={"ZipFile": make_zip({"app.py": FUNCTION})},
                            Environment={"Variables": {"OUT": out}})
        table = ddb.create_table(
            TableName="stream", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
        stream = table["TableDescription"].get("LatestStreamArn")
        if not stream:
            raise SystemExit("the table service has no streams (LatestStreamArn missing)")
        lam.create_event_source_mapping(FunctionName="receiver", EventSourceArn=stream,
                                        StartingPosition="LATEST", BatchSize=100)
        receipts = Receipts(out)
        # Warm up both paths (cold start, first connections).
        for i in range(5):
            ident = f"warm-{i}"
            ddb.put_item(TableName="stream", Item={"id": {"S": ident}})
            receipts.wait(ident, timeout=30)
            lam.invoke(FunctionName="receiver", Payload=json.dumps({"id": ident + "-d"}))
            receipts.wait(ident + "-d")
        stream_ms, direct_ms, put_ms = [], [], []
        for i in range(count):
            ident = uuid.uuid4().hex
            start = time.time_ns()
            ddb.put_item(TableName="stream", Item={"id": {"S": ident}})
            put_ms.append((time.time_ns() - start) / 1e6)
            stream_ms.append((receipts.wait(ident) - start) / 1e6)
            ident = uuid.uuid4().hex
            start = time.time_ns()
            lam.invoke(FunctionName="receiver", Payload=json.dumps({"id": ident}))
            direct_ms.append((receipts.wait(ident) - start) / 1e6)
        s50, s99 = percentile(stream_ms, 50), percentile(stream_ms, 99)
        d50, d99 = percentile(direct_ms, 50), percentile(direct_ms, 99)
        print(f"table_stream ({count} records, 1 at a time, boto3 client)")
        print(f"  PutItem -> function (event source mapping): p50 {s50:7.2f} ms  p99 {s99:7.2f} ms")
        print(f"  Invoke  -> function (direct, baseline):     p50 {d50:7.2f} ms  p99 {d99:7.2f} ms")
        p50, p99 = percentile(put_ms, 50), percentile(put_ms, 99)
        print(f"  PutItem answered (fsynced; the floor):      p50 {p50:7.2f} ms  p99 {p99:7.2f} ms")
        print(f"  ratio stream/direct p50 {s50 / d50:.2f}x; target p50 <= 10 ms: "
              f"{'met' if s50 <= 10 else 'NOT met'}")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
        if not os.environ.get("HANEUL_BENCH_KEEP"):
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
