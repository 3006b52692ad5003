"""The S3-compatible object store, driven by boto3 (path-style), awscli and the JS SDK.

Every operation of issue #9's object store and its main errors, multipart uploads, bucket
notification configuration, and data surviving a restart.
"""

import base64
import hashlib
import json
import os
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from lambda_helpers import REGION, function_arn

HERE = os.path.dirname(os.path.abspath(__file__))
MB = 1024 * 1024


def make_s3(endpoint, **extra):
    cfg = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 0},
                 read_timeout=120, connect_timeout=10, **extra)
    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test",
                                    region_name=REGION)
    return session.client("s3", endpoint_url=endpoint, config=cfg)


@pytest.fixture(scope="module")
def s3(endpoint):
    return make_s3(endpoint)


@pytest.fixture
def bucket(s3):
    name = "it-" + uuid.uuid4().hex[:16]
    s3.create_bucket(Bucket=name)
    yield name
    # Empty and remove it (also proves DeleteObjects and DeleteBucket work).
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=name).get("Contents", [])]
    if keys:
        s3.delete_objects(Bucket=name, Delete={"Objects": [{"Key": k} for k in keys]})
    for up in s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=name, Key=up["Key"], UploadId=up["UploadId"])
    s3.delete_bucket(Bucket=name)


def error_of(excinfo):
    err = excinfo.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]


# ---------------------------------------------------------------------------------------------
# Buckets.

def test_bucket_lifecycle(s3):
    name = "life-" + uuid.uuid4().hex[:12]
    resp = s3.create_bucket(Bucket=name)
    assert resp["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]
    assert resp["ResponseMetadata"]["HTTPHeaders"]["x-amz-id-2"]
    assert resp["Location"] == "/" + name
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    s3.head_bucket(Bucket=name)
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] is None
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket=name)
    assert error_of(e) == ("BucketAlreadyOwnedByYou", 409)
    s3.put_object(Bucket=name, Key="x", Body=b"1")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=name)
    assert error_of(e) == ("BucketNotEmpty", 409)
    s3.delete_object(Bucket=name, Key="x")
    s3.delete_bucket(Bucket=name)
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket=name)
    assert error_of(e) == ("404", 404)
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket=name)
    assert error_of(e) == ("NoSuchBucket", 404)
    assert e.value.response["Error"]["BucketName"] == name


@pytest.mark.parametrize("name", ["ab", "UpperCase", "under_score", "-leading", "trailing-",
                                  "a..b", "192.168.5.4", "xn--punycode", "bucket-s3alias",
                                  "x" * 64])
def test_invalid_bucket_names(s3, name):
    s3v = make_s3(s3.meta.endpoint_url, parameter_validation=False)
    with pytest.raises(ClientError) as e:
        s3v.create_bucket(Bucket=name)
    assert error_of(e) == ("InvalidBucketName", 400)


# ---------------------------------------------------------------------------------------------
# Objects.

def test_put_get_metadata_and_etag(s3, bucket):
    body = os.urandom(4096)
    put = s3.put_object(Bucket=bucket, Key="dir/file.bin", Body=body, ContentType="image/png",
                        Metadata={"Color": "blue", "size": "big"}, CacheControl="max-age=60",
                        ContentDisposition="attachment")
    assert put["ETag"] == '"%s"' % hashlib.md5(body).hexdigest()
    got = s3.get_object(Bucket=bucket, Key="dir/file.bin")
    assert got["Body"].read() == body
    assert got["ETag"] == put["ETag"]
    assert got["ContentType"] == "image/png"
    assert got["ContentLength"] == 4096
    assert got["Metadata"] == {"color": "blue", "size": "big"}
    assert got["CacheControl"] == "max-age=60"
    assert got["ContentDisposition"] == "attachment"
    assert got["AcceptRanges"] == "bytes"
    head = s3.head_object(Bucket=bucket, Key="dir/file.bin")
    assert head["ETag"] == put["ETag"]
    assert head["Metadata"] == {"color": "blue", "size": "big"}
    assert head["ContentType"] == "image/png"
    # Overwrite replaces content and metadata.
    s3.put_object(Bucket=bucket, Key="dir/file.bin", Body=b"new")
    got = s3.get_object(Bucket=bucket, Key="dir/file.bin")
    assert got["Body"].read() == b"new"
    assert got["Metadata"] == {}


