"""`haneul image ...` against real, independent tools: Debian's docker-registry on loopback,
images produced by umoci and skopeo, and haneul's own builds read back by skopeo/umoci.

Needs the Debian packages docker-registry, skopeo and umoci (scripts/install-deps.sh); the
tests skip when they are missing. Each test gets its own data directory; the registry is one
per module, on a free port picked here (docker-registry cannot listen on port 0).
"""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from lambda_helpers import haneul_bin

TOOLS = ["docker-registry", "skopeo", "umoci"]
pytestmark = pytest.mark.skipif(any(shutil.which(t) is None for t in TOOLS),
                                reason="needs docker-registry, skopeo and umoci")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(*args, check=True, **kw):
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=300, **kw)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def wait_for_port(port, proc, log):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError("docker-registry exited:\n" + open(log).read())
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)  # readiness poll of a process we do not control
    raise AssertionError("docker-registry did not start:\n" + open(log).read())


class Registry:
    """Debian's docker-registry on a free loopback port, optionally behind htpasswd (Basic)."""

    def __init__(self, auth=None):
        self.work = tempfile.mkdtemp(prefix="haneul-it-registry-")
        self.port = free_port()
        config = os.path.join(self.work, "config.yml")
        auth_yaml = ""
        if auth:
            import crypt  # bcrypt hashes for htpasswd (glibc/libxcrypt); deprecated, still there
            user, password = auth
            with open(os.path.join(self.work, "htpasswd"), "w") as f:
                f.write(f"{user}:{crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))}\n")
            auth_yaml = f"""auth:
  htpasswd:
    realm: haneul-it
    path: {self.work}/htpasswd
"""
        with open(config, "w") as f:
            f.write(f"""version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {self.work}/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{self.port}
{auth_yaml}""")
        self.log = os.path.join(self.work, "registry.log")
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen(["docker-registry", "serve", config], stdout=out,
                                         stderr=subprocess.STDOUT)
        wait_for_port(self.port, self.proc, self.log)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        shutil.rmtree(self.work, ignore_errors=True)


@pytest.fixture(scope="module")
def registry():
    r = Registry()
    try:
        yield f"127.0.0.1:{r.port}"
    finally:
        r.stop()


