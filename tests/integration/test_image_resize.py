"""The image-resize example (examples/image-resize) run as its README walks through it, with the
stock awscli: bucket, function (zip, and as an image), notification on input/, `aws s3 cp` of a
photo; the resized copy appears under output/ with the expected dimensions, exactly once, and the
invocation's REPORT is in the function's log. Pillow is Debian's python3-pil (the test itself
runs Debian's /usr/bin/python3, which has it too)."""

import json
import os
import subprocess
import uuid

import pytest
from PIL import Image

from lambda_helpers import function_arn, haneul_bin, poll

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.normpath(os.path.join(HERE, "..", "..", "examples", "image-resize"))
AWS = "/usr/bin/aws"
ROLE = "arn:aws:iam::000000000000:role/lambda-role"


def aws(endpoint, *args):
    proc = subprocess.run([AWS, "--endpoint-url", endpoint, *args], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, f"aws {' '.join(args)}: {proc.stderr}"
    return proc.stdout


def walkthrough(endpoint, tmp_path, function, create_args):
    bucket = "photos-" + uuid.uuid4().hex[:8]
    aws(endpoint, "s3", "mb", f"s3://{bucket}")
    aws(endpoint, "lambda", "create-function", "--function-name", function, "--timeout", "30",
        "--memory-size", "256", "--role", ROLE, *create_args)
    notification = {"LambdaFunctionConfigurations": [{
        "Id": "resize", "LambdaFunctionArn": function_arn(function),
        "Events": ["s3:ObjectCreated:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "input/"}]}}}]}
    aws(endpoint, "s3api", "put-bucket-notification-configuration", "--bucket", bucket,
        "--notification-configuration", json.dumps(notification))
    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (1024, 768), "teal").save(photo)
    aws(endpoint, "s3", "cp", str(photo), f"s3://{bucket}/input/my photo.jpg")

    def listed():
        out = aws(endpoint, "s3api", "list-objects-v2", "--bucket", bucket, "--prefix", "output/")
        return [o["Key"] for o in json.loads(out).get("Contents", [])] if out.strip() else []

    assert poll(listed, timeout=60, interval=0.3), "no resized image under output/"
    small = tmp_path / "small.jpg"
    aws(endpoint, "s3", "cp", f"s3://{bucket}/output/my photo.jpg", str(small))
    with Image.open(small) as image:
        assert image.size == (128, 96)
        assert image.format == "JPEG"

    def log_messages():
        out = aws(endpoint, "logs", "filter-log-events", "--log-group-name",
                  f"/aws/lambda/{function}")
        return [e["message"] for e in json.loads(out)["events"]]

    assert poll(lambda: any(m.startswith("REPORT") for m in log_messages()), timeout=20)
    messages = log_messages()
    # Once: one invocation, and its own upload under output/ did not trigger another.
    assert sum(m.startswith("REPORT") for m in messages) == 1, messages
    assert any("resized s3://" in m and "1024x768" in m and "128x96" in m for m in messages)
    assert listed() == ["output/my photo.jpg"]


def test_image_resize_walkthrough_as_a_zip(server, tmp_path, functions):
    archive = tmp_path / "function.zip"
    subprocess.run(["zip", "-j", str(archive), os.path.join(EXAMPLE, "app.py")], check=True,
                   capture_output=True)
    name = functions.unique("image-resize")
    functions.track(name)
    walkthrough(server.endpoint, tmp_path, name,
                ["--runtime", "python3.12", "--handler", "app.handler",
                 "--zip-file", f"fileb://{archive}"])


def test_image_resize_walkthrough_as_an_image(server_factory, tmp_path):
    if os.environ.get("HANEUL_TEST_SANDBOX") == "process":
        pytest.skip("image functions need the namespace sandbox (their image is the root)")
    data = str(tmp_path / "data")
    env = dict(os.environ, HANEUL=haneul_bin(), HANEUL_DATA=data)
    proc = subprocess.run([os.path.join(EXAMPLE, "build-image.sh"), "image-resize:it"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    srv = server_factory(data_dir=data)
    if srv.sandbox != "namespace":
        pytest.skip(f"the server runs the {srv.sandbox} sandbox")
    walkthrough(srv.endpoint, tmp_path, "image-resize-image",
                ["--package-type", "Image", "--code", "ImageUri=image-resize:it"])