def test_head_object_content_length(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"12345")
    assert s3.head_object(Bucket=bucket, Key="k")["ContentLength"] == 5


def test_strange_keys(s3, bucket):
    keys = ["../../etc/passwd", "a/../b", "sp ace/and+plus", "unicode/한글/😀.txt",
            "//double//slash", "q?x=1&y=2#frag", "%2F%41 encoded", "x" * 1024, ".", "..",
            "tab\tnew\nline"]
    for i, key in enumerate(keys):
        s3.put_object(Bucket=bucket, Key=key, Body=str(i).encode())
    for i, key in enumerate(keys):
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == str(i).encode(), key
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert sorted(listed, key=lambda k: k.encode()) == listed
    assert set(listed) == set(keys)
    s3v = make_s3(s3.meta.endpoint_url, parameter_validation=False)
    with pytest.raises(ClientError) as e:
        s3v.put_object(Bucket=bucket, Key="x" * 1025, Body=b"")
    assert error_of(e) == ("KeyTooLongError", 400)


def test_missing_things(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="nope")
    assert error_of(e) == ("NoSuchKey", 404)
    assert e.value.response["Error"]["Key"] == "nope"
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="nope")
    assert error_of(e) == ("404", 404)
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="no-such-bucket-" + uuid.uuid4().hex[:8], Key="k", Body=b"")
    assert error_of(e) == ("NoSuchBucket", 404)
    # Deleting a missing key is not an error.
    assert s3.delete_object(Bucket=bucket, Key="nope")["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_ranges(s3, bucket):
    body = bytes(range(256)) * 4
    s3.put_object(Bucket=bucket, Key="r", Body=body)
    got = s3.get_object(Bucket=bucket, Key="r", Range="bytes=10-19")
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["ContentRange"] == "bytes 10-19/1024"
    assert got["Body"].read() == body[10:20]
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=1000-")["Body"].read() == body[1000:]
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=-5")["Body"].read() == body[-5:]
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=1020-5000")["Body"].read() == body[1020:]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="r", Range="bytes=2000-3000")
    assert error_of(e) == ("InvalidRange", 416)


def test_conditional_requests(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="c", Body=b"data")["ETag"]
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag)["Body"].read() == b"data"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="c", IfMatch='"0000"')
    assert error_of(e) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="c", IfNoneMatch=etag)
    assert error_of(e)[1] == 304
    last = s3.head_object(Bucket=bucket, Key="c")["LastModified"]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=last)
    assert error_of(e)[1] == 304
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="c", IfUnmodifiedSince=last.replace(year=2000))
    assert error_of(e) == ("PreconditionFailed", 412)
    assert s3.get_object(Bucket=bucket, Key="c",
                         IfModifiedSince=last.replace(year=2000))["Body"].read() == b"data"


def test_delete_objects(s3, bucket):
    for k in ["a", "b", "c"]:
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    resp = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "a"}, {"Key": "b"},
                                                                {"Key": "missing"}]})
    assert sorted(d["Key"] for d in resp["Deleted"]) == ["a", "b", "missing"]
    resp = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "c"}], "Quiet": True})
    assert "Deleted" not in resp
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_copy_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"copy me", ContentType="text/plain",
                  Metadata={"a": "1"})
    resp = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert resp["CopyObjectResult"]["ETag"] == '"%s"' % hashlib.md5(b"copy me").hexdigest()
    got = s3.get_object(Bucket=bucket, Key="dst")
    assert got["Body"].read() == b"copy me"
    assert got["Metadata"] == {"a": "1"}
    assert got["ContentType"] == "text/plain"
    s3.copy_object(Bucket=bucket, Key="dst2", CopySource=f"{bucket}/src",
                   MetadataDirective="REPLACE", Metadata={"b": "2"}, ContentType="x/y")
    got = s3.get_object(Bucket=bucket, Key="dst2")
    assert got["Metadata"] == {"b": "2"}
    assert got["ContentType"] == "x/y"
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="src", CopySource={"Bucket": bucket, "Key": "src"})
    assert error_of(e) == ("InvalidRequest", 400)
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "nope"})
    assert error_of(e) == ("NoSuchKey", 404)
    # Keys with special characters in the copy source.
    s3.put_object(Bucket=bucket, Key="sp ace/ü+?", Body=b"odd")
    s3.copy_object(Bucket=bucket, Key="odd-copy", CopySource={"Bucket": bucket, "Key": "sp ace/ü+?"})
    assert s3.get_object(Bucket=bucket, Key="odd-copy")["Body"].read() == b"odd"