@pytest.fixture
def work():
    path = tempfile.mkdtemp(prefix="haneul-it-images-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def haneul(data, *args, check=True):
    return run(haneul_bin(), "image", *args, "--data", data, check=check)


def inspect(data, name, rootfs=True):
    out = haneul(data, "inspect", name, *(["--rootfs"] if rootfs else [])).stdout
    return json.loads(out)


def umoci_image(work, tag="t"):
    """A two-layer image built by umoci: files, a symlink, then a layer deleting one file."""
    layout = os.path.join(work, "oci")
    bundle = os.path.join(work, "bundle")
    run("umoci", "init", "--layout", layout)
    run("umoci", "new", "--image", f"{layout}:{tag}")
    run("umoci", "unpack", "--rootless", "--image", f"{layout}:{tag}", bundle)
    rootfs = os.path.join(bundle, "rootfs")
    os.makedirs(os.path.join(rootfs, "var/task/lib"))
    with open(os.path.join(rootfs, "var/task/app.py"), "w") as f:
        f.write("def handler(event, context):\n    return {'ok': True}\n")
    with open(os.path.join(rootfs, "var/task/lib/gone.txt"), "w") as f:
        f.write("deleted in layer 2\n")
    os.symlink("/var/task/app.py", os.path.join(rootfs, "app-link"))
    run("umoci", "repack", "--image", f"{layout}:{tag}", bundle)
    os.remove(os.path.join(rootfs, "var/task/lib/gone.txt"))
    run("umoci", "repack", "--image", f"{layout}:{tag}", bundle)
    run("umoci", "config", "--image", f"{layout}:{tag}", "--config.entrypoint", "/lambda-entrypoint.sh",
        "--config.cmd", "app.handler", "--config.workingdir", "/var/task", "--config.env", "A=1")
    shutil.rmtree(bundle, ignore_errors=True)
    return layout


def test_pull_umoci_image_pushed_by_skopeo(registry, work):
    layout = umoci_image(work)
    ref = f"{registry}/it/umoci:v1"
    run("skopeo", "copy", "--dest-tls-verify=false", f"oci:{layout}:t", f"docker://{ref}")
    data = os.path.join(work, "data")
    out = haneul(data, "pull", ref)
    assert ref in out.stdout
    info = inspect(data, ref)
    rootfs = info["Rootfs"]
    assert open(os.path.join(rootfs, "var/task/app.py")).read().startswith("def handler")
    assert os.readlink(os.path.join(rootfs, "app-link")) == "/var/task/app.py"
    assert not os.path.exists(os.path.join(rootfs, "var/task/lib/gone.txt"))  # whiteout applied
    assert os.path.isdir(os.path.join(rootfs, "var/task/lib"))
    assert info["Entrypoint"] == ["/lambda-entrypoint.sh"]
    assert info["Cmd"] == ["app.handler"]
    assert info["WorkingDir"] == "/var/task"
    assert "A=1" in info["Env"]
    # Pulling by digest gives the same image; ls lists both names.
    digest = info["Digest"]
    haneul(data, "pull", f"{registry}/it/umoci@{digest}")
    lines = haneul(data, "ls", "--digests").stdout.splitlines()[1:]
    assert sorted(line.split()[0] for line in lines if line.split()[1] == digest) == sorted(
        [ref, f"{registry}/it/umoci@{digest}"])


def test_docker_archive_from_skopeo_imports_unchanged(work):
    layout = umoci_image(work)
    archive = os.path.join(work, "image.tar")
    run("skopeo", "copy", f"oci:{layout}:t", f"docker-archive:{archive}:it/archive:v2")
    data = os.path.join(work, "data")
    out = haneul(data, "import", f"docker-archive:{archive}")
    assert "it/archive:v2" in out.stdout
    name = out.stdout.split()[0]
    info = inspect(data, name)
    rootfs = info["Rootfs"]
    assert os.path.isfile(os.path.join(rootfs, "var/task/app.py"))
    assert not os.path.exists(os.path.join(rootfs, "var/task/lib/gone.txt"))
    assert info["Cmd"] == ["app.handler"]
    # The OCI layout itself and an oci-archive import to the same rootfs content.
    oci_archive = os.path.join(work, "image-oci.tar")
    run("skopeo", "copy", f"oci:{layout}:t", f"oci-archive:{oci_archive}:t")
    out = haneul(data, "import", f"oci-archive:{oci_archive}", "--name", "from-oci-archive")
    assert os.path.isfile(os.path.join(inspect(data, "from-oci-archive")["Rootfs"], "var/task/app.py"))
    out = haneul(data, "import", f"oci:{layout}:t", "--name", "from-layout")
    assert inspect(data, "from-layout")["Digest"] == inspect(data, "from-oci-archive")["Digest"]


def test_build_push_and_read_back_with_skopeo_and_umoci(registry, work):
    src = os.path.join(work, "src")
    os.makedirs(os.path.join(src, "pkg"))
    with open(os.path.join(src, "app.py"), "w") as f:
        f.write("def handler(e, c):\n    return 'built'\n")
    with open(os.path.join(src, "pkg", "x" * 120), "w") as f:  # a pax long name
        f.write("long\n")
    data = os.path.join(work, "data")
    haneul(data, "build", os.path.join(work, "base-src-missing"), "--base", "scratch", "--tag", "bad",
           check=False)
    os.makedirs(os.path.join(work, "base-src", "opt"))
    haneul(data, "build", os.path.join(work, "base-src"), "--base", "scratch", "--tag", "local/base:1",
           "--entrypoint", '["/lambda-entrypoint.sh"]', "--workdir", "/var/task")
    haneul(data, "build", src, "--base", "local/base:1", "--tag", "local/app:1", "--cmd", "app.handler")
    info = inspect(data, "local/app:1")
    assert info["Entrypoint"] == ["/lambda-entrypoint.sh"] and info["Cmd"] == ["app.handler"]
    assert os.path.isfile(os.path.join(info["Rootfs"], "var/task/pkg", "x" * 120))
    ref = f"{registry}/it/built:1"
    haneul(data, "push", "local/app:1", ref)
    # Read back by independent tools.
    config = json.loads(run("skopeo", "inspect", "--tls-verify=false", "--config", f"docker://{ref}").stdout)
    assert config["config"]["Cmd"] == ["app.handler"]
    out_layout = os.path.join(work, "readback")
    run("skopeo", "copy", "--src-tls-verify=false", f"docker://{ref}", f"oci:{out_layout}:r")
    bundle = os.path.join(work, "readback-bundle")
    run("umoci", "unpack", "--rootless", "--image", f"{out_layout}:r", bundle)
    assert open(os.path.join(bundle, "rootfs/var/task/app.py")).read().endswith("'built'\n")
    # Pulled into a fresh store it is the same image.
    data2 = os.path.join(work, "data2")
    haneul(data2, "pull", ref)
    assert inspect(data2, ref, rootfs=False)["Digest"] == info["Digest"]
    # Export, then skopeo reads the layout.
    exported = os.path.join(work, "exported")
    haneul(data, "export", "local/app:1", exported, "--tag", "e")
    config = json.loads(run("skopeo", "inspect", "--config", f"oci:{exported}:e").stdout)
    assert config["config"]["Cmd"] == ["app.handler"]


def test_registry_errors_name_the_image_and_reason(registry, work):
    data = os.path.join(work, "data")
    missing = f"{registry}/it/nothing:here"
    result = haneul(data, "pull", missing, check=False)
    assert result.returncode == 1
    assert "it/nothing:here" in result.stderr and "404" in result.stderr, result.stderr
    digest = "sha256:" + "0" * 64
    result = haneul(data, "pull", f"{registry}/it/nothing@{digest}", check=False)
    assert result.returncode == 1 and digest in result.stderr
    port = free_port()  # nothing listens there
    result = haneul(data, "pull", f"127.0.0.1:{port}/it/x:1", "--quiet", check=False)
    assert result.returncode == 1 and f"127.0.0.1:{port}/it/x:1" in result.stderr, result.stderr
    result = haneul(data, "import", f"docker-archive:{work}/no-such.tar", check=False)
    assert result.returncode == 1 and "no-such.tar" in result.stderr
    # Nothing half-written was left in the store.
    assert os.listdir(os.path.join(data, "images", "tmp")) == []
    assert os.listdir(os.path.join(data, "images", "blobs", "sha256")) == []


def test_rm_collects_unshared_blobs(work):
    data = os.path.join(work, "data")
    src = os.path.join(work, "src")
    os.makedirs(src)
    with open(os.path.join(src, "f"), "w") as f:
        f.write("x" * 10000)
    haneul(data, "build", src, "--base", "scratch", "--tag", "one")
    haneul(data, "build", src, "--base", "one", "--tag", "two", "--dest", "/copy")
    blobs = os.path.join(data, "images", "blobs", "sha256")
    before = set(os.listdir(blobs))
    haneul(data, "rm", "two")
    after = set(os.listdir(blobs))
    assert after < before and len(after) == 3  # one's manifest, config and layer stay
    assert inspect(data, "one")["Rootfs"]
    assert haneul(data, "inspect", "two", check=False).returncode == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="chroot needs root")
