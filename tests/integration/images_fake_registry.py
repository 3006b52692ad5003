"""A scripted registry double for test_images.py: the faults a real docker-registry will not
produce on demand (bearer-token auth with a basic-auth token endpoint, a connection dropped
mid-blob, 500s, corrupt blobs, foreign platforms, unknown media types).

It serves the blobs of an OCI layout directory. Runs in a thread of the test process on port 0.
"""

import base64
import hashlib
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def digest_of(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


class FakeRegistry:
    def __init__(self, layout, user="user", password="secret"):
        self.blobs = {}
        blob_dir = os.path.join(layout, "blobs", "sha256")
        for name in os.listdir(blob_dir):
            with open(os.path.join(blob_dir, name), "rb") as f:
                self.blobs["sha256:" + name] = f.read()
        index = json.load(open(os.path.join(layout, "index.json")))
        desc = index["manifests"][0]
        self.manifest = self.blobs[desc["digest"]]
        manifest = json.loads(self.manifest)
        self.layer = max(manifest["layers"], key=lambda l: l["size"])
        self.manifests = {"1": (OCI_MANIFEST, self.manifest), desc["digest"]: (OCI_MANIFEST, self.manifest)}
        # A manifest whose layer bytes will not match their digest.
        bad_layer = dict(self.layer, digest="sha256:" + "1" * 64)
        self.blobs[bad_layer["digest"]] = b"x" * self.layer["size"]
        corrupt = dict(manifest, layers=[bad_layer])
        self.manifests["corrupt"] = (OCI_MANIFEST, json.dumps(corrupt).encode())
        weird = dict(manifest, layers=[dict(self.layer, mediaType="application/x-unknown-layer")])
        self.manifests["weird"] = (OCI_MANIFEST, json.dumps(weird).encode())
        foreign = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": desc["digest"], "size": len(self.manifest),
             "platform": {"os": "linux", "architecture": "s390x"}}]}
        self.manifests["foreign"] = (OCI_INDEX, json.dumps(foreign).encode())
        multi = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            dict(foreign["manifests"][0]),
            {"mediaType": OCI_MANIFEST, "digest": desc["digest"], "size": len(self.manifest),
             "platform": {"os": "linux", "architecture": "amd64"}},
            {"mediaType": OCI_MANIFEST, "digest": desc["digest"], "size": len(self.manifest),
             "platform": {"os": "linux", "architecture": "arm64"}}]}
        self.manifests["multi"] = (OCI_INDEX, json.dumps(multi).encode())
        self.user, self.password = user, password
        self.token = "token-" + hashlib.sha256(os.urandom(8)).hexdigest()[:16]
        self.drop_next_layer = False  # drop the connection halfway through the next layer GET
        self.fail_manifest = 0        # answer this many manifest GETs with 500
        self.range_requests = 0
        self.token_requests = 0
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    @property
    def host(self):
        return f"127.0.0.1:{self.port}"

    def _handler(self):
        registry = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def send(self, status, body=b"", headers=None):
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def error(self, status, code, message):
                self.send(status, json.dumps({"errors": [{"code": code, "message": message}]}).encode(),
                          {"Content-Type": "application/json"})

            def do_GET(self):
                if self.path.startswith("/token"):
                    registry.token_requests += 1
                    want = "Basic " + base64.b64encode(f"{registry.user}:{registry.password}".encode()).decode()
                    if self.headers.get("Authorization") != want:
                        return self.error(401, "UNAUTHORIZED", "bad credentials")
                    return self.send(200, json.dumps({"token": registry.token}).encode())
                if self.headers.get("Authorization") != f"Bearer {registry.token}":
                    realm = f"http://{registry.host}/token"
                    return self.send(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', {
                        "WWW-Authenticate": f'Bearer realm="{realm}",service="fake",scope="repository:it/app:pull"'})
                parts = self.path.split("/")
                # /v2/it/app/manifests/REF or /v2/it/app/blobs/DIGEST
                if len(parts) < 6 or parts[1] != "v2":
                    return self.send(200, b"{}")
                kind, ref = parts[-2], parts[-1]
                if kind == "manifests":
                    with registry.lock:
                        if registry.fail_manifest > 0:
                            registry.fail_manifest -= 1
                            return self.error(500, "UNKNOWN", "scripted failure")
                    if ref not in registry.manifests:
                        return self.error(404, "MANIFEST_UNKNOWN", "manifest unknown")
                    media, body = registry.manifests[ref]
                    return self.send(200, body, {"Content-Type": media,
                                                 "Docker-Content-Digest": digest_of(body)})
                if kind == "blobs":
                    if ref not in registry.blobs:
                        return self.error(404, "BLOB_UNKNOWN", "blob unknown")
                    data = registry.blobs[ref]
                    rng = self.headers.get("Range")
                    if rng:
                        registry.range_requests += 1
                        start = int(rng.split("=")[1].split("-")[0])
                        body = data[start:]
                        self.send_response(206)
                        self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                        self.send_header("Content-Length", str(len(body)))
                        self.end_headers()
                        self.wfile.write(body)
                        return
                    if ref == registry.layer["digest"] and registry.drop_next_layer:
                        registry.drop_next_layer = False
                        self.send_response(200)
                        self.send_header("Content-Length", str(len(data)))
                        self.end_headers()
                        self.wfile.write(data[: len(data) // 2])
                        self.wfile.flush()
                        self.close_connection = True
                        self.connection.shutdown(2)
                        return
                    return self.send(200, data, {"Content-Type": "application/octet-stream"})
                return self.error(404, "NAME_UNKNOWN", "unknown")

            do_HEAD = do_GET

        return Handler