def test_list_objects_v2(s3, bucket):
    keys = ["a/1", "a/2", "a/b/3", "b/4", "c", "d/5"]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    resp = s3.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in resp["Contents"]] == keys
    assert resp["KeyCount"] == 6 and resp["IsTruncated"] is False
    assert resp["Contents"][0]["Size"] == 1 and resp["Contents"][0]["StorageClass"] == "STANDARD"
    resp = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [o["Key"] for o in resp["Contents"]] == ["c"]
    assert [p["Prefix"] for p in resp["CommonPrefixes"]] == ["a/", "b/", "d/"]
    resp = s3.list_objects_v2(Bucket=bucket, Prefix="a/", Delimiter="/")
    assert [o["Key"] for o in resp["Contents"]] == ["a/1", "a/2"]
    assert [p["Prefix"] for p in resp["CommonPrefixes"]] == ["a/b/"]
    # Pages of 2 with continuation tokens, delimiter included.
    seen, token = [], None
    while True:
        kwargs = {"ContinuationToken": token} if token else {}
        page = s3.list_objects_v2(Bucket=bucket, Delimiter="/", MaxKeys=2, **kwargs)
        seen += [o["Key"] for o in page.get("Contents", [])]
        seen += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    assert sorted(seen) == ["a/", "b/", "c", "d/"]
    resp = s3.list_objects_v2(Bucket=bucket, StartAfter="a/b/3")
    assert [o["Key"] for o in resp["Contents"]] == ["b/4", "c", "d/5"]
    # The paginator (as scripts use it).
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                        PaginationConfig={"PageSize": 4})
    assert [o["Key"] for p in pages for o in p["Contents"]] == keys
    # encoding-type=url: keys come back percent-encoded when the caller asks for it (botocore
    # asks on its own otherwise, and decodes).
    s3.put_object(Bucket=bucket, Key="e/sp ace+plus", Body=b"x")
    resp = s3.list_objects_v2(Bucket=bucket, Prefix="e/", EncodingType="url")
    assert [urllib.parse.unquote(o["Key"]) for o in resp["Contents"]] == ["e/sp ace+plus"]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="e/")["Contents"]] == \
        ["e/sp ace+plus"]


def test_list_objects_v1(s3, bucket):
    for k in ["a", "b", "c", "d/e"]:
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    resp = s3.list_objects(Bucket=bucket, MaxKeys=2)
    assert [o["Key"] for o in resp["Contents"]] == ["a", "b"]
    assert resp["IsTruncated"] is True
    resp = s3.list_objects(Bucket=bucket, Marker="b")
    assert [o["Key"] for o in resp["Contents"]] == ["c", "d/e"]
    resp = s3.list_objects(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in resp["CommonPrefixes"]] == ["d/"]
    assert resp["Contents"][0]["Owner"]["ID"]
    resp = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=3)
    assert resp["IsTruncated"] is True and resp["NextMarker"] == "c"
    resp = s3.list_objects(Bucket=bucket, Delimiter="/", Marker=resp["NextMarker"])
    assert [p["Prefix"] for p in resp["CommonPrefixes"]] == ["d/"] and "Contents" not in resp


