"""bench/invoke_scale.sh's helper: fires N concurrent invokes at one function and reports the
wall time, the failures, and the memory (PSS) of the idle environments afterwards.

usage: invoke_scale_storm.py ENDPOINT FUNCTION N SLEEP_SECONDS
Prints one line: STORM_RESULT seconds=S ok=N failed=N environments=N pss_mb_per_env=X
"""

import concurrent.futures
import json
import os
import sys
import time
import urllib.error
import urllib.request


def invoke(url, body):
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as resp:
            resp.read()
            return resp.status == 200 and not resp.headers.get("X-Amz-Function-Error")
    except (urllib.error.URLError, OSError):
        return False


def environment_pss_kb(function):
    """PSS of every process whose environment names the function (sandboxed workers included:
    the host sees them in /proc), keyed by log stream (one per environment)."""
    marker = f"AWS_LAMBDA_FUNCTION_NAME={function}".encode()
    per_environment = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                variables = f.read().split(b"\0")
            if marker not in variables:
                continue
            stream = next((v for v in variables if v.startswith(b"AWS_LAMBDA_LOG_STREAM_NAME=")),
                          b"")
            with open(f"/proc/{entry}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        per_environment[stream] = per_environment.get(stream, 0) + int(line.split()[1])
        except OSError:
            continue
    return per_environment


def main():
    endpoint, function, n, sleep = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    url = f"{endpoint}/2015-03-31/functions/{function}/invocations"
    body = json.dumps({"sleep": sleep}).encode()
    began = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        results = list(pool.map(lambda _: invoke(url, body), range(n)))
    seconds = time.monotonic() - began
    pss = environment_pss_kb(function)
    per_env = (sum(pss.values()) / len(pss) / 1024) if pss else float("nan")
    print(f"STORM_RESULT seconds={seconds:.2f} ok={sum(results)} failed={n - sum(results)} "
          f"environments={len(pss)} pss_mb_per_env={per_env:.1f}")


if __name__ == "__main__":
    main()
