"""The web console end to end in headless Chromium (Debian's `chromium`, driven by playwright-core
from npm): function list, saved test event, Test button with its result and REPORT figures, a
malformed event refused inline, live logs, and a chart drawn from real invocations. Screenshots
of each page are kept in $HANEUL_ARTIFACTS_DIR/console (or the test's temporary folder)."""

import json
import os
import shutil
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
CHROMIUM = "/usr/bin/chromium"


def test_console_end_to_end(server, lambda_client, functions, tmp_path):
    if not os.path.exists(CHROMIUM):
        pytest.fail("chromium is not installed (scripts/install-deps.sh installs it)")
    name = functions.create({"app.py": (
        "def handler(event, context):\n"
        "    print('console says', event.get('name'))\n"
        "    return {'hello': event.get('name')}\n")})["FunctionName"]
    shots = os.path.join(os.environ.get("HANEUL_ARTIFACTS_DIR", str(tmp_path)), "console")
    os.makedirs(shots, exist_ok=True)
    proc = subprocess.run(["node", os.path.join(HERE, "console_e2e.js"), server.endpoint, name, shots],
                          capture_output=True, text=True, timeout=240, cwd=HERE)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert "failure" not in report, report.get("failure")
    assert report["listed"] >= 1
    assert report["saved"] == 1 and report["savedAfterReload"] == 1
    assert report["status"] == "Execution succeeded"
    assert json.loads(report["payload"]) == {"hello": "console"}
    assert report["duration"].endswith(" ms") and report["billed"].endswith(" ms"), report
    assert report["memoryUsed"].endswith(" MB")
    assert report["initDuration"].endswith(" ms"), "the first invocation is a cold start"
    assert "console says console" in report["logTail"] and "REPORT RequestId" in report["logTail"]
    assert "not valid JSON" in report["malformedMessage"] and report["malformedClass"] == "error"
    assert report["sentForMalformed"] == 0
    assert "console says console" in report["logs"]
    assert report["chartPoints"] >= 2 and report["chartLatest"] > 0
    assert "ResourceNotFoundException" in report["missingFunction"]
    assert report["pageErrors"] == []
    for shot in ("functions", "test", "malformed", "logs", "metrics"):
        assert os.path.getsize(os.path.join(shots, f"{shot}.png")) > 1000
