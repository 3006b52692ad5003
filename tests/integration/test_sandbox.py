"""The namespace sandbox: real limits, and an escape battery in which every attempt is refused.

Runs only when the server chose the namespace backend (root on Linux with cgroups); otherwise
each test is skipped and says why."""

import os

import pytest

from lambda_helpers import invoke, poll

PROBE = r'''
import ctypes, errno, os, resource, socket, subprocess, sys, time

libc = ctypes.CDLL(None, use_errno=True)

def attempt(fn):
    try:
        result = fn()
        return {"ok": True, "result": repr(result)[:200]}
    except OSError as e:
        return {"ok": False, "errno": errno.errorcode.get(e.errno, str(e.errno))}
    except Exception as e:
        return {"ok": False, "error": type(e).__name__ + ": " + str(e)[:200]}

def libc_call(name, *args):
    def call():
        rc = getattr(libc, name)(*args)
        if rc != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
        return rc
    return call

def connect(port):
    def call():
        s = socket.create_connection(("127.0.0.1", port), timeout=1)
        s.close()
    return call

def handler(event, context):
    action = event.get("action")
    if action == "escape":
        return {
            "uid": os.getuid(), "gid": os.getgid(), "pid": os.getpid(),
            "proc_pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
            "shadow": attempt(lambda: open("/etc/shadow").read()),
            "host_root_file": attempt(lambda: open(event["host_file"]).read()),
            "mount": attempt(libc_call("mount", b"tmpfs", b"/tmp", b"tmpfs", 0, None)),
            "unshare": attempt(libc_call("unshare", 0x00020000)),
            "ptrace": attempt(libc_call("ptrace", 16, 1, None, None)),
            "setuid0": attempt(lambda: os.setuid(0)),
            "write_task": attempt(lambda: open("/var/task/evil", "w").write("x")),
            "write_root": attempt(lambda: open("/evil", "w").write("x")),
            "raise_nofile": attempt(lambda: resource.setrlimit(
                resource.RLIMIT_NOFILE, (1 << 20, 1 << 20))),
            "host_port": attempt(connect(event["host_port"])),
            "own_runtime_api": os.environ["AWS_LAMBDA_RUNTIME_API"],
            "capeff": [l for l in open("/proc/self/status") if l.startswith("CapEff")][0].split()[1],
        }
    if action == "allocate":
        blob = bytearray(event["mb"] << 20)
        for i in range(0, len(blob), 4096):
            blob[i] = 1
        return {"allocated": event["mb"]}
    if action == "forkbomb":
        children = 0
        try:
            while children < 5000:
                pid = os.fork()
                if pid == 0:
                    time.sleep(30)
                    os._exit(0)
                children += 1
        except OSError as e:
            return {"children": children, "stopped_by": errno.errorcode.get(e.errno)}
        return {"children": children, "stopped_by": None}
    if action == "fill_tmp":
        written = 0
        try:
            with open("/tmp/fill", "wb") as f:
                chunk = b"x" * (1 << 20)
                while written < event["mb"]:
                    f.write(chunk)
                    f.flush()
                    written += 1
        except OSError as e:
            return {"written_mb": written, "error": errno.errorcode.get(e.errno)}
        return {"written_mb": written, "error": None}
    if action == "grandchild":
        subprocess.Popen(["/bin/sh", "-c", "sleep 300 & sleep 300"],
                         env={"MARK": event["mark"]}, start_new_session=True)
        time.sleep(60)
    return {}
'''


@pytest.fixture(scope="module")
def namespace_only(server):
    if server.sandbox != "namespace":
        pytest.skip(f"the server runs the {server.sandbox} sandbox (namespace needs root and "
                    "cgroups); these tests check the namespace backend's limits")


@pytest.fixture
def probe(lambda_client, functions, namespace_only):
    def create(**kwargs):
        return functions.create({"app.py": PROBE}, **kwargs)["FunctionName"]
    return create


def test_escape_battery_is_refused(lambda_client, probe, server, tmp_path):
    host_file = tmp_path / "host-secret.txt"
    host_file.write_text("secret")
    name = probe()
    inv = invoke(lambda_client, name, {"action": "escape", "host_file": str(host_file),
                                       "host_port": server.port})
    assert inv.function_error is None, str(inv)
    r = inv.payload
    assert r["uid"] != 0 and r["gid"] != 0
    assert r["pid"] == 1, "the runtime is init of its own pid namespace"
    assert r["proc_pids"] == [1], f"host processes visible: {r['proc_pids']}"
    for attempt in ("shadow", "host_root_file", "mount", "unshare", "ptrace", "setuid0",
                    "write_task", "write_root", "raise_nofile", "host_port"):
        assert r[attempt]["ok"] is False, f"{attempt} was allowed: {r[attempt]}"
    assert r["mount"]["errno"] == "EPERM"
    assert r["unshare"]["errno"] == "EPERM"
    assert r["ptrace"]["errno"] == "EPERM"
    assert r["setuid0"]["errno"] == "EPERM"
    assert r["write_task"]["errno"] in ("EROFS", "EACCES")
    assert r["host_port"]["errno"] == "ECONNREFUSED", "the host's ports are unreachable"
    assert r["own_runtime_api"] == "127.0.0.1:9001"
    assert int(r["capeff"], 16) == 0