# ---------------------------------------------------------------------------------------------
# Multipart.

def test_multipart_upload(s3, bucket):
    up = s3.create_multipart_upload(Bucket=bucket, Key="big", ContentType="application/x-big",
                                    Metadata={"m": "1"})
    uid = up["UploadId"]
    part1 = os.urandom(5 * MB)
    part2 = os.urandom(1234)
    e1 = s3.upload_part(Bucket=bucket, Key="big", UploadId=uid, PartNumber=1, Body=part1)["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key="big", UploadId=uid, PartNumber=2, Body=part2)["ETag"]
    parts = s3.list_parts(Bucket=bucket, Key="big", UploadId=uid)["Parts"]
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in parts] == [(1, e1, 5 * MB),
                                                                        (2, e2, 1234)]
    uploads = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in uploads] == [("big", uid)]
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="big", UploadId=uid, MultipartUpload={
            "Parts": [{"PartNumber": 2, "ETag": e2}, {"PartNumber": 1, "ETag": e1}]})
    assert error_of(e) == ("InvalidPartOrder", 400)
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="big", UploadId=uid, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": '"ffff"'}]})
    assert error_of(e) == ("InvalidPart", 400)
    resp = s3.complete_multipart_upload(Bucket=bucket, Key="big", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    digest = hashlib.md5(hashlib.md5(part1).digest() + hashlib.md5(part2).digest()).hexdigest()
    assert resp["ETag"] == f'"{digest}-2"'
    got = s3.get_object(Bucket=bucket, Key="big")
    assert got["Body"].read() == part1 + part2
    assert got["ETag"] == resp["ETag"]
    assert got["Metadata"] == {"m": "1"}
    assert got["ContentType"] == "application/x-big"
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    with pytest.raises(ClientError) as e:
        s3.list_parts(Bucket=bucket, Key="big", UploadId=uid)
    assert error_of(e) == ("NoSuchUpload", 404)
    # A copy of a multipart object is a one-part object: its ETag is the bytes' MD5.
    copied = s3.copy_object(Bucket=bucket, Key="big-copy", CopySource={"Bucket": bucket, "Key": "big"})
    assert copied["CopyObjectResult"]["ETag"] == '"%s"' % hashlib.md5(part1 + part2).hexdigest()
    assert s3.get_object(Bucket=bucket, Key="big-copy")["Body"].read() == part1 + part2


def test_multipart_small_part_and_abort(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="small")["UploadId"]
    e1 = s3.upload_part(Bucket=bucket, Key="small", UploadId=uid, PartNumber=1, Body=b"a")["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key="small", UploadId=uid, PartNumber=2, Body=b"b")["ETag"]
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="small", UploadId=uid, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
    assert error_of(e) == ("EntityTooSmall", 400)
    s3.abort_multipart_upload(Bucket=bucket, Key="small", UploadId=uid)
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="small", UploadId=uid, PartNumber=3, Body=b"c")
    assert error_of(e) == ("NoSuchUpload", 404)
    with pytest.raises(ClientError) as e:
        s3.abort_multipart_upload(Bucket=bucket, Key="small", UploadId="bogus")
    assert error_of(e) == ("NoSuchUpload", 404)
    # A single small part is fine: the last part may be small.
    uid = s3.create_multipart_upload(Bucket=bucket, Key="one")["UploadId"]
    e1 = s3.upload_part(Bucket=bucket, Key="one", UploadId=uid, PartNumber=1, Body=b"tiny")["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key="one", UploadId=uid,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}]})
    assert s3.get_object(Bucket=bucket, Key="one")["Body"].read() == b"tiny"


def test_upload_part_copy(s3, bucket):
    src = os.urandom(6 * MB)
    s3.put_object(Bucket=bucket, Key="src", Body=src)
    uid = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    r1 = s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=uid, PartNumber=1,
                             CopySource={"Bucket": bucket, "Key": "src"},
                             CopySourceRange=f"bytes=0-{5 * MB - 1}")
    r2 = s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=uid, PartNumber=2,
                             CopySource={"Bucket": bucket, "Key": "src"},
                             CopySourceRange=f"bytes={5 * MB}-{6 * MB - 1}")
    s3.complete_multipart_upload(Bucket=bucket, Key="dst", UploadId=uid, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": r1["CopyPartResult"]["ETag"]},
        {"PartNumber": 2, "ETag": r2["CopyPartResult"]["ETag"]}]})
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == src