def test_base_python3_image_runs_its_interpreter(work):
    data = os.path.join(work, "data")
    haneul(data, "base", "python3", "--tag", "haneul/python3:it", "--quiet")
    src = os.path.join(work, "src")
    os.makedirs(src)
    with open(os.path.join(src, "app.py"), "w") as f:
        f.write("def handler(e, c):\n    return 1\n")
    haneul(data, "build", src, "--base", "haneul/python3:it", "--tag", "fn", "--cmd", "app.handler")
    info = inspect(data, "fn")
    assert info["Entrypoint"] == ["/lambda-entrypoint.sh"] and info["WorkingDir"] == "/var/task"
    rootfs = info["Rootfs"]
    for path in ["lambda-entrypoint.sh", "var/runtime/bootstrap", "var/task/app.py"]:
        assert os.path.exists(os.path.join(rootfs, path)), path
    out = run("chroot", rootfs, "/usr/bin/python3", "-c", "import json, socket; print('ok')")
    assert out.stdout.strip() == "ok"
    # AWS's entrypoint contract: exactly one argument, the handler.
    result = run("chroot", rootfs, "/lambda-entrypoint.sh", check=False)
    assert result.returncode == 142


# --- a scripted registry: auth, dropped connections, 500s, corrupt blobs, platforms ---------