def test_host_network_is_opt_in(server_factory, namespace_only, tmp_path):
    """--sandbox-network host: the function reaches host ports (here the server's own endpoint),
    and its Runtime API is on a free host port instead of 9001."""
    from lambda_helpers import make_lambda_client, make_zip, ROLE
    srv = server_factory(data_dir=str(tmp_path / "hostnet"), args=["--sandbox-network", "host"])
    client = make_lambda_client(srv.endpoint)
    client.create_function(FunctionName="hostnet", Runtime="python3.11", Role=ROLE,
                           Handler="app.handler", Code={"ZipFile": make_zip({"app.py": PROBE})})
    inv = invoke(client, "hostnet", {"action": "escape", "host_file": "/nonexistent",
                                     "host_port": srv.port})
    assert inv.function_error is None, str(inv)
    r = inv.payload
    assert r["host_port"]["ok"] is True, r["host_port"]
    assert r["own_runtime_api"] != "127.0.0.1:9001"
    # Every other protection stays.
    for attempt in ("shadow", "mount", "unshare", "ptrace", "setuid0", "write_task"):
        assert r[attempt]["ok"] is False, f"{attempt} was allowed: {r[attempt]}"


def _slot_tasks(server_pid):
    """The tasks in the pids-cgroups of a server's environments (cgroup v1 or v2)."""
    tasks = set()
    for base in ("/sys/fs/cgroup/pids/haneul", "/sys/fs/cgroup/haneul"):
        if not os.path.isdir(base):
            continue
        for name in os.listdir(base):
            if name.startswith(f"slot-{server_pid}-"):
                try:
                    with open(os.path.join(base, name, "cgroup.procs")) as f:
                        tasks.update(int(line) for line in f if line.strip())
                except OSError:
                    pass
    return tasks


def test_sigkilled_server_leaves_no_worker_running(server_factory, namespace_only, tmp_path):
    """Workers die with the server even when it is SIGKILLed (no orderly stop)."""
    from lambda_helpers import make_lambda_client, make_zip, ROLE
    srv = server_factory(data_dir=str(tmp_path / "killed"))
    client = make_lambda_client(srv.endpoint)
    client.create_function(FunctionName="orphan", Runtime="python3.11", Role=ROLE,
                           Handler="app.handler", Code={"ZipFile": make_zip({"app.py": PROBE})})
    assert invoke(client, "orphan", {}).function_error is None
    server_pid = srv.proc.pid
    workers = _slot_tasks(server_pid)
    assert workers, "the warm environment's worker (and the waiting slots) should be listed"
    srv.proc.kill()
    srv.proc.wait(10)
    def running(pid):
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False
    gone = poll(lambda: not any(running(pid) for pid in workers), timeout=10)
    assert gone, f"workers still running after the server's SIGKILL: {sorted(workers)}"


def test_memory_limit_ends_the_invocation_with_out_of_memory(lambda_client, probe):
    name = probe(MemorySize=128)
    inv = invoke(lambda_client, name, {"action": "allocate", "mb": 400})
    assert inv.function_error == "Unhandled"
    assert inv.payload["errorType"] == "Runtime.OutOfMemory", inv.payload
    assert "Error Type: Runtime.OutOfMemory" in inv.log
    # The environment was replaced: the next invocation works.
    ok = invoke(lambda_client, name, {"action": "allocate", "mb": 10})
    assert ok.function_error is None, str(ok)


def test_max_memory_used_tracks_the_invocation(lambda_client, probe):
    name = probe(MemorySize=512)
    small = invoke(lambda_client, name, {"action": "allocate", "mb": 1})
    big = invoke(lambda_client, name, {"action": "allocate", "mb": 30})
    used = [int(x.log.split("Max Memory Used: ")[1].split(" MB")[0]) for x in (small, big)]
    assert 25 <= used[1] - used[0] <= 40, used


def test_fork_bomb_stays_inside_its_pids_limit(lambda_client, probe, functions):
    name = probe(MemorySize=1024, Timeout=30)
    inv = invoke(lambda_client, name, {"action": "forkbomb"})
    assert inv.function_error is None, str(inv)
    assert inv.payload["stopped_by"] == "EAGAIN", inv.payload
    assert inv.payload["children"] < 1100
    # The host keeps serving other functions meanwhile.
    other = functions.create({"app.py": "def handler(e, c):\n    return 'fine'\n"})["FunctionName"]
    assert invoke(lambda_client, other, {}).payload == "fine"


def test_tmp_is_limited_to_ephemeral_storage(lambda_client, probe):
    name = probe(MemorySize=1024, Timeout=30, EphemeralStorage={"Size": 512})
    inv = invoke(lambda_client, name, {"action": "fill_tmp", "mb": 700})
    assert inv.function_error is None, str(inv)
    assert inv.payload["error"] == "ENOSPC", inv.payload
    assert 500 <= inv.payload["written_mb"] <= 512


def test_timeout_kills_grandchildren(lambda_client, probe):
    name = probe(Timeout=2)
    mark = "haneul-grandchild-" + name
    inv = invoke(lambda_client, name, {"action": "grandchild", "mark": mark})
    assert inv.payload["errorType"] == "Sandbox.Timedout"
    def survivors():
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/environ", "rb") as handle:
                    if ("MARK=" + mark).encode() in handle.read():
                        found.append(int(entry))
            except OSError:
                continue
        return found
    # Killed before the answer; the kernel may still be tearing the tasks down for a moment.
    assert poll(lambda: not survivors(), timeout=2), f"grandchildren survived: {survivors()}"


def test_missing_and_non_executable_bootstrap(lambda_client, functions, namespace_only):
    missing = functions.create({"other": "x"}, runtime="provided.al2023", handler="x")
    inv = invoke(lambda_client, missing["FunctionName"], {})
    assert inv.payload["errorType"] == "Runtime.InvalidEntrypoint"
    plain = functions.create({"bootstrap": ("#!/bin/sh\necho hi\n", 0o644)},
                             runtime="provided.al2023", handler="x")
    inv = invoke(lambda_client, plain["FunctionName"], {})
    assert inv.payload["errorType"] == "Runtime.InvalidEntrypoint", inv.payload