# ---------------------------------------------------------------------------------------------
# Bucket notifications (configuration; delivery is unit-tested and wired by the triggers work).

def test_notification_configuration(s3, bucket, lambda_client, zip_bytes):
    fn = "objnotify-" + uuid.uuid4().hex[:8]
    lambda_client.create_function(
        FunctionName=fn, Runtime="python3.11", Handler="app.handler",
        Role="arn:aws:iam::000000000000:role/haneul-integration",
        Code={"ZipFile": zip_bytes({"app.py": "def handler(e, c):\n    return e\n"})})
    try:
        assert s3.get_bucket_notification_configuration(Bucket=bucket).get(
            "LambdaFunctionConfigurations", []) == []
        config = {"LambdaFunctionConfigurations": [{
            "Id": "resize", "LambdaFunctionArn": function_arn(fn),
            "Events": ["s3:ObjectCreated:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "input/"},
                                               {"Name": "suffix", "Value": ".jpg"}]}}}, {
            "Id": "removed", "LambdaFunctionArn": function_arn(fn),
            "Events": ["s3:ObjectRemoved:Delete"]}]}
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)
        got = s3.get_bucket_notification_configuration(Bucket=bucket)
        confs = got["LambdaFunctionConfigurations"]
        assert [c["Id"] for c in confs] == ["resize", "removed"]
        assert confs[0]["LambdaFunctionArn"] == function_arn(fn)
        assert confs[0]["Events"] == ["s3:ObjectCreated:*"]
        assert confs[0]["Filter"]["Key"]["FilterRules"] == [
            {"Name": "Prefix", "Value": "input/"}, {"Name": "Suffix", "Value": ".jpg"}]
        # Overlapping prefixes for a shared event type.
        with pytest.raises(ClientError) as e:
            s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
                "LambdaFunctionConfigurations": [
                    {"LambdaFunctionArn": function_arn(fn), "Events": ["s3:ObjectCreated:*"],
                     "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in"}]}}},
                    {"LambdaFunctionArn": function_arn(fn), "Events": ["s3:ObjectCreated:Put"],
                     "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "input/"}]}}}]})
        assert error_of(e) == ("InvalidArgument", 400)
        assert "Configurations overlap" in e.value.response["Error"]["Message"]
        # A function that does not exist.
        with pytest.raises(ClientError) as e:
            s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
                "LambdaFunctionConfigurations": [
                    {"LambdaFunctionArn": function_arn("no-such-fn-" + uuid.uuid4().hex[:6]),
                     "Events": ["s3:ObjectCreated:*"]}]})
        assert error_of(e) == ("InvalidArgument", 400)
        assert e.value.response["Error"]["Message"] == \
            "Unable to validate the following destination configurations"
        # The failed puts left the stored configuration alone; an empty one clears it.
        assert len(s3.get_bucket_notification_configuration(Bucket=bucket)[
            "LambdaFunctionConfigurations"]) == 2
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
        assert s3.get_bucket_notification_configuration(Bucket=bucket).get(
            "LambdaFunctionConfigurations", []) == []
    finally:
        lambda_client.delete_function(FunctionName=fn)


# ---------------------------------------------------------------------------------------------
# Protocol details.

def test_error_xml_shape_and_unsigned_requests(endpoint, s3, bucket):
    s3.put_object(Bucket=bucket, Key="pub", Body=b"plain http")
    # Unsigned GET (curl-style) is answered by the object store.
    with urllib.request.urlopen(f"{endpoint}/{bucket}/pub") as resp:
        assert resp.read() == b"plain http"
        assert resp.headers["x-amz-request-id"]
    try:
        urllib.request.urlopen(f"{endpoint}/{bucket}/missing")
        raise AssertionError("expected 404")
    except urllib.error.HTTPError as e:
        body = e.read().decode()
        assert e.code == 404
        assert "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>" \
            "<Key>missing</Key><RequestId>" in body
        assert e.headers["x-amz-request-id"] in body