@pytest.fixture
def fake(work):
    from images_fake_registry import FakeRegistry
    src = os.path.join(work, "fake-src")
    os.makedirs(src)
    with open(os.path.join(src, "big.bin"), "wb") as f:
        f.write(os.urandom(3 << 20))  # incompressible, so the layer is big enough to cut
    data = os.path.join(work, "fake-data")
    haneul(data, "build", src, "--base", "scratch", "--tag", "fake:1", "--cmd", "run")
    layout = os.path.join(work, "fake-layout")
    haneul(data, "export", "fake:1", layout)
    with FakeRegistry(layout) as registry:
        yield registry


def test_bearer_token_auth_and_resume_after_dropped_connection(fake, work):
    data = os.path.join(work, "data")
    ref = f"{fake.host}/it/app:1"
    result = haneul(data, "pull", ref, "--quiet", check=False)
    assert result.returncode == 1 and "401" in result.stderr and ref in result.stderr, result.stderr
    fake.drop_next_layer = True
    fake.fail_manifest = 1  # one 500, retried
    haneul(data, "pull", ref, "--creds", "user:secret", "--quiet")
    assert fake.range_requests >= 1 and fake.token_requests >= 1
    info = inspect(data, ref)
    assert os.path.getsize(os.path.join(info["Rootfs"], "big.bin")) == 3 << 20
    assert os.listdir(os.path.join(data, "images", "tmp")) == []


def test_corrupt_blob_platform_and_media_type_errors(fake, work):
    data = os.path.join(work, "data")
    creds = ["--creds", "user:secret", "--quiet"]
    result = haneul(data, "pull", f"{fake.host}/it/app:corrupt", *creds, check=False)
    assert result.returncode == 1 and "digest mismatch" in result.stderr, result.stderr
    assert "it/app:corrupt" in result.stderr
    result = haneul(data, "pull", f"{fake.host}/it/app:foreign", *creds, check=False)
    assert result.returncode == 1 and "platform" in result.stderr and "s390x" in result.stderr, result.stderr
    result = haneul(data, "pull", f"{fake.host}/it/app:weird", *creds, check=False)
    assert result.returncode == 1 and "application/x-unknown-layer" in result.stderr, result.stderr
    fake.fail_manifest = 100
    result = haneul(data, "pull", f"{fake.host}/it/app:1", *creds, check=False)
    assert result.returncode == 1 and "500" in result.stderr, result.stderr
    fake.fail_manifest = 0
    assert os.listdir(os.path.join(data, "images", "tmp")) == []
    # No blob with a wrong digest was stored.
    assert "1" * 64 not in os.listdir(os.path.join(data, "images", "blobs", "sha256"))
    # An index picks this host's platform.
    haneul(data, "pull", f"{fake.host}/it/app:multi", *creds)
    assert os.path.isfile(os.path.join(inspect(data, f"{fake.host}/it/app:multi")["Rootfs"], "big.bin"))


def test_basic_auth_registry_push_and_pull(work):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        r = Registry(auth=("alice", "wonderland"))
    try:
        data = os.path.join(work, "data")
        src = os.path.join(work, "src")
        os.makedirs(src)
        with open(os.path.join(src, "f.txt"), "w") as f:
            f.write("auth\n")
        haneul(data, "build", src, "--base", "scratch", "--tag", "authed")
        ref = f"127.0.0.1:{r.port}/it/authed:1"
        result = haneul(data, "push", "authed", ref, check=False)
        assert result.returncode == 1 and "401" in result.stderr, result.stderr
        haneul(data, "push", "authed", ref, "--creds", "alice:wonderland")
        data2 = os.path.join(work, "data2")
        result = haneul(data2, "pull", ref, "--quiet", check=False)
        assert result.returncode == 1 and "401" in result.stderr and ref in result.stderr, result.stderr
        result = haneul(data2, "pull", ref, "--creds", "alice:wrong", "--quiet", check=False)
        assert result.returncode == 1 and "401" in result.stderr, result.stderr
        haneul(data2, "pull", ref, "--creds", "alice:wonderland", "--quiet")
        assert open(os.path.join(inspect(data2, ref)["Rootfs"], "f.txt")).read() == "auth\n"
    finally:
        r.stop()


RIC_HANDLER = r'''
export const handler = async (event, context) => {
  console.log("ric in image", JSON.stringify(event));
  return { fromImage: true, event, requestId: context.awsRequestId };
};
'''