def test_presigned_url(s3, bucket):
    s3.put_object(Bucket=bucket, Key="signed", Body=b"presigned")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "signed"})
    with urllib.request.urlopen(url) as resp:
        assert resp.read() == b"presigned"


def test_virtual_host_style(endpoint, s3, bucket):
    s3.put_object(Bucket=bucket, Key="vh/key", Body=b"virtual")
    port = endpoint.rsplit(":", 1)[1]
    req = urllib.request.Request(f"{endpoint}/vh/key",
                                 headers={"Host": f"{bucket}.s3.localhost:{port}"})
    with urllib.request.urlopen(req) as resp:
        assert resp.read() == b"virtual"


def test_content_md5(s3, bucket):
    body = b"checked"
    s3.put_object(Bucket=bucket, Key="md5", Body=body,
                  ContentMD5=base64.b64encode(hashlib.md5(body).digest()).decode())
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="md5", Body=body,
                      ContentMD5=base64.b64encode(hashlib.md5(b"other").digest()).decode())
    assert error_of(e) == ("BadDigest", 400)
    # Flexible checksums: verified, stored, returned with ChecksumMode=ENABLED.
    for algorithm in ["CRC32", "CRC32C", "SHA1", "SHA256"]:
        put = s3.put_object(Bucket=bucket, Key="ck", Body=body, ChecksumAlgorithm=algorithm)
        assert put["Checksum" + algorithm]
        got = s3.get_object(Bucket=bucket, Key="ck", ChecksumMode="ENABLED")
        assert got["Checksum" + algorithm] == put["Checksum" + algorithm]
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="ck", Body=body, ChecksumCRC32="AAAAAA==")
    assert error_of(e) == ("BadDigest", 400)