def fake_runtime_api():
    """A one-invocation Lambda Runtime API: hands out one event, records the response."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    import threading
    state = {"response": None, "done": threading.Event(), "handed": False}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def reply(self, status, body=b"", headers=None):
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path.endswith("/invocation/next"):
                if state["handed"]:
                    state["done"].wait(120)  # the next event never comes; the test ends first
                    return self.reply(500)
                state["handed"] = True
                return self.reply(200, json.dumps({"hello": "image"}).encode(), {
                    "Content-Type": "application/json",
                    "Lambda-Runtime-Aws-Request-Id": "req-1",
                    "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 60000),
                    "Lambda-Runtime-Invoked-Function-Arn":
                        "arn:aws:lambda:us-east-1:000000000000:function:img",
                    "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000"})
            self.reply(404)

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state["response"] = (self.path, body)
            self.reply(202, b'{"status":"OK"}')
            state["done"].set()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, state


def build_node_ric_image(work, modules):
    """AWS's layout in a data folder of its own: /lambda-entrypoint.sh HANDLER ->
    /var/runtime/bootstrap -> npm's aws-lambda-ric from /var/task, with RIC_HANDLER as index.mjs.
    Returns the data folder; the image is named ric-fn."""
    data = os.path.join(work, "data")
    haneul(data, "base", "nodejs", "--tag", "haneul/nodejs:it", "--quiet")
    runtime = os.path.join(work, "runtime")
    os.makedirs(runtime)
    with open(os.path.join(runtime, "bootstrap"), "w") as f:
        f.write('#!/bin/sh\nexec /usr/bin/node /var/task/node_modules/aws-lambda-ric/index.mjs "$_HANDLER"\n')
    os.chmod(os.path.join(runtime, "bootstrap"), 0o755)
    haneul(data, "build", runtime, "--base", "haneul/nodejs:it", "--tag", "nodejs-ric", "--dest", "/var/runtime")
    task = os.path.join(work, "task")
    os.makedirs(os.path.join(task, "node_modules", "@aws"))
    with open(os.path.join(task, "index.mjs"), "w") as f:
        f.write(RIC_HANDLER)
    ignore = shutil.ignore_patterns("deps", "src", "scripts", "node-addon-api")
    shutil.copytree(os.path.join(modules, "aws-lambda-ric"), os.path.join(task, "node_modules", "aws-lambda-ric"),
                    ignore=ignore)
    shutil.copytree(os.path.join(modules, "@aws", "lambda-invoke-store"),
                    os.path.join(task, "node_modules", "@aws", "lambda-invoke-store"))
    haneul(data, "build", task, "--base", "nodejs-ric", "--tag", "ric-fn", "--cmd", "index.handler")
    return data


@pytest.mark.skipif(os.geteuid() != 0, reason="chroot needs root")
def test_aws_style_image_with_node_ric_serves_an_invocation(work):
    """AWS's layout: /lambda-entrypoint.sh HANDLER -> /var/runtime/bootstrap -> the npm
    aws-lambda-ric (native client inside) from /var/task, against a Runtime API."""
    modules = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node_modules")
    if not os.path.isfile(os.path.join(modules, "aws-lambda-ric", "index.mjs")):
        pytest.skip("npm install in tests/integration first")
    data = build_node_ric_image(work, modules)
    info = inspect(data, "ric-fn")
    assert info["Entrypoint"] == ["/lambda-entrypoint.sh"] and info["Cmd"] == ["index.handler"]
    server, state = fake_runtime_api()
    env = dict(e.split("=", 1) for e in info["Env"])
    env.update({"AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
                "AWS_LAMBDA_FUNCTION_NAME": "img", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "AWS_REGION": "us-east-1",
                "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/img", "AWS_LAMBDA_LOG_STREAM_NAME": "s"})
    argv = info["Entrypoint"] + info["Cmd"]
    proc = subprocess.Popen([shutil.which("chroot"), info["Rootfs"], "/bin/sh", "-c",
                             f"cd {info['WorkingDir']} && exec " + " ".join(argv)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        done = state["done"].wait(60)
    finally:
        proc.kill()
        output = proc.communicate(timeout=30)[0].decode(errors="replace")
        server.shutdown()
        server.server_close()
    assert done, "no response from the runtime interface client:\n" + output
    path, body = state["response"]
    assert path == "/2018-06-01/runtime/invocation/req-1/response", (path, body, output)
    result = json.loads(body)
    assert result == {"fromImage": True, "event": {"hello": "image"}, "requestId": "req-1"}
    assert "ric in image" in output


# --- image functions through the server: from a registry, and AWS's layout with the npm RIC ----

def _namespace_server(data, log):
    from conftest import HaneulServer
    if os.environ.get("HANEUL_TEST_SANDBOX") == "process":
        pytest.skip("image functions need the namespace sandbox")
    srv = HaneulServer(data, log)
    srv.start()
    if srv.sandbox != "namespace":
        srv.stop()
        pytest.skip(f"the server runs the {srv.sandbox} sandbox")
    return srv


def test_function_from_a_registry_image_uri_with_awscli(registry, work):
    """An image built elsewhere (another data folder), pushed to docker-registry, then created
    as a function from its registry ImageUri with awscli: the server pulls it."""
    from conftest import AwsCli
    builder = os.path.join(work, "builder")
    haneul(builder, "base", "python3", "--tag", "haneul/python3:it", "--quiet")
    src = os.path.join(work, "python-src")
    os.makedirs(src)
    with open(os.path.join(src, "app.py"), "w") as f:
        f.write("def handler(event, context):\n    return {'registry': True, 'event': event}\n")
    haneul(builder, "build", src, "--base", "haneul/python3:it", "--tag", "shell-fn",
           "--cmd", "app.handler")
    haneul(builder, "push", "shell-fn", f"{registry}/it/shell-fn:1")
    srv = _namespace_server(os.path.join(work, "server-data"), os.path.join(work, "server.log"))
    try:
        aws = AwsCli(srv.endpoint, work)
        created = aws("lambda", "create-function", "--function-name", "from-registry",
                      "--package-type", "Image", "--code", f"ImageUri={registry}/it/shell-fn:1",
                      "--role", "arn:aws:iam::000000000000:role/x").json
        assert created["PackageType"] == "Image"
        out = os.path.join(work, "out.json")
        aws("lambda", "invoke", "--function-name", "from-registry", "--cli-binary-format",
            "raw-in-base64-out", "--payload", '{"n": 7}', out)
        with open(out) as f:
            assert json.load(f) == {"registry": True, "event": {"n": 7}}
    finally:
        srv.stop()


def test_aws_style_image_with_node_ric_serves_invocations_through_haneul(work):
    """/lambda-entrypoint.sh -> /var/runtime/bootstrap -> npm's aws-lambda-ric, run by the server
    as a function from the image and invoked with boto3."""
    from lambda_helpers import invoke, make_lambda_client
    modules = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node_modules")
    if not os.path.isfile(os.path.join(modules, "aws-lambda-ric", "index.mjs")):
        pytest.fail("npm install in tests/integration first (scripts/install-deps.sh does it)")
    data = build_node_ric_image(work, modules)
    srv = _namespace_server(data, os.path.join(work, "server.log"))
    try:
        client = make_lambda_client(srv.endpoint)
        client.create_function(FunctionName="ric-image", PackageType="Image",
                               Role="arn:aws:iam::000000000000:role/x", Code={"ImageUri": "ric-fn"},
                               MemorySize=512, Timeout=30)
        for n in range(2):
            inv = invoke(client, "ric-image", {"hello": n})
            assert inv.function_error is None, str(inv)
            assert inv.payload["fromImage"] is True and inv.payload["event"] == {"hello": n}
            assert inv.payload["requestId"] == inv.request_id
        assert "ric in image" in inv.log
    finally:
        srv.stop()


def test_umoci_and_skopeo_produced_images_run_as_functions(registry, work):
    """Images whose last layer and config umoci wrote, and a docker-archive skopeo wrote, run
    unchanged as functions: one from its registry ImageUri, one from docker-archive:PATH."""
    from lambda_helpers import invoke, make_lambda_client
    data = os.path.join(work, "data")
    haneul(data, "base", "python3", "--tag", "haneul/python3:it", "--quiet")
    layout = os.path.join(work, "layout")
    haneul(data, "export", "haneul/python3:it", layout, "--tag", "base")
    # umoci adds the function's code as a layer of its own and sets the command.
    bundle = os.path.join(work, "bundle")
    run("umoci", "unpack", "--image", f"{layout}:base", bundle)
    task = os.path.join(bundle, "rootfs", "var", "task")
    os.makedirs(task, exist_ok=True)
    with open(os.path.join(task, "umoci_app.py"), "w") as f:
        f.write("def handler(event, context):\n    return {'made_by': 'umoci', 'event': event}\n")
    run("umoci", "repack", "--image", f"{layout}:base", bundle)
    run("umoci", "config", "--image", f"{layout}:base", "--tag", "fn",
        "--config.cmd", "umoci_app.handler")
    run("skopeo", "copy", "--dest-tls-verify=false", f"oci:{layout}:fn",
        f"docker://{registry}/it/umoci-fn:1")
    archive = os.path.join(work, "fn-docker-archive.tar")
    run("skopeo", "copy", "--src-tls-verify=false", f"docker://{registry}/it/umoci-fn:1",
        f"docker-archive:{archive}:it/umoci-fn:1")
    srv = _namespace_server(os.path.join(work, "server-data"), os.path.join(work, "server.log"))
    try:
        client = make_lambda_client(srv.endpoint)
        for name, uri in (("from-umoci", f"{registry}/it/umoci-fn:1"),
                          ("from-archive", f"docker-archive:{archive}")):
            client.create_function(FunctionName=name, PackageType="Image",
                                   Role="arn:aws:iam::000000000000:role/x",
                                   Code={"ImageUri": uri})
            inv = invoke(client, name, {"uri": uri})
            assert inv.function_error is None, str(inv)
            assert inv.payload == {"made_by": "umoci", "event": {"uri": uri}}
    finally:
        srv.stop()