def test_aws_chunked_bodies(endpoint, bucket, s3):
    """Bodies framed as aws-chunked, with chunk signatures and with trailing checksums."""
    from lambda_helpers import sign_and_send
    signed = (b"5;chunk-signature=" + b"0" * 64 + b"\r\nhello\r\n"
              b"6;chunk-signature=" + b"1" * 64 + b"\r\n world\r\n"
              b"0;chunk-signature=" + b"2" * 64 + b"\r\n\r\n")
    status, headers, _ = sign_and_send(
        endpoint, "PUT", f"/{bucket}/chunked", signed, service="s3",
        headers={"x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                 "Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": "11",
                 "Content-Type": "text/plain"})
    assert status == 200
    got = s3.get_object(Bucket=bucket, Key="chunked")
    assert got["Body"].read() == b"hello world"
    assert got.get("ContentEncoding") in (None, "")
    trailer = b"3\r\nabc\r\n0\r\nx-amz-checksum-crc32:NSRBwg==\r\n\r\n"
    status, headers, _ = sign_and_send(
        endpoint, "PUT", f"/{bucket}/trailer", trailer, service="s3",
        headers={"x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                 "Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": "3",
                 "x-amz-trailer": "x-amz-checksum-crc32"})
    assert status == 200
    assert s3.get_object(Bucket=bucket, Key="trailer")["Body"].read() == b"abc"
    status, _, body = sign_and_send(
        endpoint, "PUT", f"/{bucket}/broken", b"zz\r\nabc", service="s3",
        headers={"x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                 "Content-Encoding": "aws-chunked"})
    assert status == 400 and b"IncompleteBody" in body


def test_not_implemented_subresources(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.get_bucket_policy(Bucket=bucket)
    assert error_of(e) == ("NotImplemented", 501)


def test_other_services_still_routed(endpoint, lambda_client):
    # Lambda's paths and signed requests of other services are not swallowed by S3.
    assert "Functions" in lambda_client.list_functions()


# ---------------------------------------------------------------------------------------------
# awscli and the JS SDK.

def test_awscli_cp_ls_and_multipart(aws, tmp_path):
    name = "cli-" + uuid.uuid4().hex[:12]
    aws("s3", "mb", f"s3://{name}")
    small = tmp_path / "small.txt"
    small.write_text("hello awscli\n")
    big = tmp_path / "big.bin"
    data = os.urandom(20 * MB + 12345)
    big.write_bytes(data)
    aws("s3", "cp", str(small), f"s3://{name}/docs/small.txt")
    aws("s3", "cp", str(big), f"s3://{name}/data/big.bin")
    ls = aws("s3", "ls", f"s3://{name}/", "--recursive").stdout
    assert "docs/small.txt" in ls and "data/big.bin" in ls and str(len(data)) in ls
    top = aws("s3", "ls", f"s3://{name}/").stdout
    assert "PRE docs/" in top and "PRE data/" in top
    head = aws("s3api", "head-object", "--bucket", name, "--key", "data/big.bin").json
    assert head["ETag"].endswith('-3"'), head  # 8 MB parts: 3 parts
    out = tmp_path / "back.bin"
    aws("s3", "cp", f"s3://{name}/data/big.bin", str(out))
    assert out.read_bytes() == data
    aws("s3", "sync", f"s3://{name}/docs", str(tmp_path / "synced"))
    assert (tmp_path / "synced" / "small.txt").read_text() == "hello awscli\n"
    aws("s3", "cp", f"s3://{name}/docs/small.txt", str(tmp_path / "small-back.txt"))
    assert (tmp_path / "small-back.txt").read_text() == "hello awscli\n"
    aws("s3", "rm", f"s3://{name}", "--recursive")
    aws("s3", "rb", f"s3://{name}")
    res = aws("s3api", "get-object", "--bucket", name, "--key", "x", "/dev/null", check=False)
    assert res.rc != 0 and "NoSuchBucket" in res.stderr


def test_js_sdk(endpoint):
    name = "js-" + uuid.uuid4().hex[:12]
    proc = subprocess.run(["node", os.path.join(HERE, "objects_sdk.mjs"), endpoint, name],
                          cwd=HERE, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["body"] == "hello from js"
    assert out["putEtag"] == '"%s"' % hashlib.md5(b"hello from js").hexdigest()
    assert out["contentType"] == "text/plain"
    assert out["metadata"] == {"origin": "node"}
    assert out["keys"] == ["js/hello world.txt"]
    assert out["missing"] == "NoSuchKey"
    assert out["streamedOk"] is True
    assert out["streamChecksum"] and out["streamedChecksum"] == out["streamChecksum"]


# ---------------------------------------------------------------------------------------------
# Durability.

def test_restart_keeps_objects(server_factory, tmp_path):
    data_dir = str(tmp_path / "data")
    srv = server_factory(data_dir)
    s3 = make_s3(srv.endpoint)
    s3.create_bucket(Bucket="keep")
    s3.put_object(Bucket="keep", Key="k", Body=b"survives", Metadata={"x": "y"})
    uid = s3.create_multipart_upload(Bucket="keep", Key="pending")["UploadId"]
    s3.upload_part(Bucket="keep", Key="pending", UploadId=uid, PartNumber=1, Body=b"part")
    s3.put_bucket_notification_configuration(Bucket="keep", NotificationConfiguration={})
    srv.stop()
    srv = server_factory(data_dir)
    s3 = make_s3(srv.endpoint)
    got = s3.get_object(Bucket="keep", Key="k")
    assert got["Body"].read() == b"survives" and got["Metadata"] == {"x": "y"}
    parts = s3.list_parts(Bucket="keep", Key="pending", UploadId=uid)["Parts"]
    assert [p["Size"] for p in parts] == [4]
    # No stray temp files or unreferenced blobs.
    assert os.listdir(os.path.join(data_dir, "objects", "tmp")) == []
    blobs = [f for _, _, files in os.walk(os.path.join(data_dir, "objects", "blobs")) for f in files]
    assert len(blobs) == 2
