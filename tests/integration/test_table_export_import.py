"""ExportTableToPointInTime / ImportTable between the table service and the bundled object store,
and the read-cache counters on /metrics, through boto3 (`dynamodb`, `s3`) against a real
`haneul serve`.

Exports and imports are jobs: the tests poll DescribeExport / DescribeImport until the job leaves
IN_PROGRESS (a deadline, not a sleep standing in for synchronisation).
"""

import base64
import csv
import gzip
import hashlib
import io
import json
import os
import subprocess
import time
import urllib.request
import uuid
from decimal import Decimal

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from lambda_helpers import REGION

HERE = os.path.dirname(os.path.abspath(__file__))


def make(service, endpoint, **extra):
    cfg = Config(retries={"max_attempts": 0}, read_timeout=60, connect_timeout=10, **extra)
    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test",
                                    region_name=REGION)
    return session.client(service, endpoint_url=endpoint, config=cfg)


@pytest.fixture(scope="module")
def ddb(endpoint):
    return make("dynamodb", endpoint)


@pytest.fixture(scope="module")
def s3(endpoint):
    return make("s3", endpoint, s3={"addressing_style": "path"})


@pytest.fixture
def bucket(s3):
    name = "exp-" + uuid.uuid4().hex[:16]
    s3.create_bucket(Bucket=name)
    return name


def unique(prefix="ei"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create_table(ddb, name, range_key=True, pitr=True):
    attributes = [{"AttributeName": "pk", "AttributeType": "S"}]
    keys = [{"AttributeName": "pk", "KeyType": "HASH"}]
    if range_key:
        attributes.append({"AttributeName": "sk", "AttributeType": "N"})
        keys.append({"AttributeName": "sk", "KeyType": "RANGE"})
    ddb.create_table(TableName=name, AttributeDefinitions=attributes, KeySchema=keys,
                     BillingMode="PAY_PER_REQUEST")
    if pitr:
        ddb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    return ddb.describe_table(TableName=name)["Table"]


def scan_all(ddb, name):
    items, kwargs = [], {"TableName": name}
    while True:
        page = ddb.scan(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def keyed(items, keys=("pk", "sk")):
    return {tuple(json.dumps(item.get(k), sort_keys=True) for k in keys): item for item in items}


def wait_export(ddb, arn, deadline=60):
    end = time.time() + deadline
    while True:
        description = ddb.describe_export(ExportArn=arn)["ExportDescription"]
        if description["ExportStatus"] != "IN_PROGRESS" or time.time() > end:
            return description
        time.sleep(0.05)


def wait_import(ddb, arn, deadline=60):
    end = time.time() + deadline
    while True:
        description = ddb.describe_import(ImportArn=arn)["ImportTableDescription"]
        if description["ImportStatus"] != "IN_PROGRESS" or time.time() > end:
            return description
        time.sleep(0.05)


def sample_items(count):
    items = []
    for i in range(count):
        item = {"pk": {"S": f"user-{i % 37}"}, "sk": {"N": str(i)},
                "name": {"S": f"name {i} ünïcode \"quoted\"\nnewline"},
                "score": {"N": str(Decimal(i) / 7)[:20]},
                "flag": {"BOOL": i % 2 == 0},
                "tags": {"SS": [f"t{i}", "common"]},
                "blob": {"B": bytes([i % 256, 0, 255])},
                "nested": {"M": {"list": {"L": [{"N": "1"}, {"S": "x"}, {"NULL": True}]}}}}
        if i % 5 == 0:
            item["nums"] = {"NS": ["1", "2.5", str(i)]}
        items.append(item)
    return items


def put_all(ddb, name, items):
    for start in range(0, len(items), 25):
        ddb.batch_write_item(RequestItems={
            name: [{"PutRequest": {"Item": item}} for item in items[start:start + 25]]})


def test_export_writes_dynamodb_layout_and_reimport_equals_source(ddb, s3, bucket):
    source = unique("src")
    table = create_table(ddb, source)
    items = sample_items(1200)
    put_all(ddb, source, items)

    started = ddb.export_table_to_point_in_time(
        TableArn=table["TableArn"], S3Bucket=bucket, S3Prefix="exports/daily",
        ExportFormat="DYNAMODB_JSON")["ExportDescription"]
    assert started["ExportStatus"] in ("IN_PROGRESS", "COMPLETED")
    assert started["ExportArn"].startswith(table["TableArn"] + "/export/")
    assert started["S3Bucket"] == bucket and started["S3Prefix"] == "exports/daily"
    # Writes after the export started are not in it (the export time is the request's moment).
    ddb.put_item(TableName=source, Item={"pk": {"S": "late"}, "sk": {"N": "1"}})

    done = wait_export(ddb, started["ExportArn"])
    assert done["ExportStatus"] == "COMPLETED", done
    assert done["ItemCount"] == len(items)
    assert done["BilledSizeBytes"] > 0
    export_id = started["ExportArn"].rsplit("/", 1)[1]
    root = f"exports/daily/AWSDynamoDB/{export_id}/"
    assert done["ExportManifest"] == root + "manifest-summary.json"

    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=root)["Contents"]}
    for name in ("_started", "manifest-summary.json", "manifest-summary.checksum",
                 "manifest-files.json", "manifest-files.checksum"):
        assert root + name in keys
    assert s3.get_object(Bucket=bucket, Key=root + "_started")["Body"].read() == b""

    summary_bytes = s3.get_object(Bucket=bucket, Key=root + "manifest-summary.json")["Body"].read()
    summary = json.loads(summary_bytes)
    assert summary["version"] == "2020-06-30"
    assert summary["exportArn"] == started["ExportArn"]
    assert summary["tableArn"] == table["TableArn"]
    assert summary["tableId"] == table["TableId"]
    assert summary["s3Bucket"] == bucket and summary["s3Prefix"] == "exports/daily"
    assert summary["outputFormat"] == "DYNAMODB_JSON"
    assert summary["itemCount"] == len(items)
    assert summary["billedSizeBytes"] == done["BilledSizeBytes"]
    assert summary["manifestFilesS3Key"] == root + "manifest-files.json"
    for field in ("startTime", "endTime", "exportTime"):
        assert summary[field].endswith("Z") and "T" in summary[field]
    checksum = s3.get_object(Bucket=bucket, Key=root + "manifest-summary.checksum")["Body"].read()
    assert checksum.decode() == hashlib.md5(summary_bytes).hexdigest()

    files_text = s3.get_object(Bucket=bucket, Key=root + "manifest-files.json")["Body"].read()
    entries = [json.loads(line) for line in files_text.decode().splitlines() if line]
    assert sum(e["itemCount"] for e in entries) == len(items)
    exported = []
    for entry in entries:
        assert entry["dataFileS3Key"].startswith(root + "data/")
        assert entry["dataFileS3Key"].endswith(".json.gz")
        body = s3.get_object(Bucket=bucket, Key=entry["dataFileS3Key"])["Body"].read()
        assert base64.b64decode(entry["md5Checksum"]) == hashlib.md5(body).digest()
        assert entry["etag"] == hashlib.md5(body).hexdigest()
        lines = gzip.decompress(body).decode().splitlines()
        assert len(lines) == entry["itemCount"]
        for line in lines:
            record = json.loads(line)
            assert list(record) == ["Item"]
            exported.append(record["Item"])
    # The gz lines are DynamoDB JSON: the same items as the table held at export time.
    source_items = [i for i in scan_all(ddb, source) if i["pk"]["S"] != "late"]
    assert keyed(exported_wire(exported)) == keyed(source_items)

    # Re-import the export's data files into a new table: equal to the source.
    target = unique("dst")
    imported = ddb.import_table(
        S3BucketSource={"S3Bucket": bucket, "S3KeyPrefix": root + "data/"},
        InputFormat="DYNAMODB_JSON", InputCompressionType="GZIP",
        TableCreationParameters={
            "TableName": target,
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                     {"AttributeName": "sk", "AttributeType": "N"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                          {"AttributeName": "sk", "KeyType": "RANGE"}],
            "BillingMode": "PAY_PER_REQUEST"})["ImportTableDescription"]
    assert imported["ImportArn"].startswith(imported["TableArn"] + "/import/")
    finished = wait_import(ddb, imported["ImportArn"])
    assert finished["ImportStatus"] == "COMPLETED", finished
    assert finished["ImportedItemCount"] == len(items)
    assert finished["ProcessedItemCount"] == len(items)
    assert finished["ErrorCount"] == 0
    assert finished["ProcessedSizeBytes"] > 0
    assert keyed(scan_all(ddb, target)) == keyed(source_items)

    assert any(s["ExportArn"] == started["ExportArn"] and s["ExportStatus"] == "COMPLETED"
               for s in ddb.list_exports(TableArn=table["TableArn"])["ExportSummaries"])
    listed = ddb.list_imports(TableArn=finished["TableArn"])["ImportSummaryList"]
    assert [s["ImportArn"] for s in listed] == [imported["ImportArn"]]
    assert listed[0]["ImportStatus"] == "COMPLETED"


def exported_wire(items):
    """Export lines as the wire shape boto3's client returns (B as bytes)."""
    def convert(value):
        (kind, inner), = value.items()
        if kind == "B":
            return {"B": base64.b64decode(inner)}
        if kind == "BS":
            return {"BS": [base64.b64decode(v) for v in inner]}
        if kind == "M":
            return {"M": {k: convert(v) for k, v in inner.items()}}
        if kind == "L":
            return {"L": [convert(v) for v in inner]}
        return value
    return [{k: convert(v) for k, v in item.items()} for item in items]


def test_export_at_a_past_time_holds_the_items_of_that_time(ddb, s3, bucket):
    name = unique()
    table = create_table(ddb, name)
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "v": {"S": "old"}})
    ddb.put_item(TableName=name, Item={"pk": {"S": "b"}, "sk": {"N": "1"}})
    # PITR times are in seconds: wait for the next second, then change things.
    first = time.time()
    while int(time.time()) == int(first):
        time.sleep(0.02)
    middle = time.time()
    while int(time.time()) == int(middle):
        time.sleep(0.02)
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "v": {"S": "new"}})
    ddb.delete_item(TableName=name, Key={"pk": {"S": "b"}, "sk": {"N": "1"}})
    ddb.put_item(TableName=name, Item={"pk": {"S": "c"}, "sk": {"N": "1"}})
    started = ddb.export_table_to_point_in_time(
        TableArn=table["TableArn"], S3Bucket=bucket,
        ExportTime=int(middle))["ExportDescription"]
    done = wait_export(ddb, started["ExportArn"])
    assert done["ExportStatus"] == "COMPLETED", done
    assert "S3Prefix" not in done
    root = "AWSDynamoDB/" + started["ExportArn"].rsplit("/", 1)[1] + "/"
    files = s3.get_object(Bucket=bucket, Key=root + "manifest-files.json")["Body"].read()
    items = []
    for line in files.decode().splitlines():
        key = json.loads(line)["dataFileS3Key"]
        body = gzip.decompress(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        items += [json.loads(l)["Item"] for l in body.decode().splitlines()]
    assert sorted((i["pk"]["S"], i.get("v", {}).get("S")) for i in items) == [
        ("a", "old"), ("b", None)]


def test_export_without_pitr_is_refused_as_dynamodb_refuses_it(ddb, bucket):
    table = create_table(ddb, unique(), pitr=False)
    with pytest.raises(ClientError) as error:
        ddb.export_table_to_point_in_time(TableArn=table["TableArn"], S3Bucket=bucket)
    assert error.value.response["Error"]["Code"] == "PointInTimeRecoveryUnavailableException"
    with pytest.raises(ClientError) as error:
        ddb.export_table_to_point_in_time(
            TableArn=table["TableArn"].replace(table["TableName"], "no-such-table"), S3Bucket=bucket)
    assert error.value.response["Error"]["Code"] == "TableNotFoundException"
    with pytest.raises(ClientError) as error:
        ddb.describe_export(ExportArn=table["TableArn"] + "/export/01700000000000-deadbeef")
    assert error.value.response["Error"]["Code"] == "ExportNotFoundException"


def test_export_format_ion_and_future_time_are_refused(ddb, bucket):
    table = create_table(ddb, unique())
    with pytest.raises(ClientError) as error:
        ddb.export_table_to_point_in_time(TableArn=table["TableArn"], S3Bucket=bucket,
                                          ExportFormat="ION")
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert "ION" in error.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as error:
        ddb.export_table_to_point_in_time(TableArn=table["TableArn"], S3Bucket=bucket,
                                          ExportTime=time.time() + 3600)
    assert error.value.response["Error"]["Code"] == "InvalidExportTimeException"


def test_export_client_token_is_idempotent(ddb, bucket):
    table = create_table(ddb, unique())
    token = uuid.uuid4().hex
    first = ddb.export_table_to_point_in_time(TableArn=table["TableArn"], S3Bucket=bucket,
                                              ClientToken=token)["ExportDescription"]
    again = ddb.export_table_to_point_in_time(TableArn=table["TableArn"], S3Bucket=bucket,
                                              ClientToken=token)["ExportDescription"]
    assert again["ExportArn"] == first["ExportArn"]
    with pytest.raises(ClientError) as error:
        ddb.export_table_to_point_in_time(TableArn=table["TableArn"], S3Bucket=bucket,
                                          S3Prefix="other", ClientToken=token)
    assert error.value.response["Error"]["Code"] == "ExportConflictException"
    assert wait_export(ddb, first["ExportArn"])["ExportStatus"] == "COMPLETED"


def test_export_to_a_missing_bucket_fails_with_the_s3_error(ddb):
    table = create_table(ddb, unique())
    started = ddb.export_table_to_point_in_time(
        TableArn=table["TableArn"], S3Bucket="no-such-bucket-" + uuid.uuid4().hex[:8])
    done = wait_export(ddb, started["ExportDescription"]["ExportArn"])
    assert done["ExportStatus"] == "FAILED"
    assert done["FailureCode"] == "NoSuchBucket"
    assert done["FailureMessage"]


def csv_params(name, **extra):
    params = {"TableName": name,
              "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"},
                                       {"AttributeName": "n", "AttributeType": "N"}],
              "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"},
                            {"AttributeName": "n", "KeyType": "RANGE"}]}
    params.update(extra)
    return params


def test_csv_import_types_keys_and_keeps_the_rest_as_strings(ddb, s3, bucket):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "n", "city", "note"])
    writer.writerow(["a", "1", "Seoul", "plain"])
    writer.writerow(["a", "2", "Busan", "with, comma and \"quotes\""])
    writer.writerow(["b", "10", "Jeju", "multi\nline"])
    s3.put_object(Bucket=bucket, Key="csv/part-1.csv", Body=out.getvalue().encode())
    # A second file under the same prefix with its own header, gzip'd.
    s3.put_object(Bucket=bucket, Key="csv/part-2.csv",
                  Body="id,n,city,note\nc,3,Daegu,\n".encode())
    name = unique("csv")
    started = ddb.import_table(S3BucketSource={"S3Bucket": bucket, "S3KeyPrefix": "csv/"},
                               InputFormat="CSV",
                               TableCreationParameters=csv_params(name))["ImportTableDescription"]
    done = wait_import(ddb, started["ImportArn"])
    assert done["ImportStatus"] == "COMPLETED", done
    assert done["ImportedItemCount"] == 4 and done["ErrorCount"] == 0
    items = keyed(scan_all(ddb, name), keys=("id", "n"))
    assert len(items) == 4
    second = ddb.get_item(TableName=name, Key={"id": {"S": "a"}, "n": {"N": "2"}})["Item"]
    assert second == {"id": {"S": "a"}, "n": {"N": "2"}, "city": {"S": "Busan"},
                      "note": {"S": "with, comma and \"quotes\""}}
    assert ddb.get_item(TableName=name, Key={"id": {"S": "b"}, "n": {"N": "10"}})["Item"][
        "note"] == {"S": "multi\nline"}
    assert ddb.describe_table(TableName=name)["Table"]["TableStatus"] == "ACTIVE"


def test_csv_import_with_delimiter_and_header_list_gzip(ddb, s3, bucket):
    body = gzip.compress("x|1|red\ny|2|blue\n".encode())
    s3.put_object(Bucket=bucket, Key="pipe/data.csv.gz", Body=body)
    name = unique("csvh")
    started = ddb.import_table(
        S3BucketSource={"S3Bucket": bucket, "S3KeyPrefix": "pipe/"}, InputFormat="CSV",
        InputCompressionType="GZIP",
        InputFormatOptions={"Csv": {"Delimiter": "|", "HeaderList": ["id", "n", "colour"]}},
        TableCreationParameters=csv_params(name))["ImportTableDescription"]
    done = wait_import(ddb, started["ImportArn"])
    assert done["ImportStatus"] == "COMPLETED", done
    assert done["ImportedItemCount"] == 2
    assert ddb.get_item(TableName=name, Key={"id": {"S": "y"}, "n": {"N": "2"}})["Item"][
        "colour"] == {"S": "blue"}


def test_malformed_lines_are_counted_and_the_rest_imported(ddb, s3, bucket, server):
    lines = [
        '{"Item":{"pk":{"S":"ok1"},"v":{"N":"1"}}}',
        'this is not json',
        '{"Item":{"pk":{"S":"ok2"}}}',
        '{"NotItem":{}}',
        '{"Item":{"pk":{"N":"5"}}}',            # key of the wrong type: refused by PutItem
        '{"Item":{"pk":{"S":"ok3"},"bad":{"X":"1"}}}',
        '',
        '{"Item":{"pk":{"S":"ok4"},"n":{"N":"not-a-number"}}}',
        '{"Item":{"pk":{"S":"ok5"},"l":{"L":[{"S":"x"}]}}}',
    ]
    s3.put_object(Bucket=bucket, Key="mixed/file.json", Body="\n".join(lines).encode())
    name = unique("bad")
    offset = server.log_size()
    started = ddb.import_table(
        S3BucketSource={"S3Bucket": bucket, "S3KeyPrefix": "mixed/"},
        InputFormat="DYNAMODB_JSON",
        TableCreationParameters={
            "TableName": name,
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST"})["ImportTableDescription"]
    done = wait_import(ddb, started["ImportArn"])
    assert done["ImportStatus"] == "COMPLETED", done
    assert done["ProcessedItemCount"] == 8
    assert done["ErrorCount"] == 5
    assert done["ImportedItemCount"] == 3
    assert sorted(i["pk"]["S"] for i in scan_all(ddb, name)) == ["ok1", "ok2", "ok5"]
    log = server.log_text(offset)
    assert started["ImportArn"] in log and "line 2" in log and "not valid JSON" in log


def test_import_onto_an_existing_table_is_refused(ddb, bucket):
    name = unique()
    create_table(ddb, name, pitr=False)
    with pytest.raises(ClientError) as error:
        ddb.import_table(S3BucketSource={"S3Bucket": bucket}, InputFormat="DYNAMODB_JSON",
                         TableCreationParameters={
                             "TableName": name,
                             "AttributeDefinitions": [{"AttributeName": "pk",
                                                       "AttributeType": "S"}],
                             "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]})
    assert error.value.response["Error"]["Code"] == "ResourceInUseException"
    with pytest.raises(ClientError) as error:
        ddb.describe_import(ImportArn="arn:aws:dynamodb:us-east-1:000000000000:table/x/import/"
                                      "01700000000000-deadbeef")
    assert error.value.response["Error"]["Code"] == "ImportNotFoundException"


def test_import_from_a_missing_bucket_fails_and_leaves_no_table(ddb):
    name = unique("nob")
    started = ddb.import_table(
        S3BucketSource={"S3Bucket": "no-such-bucket-" + uuid.uuid4().hex[:8]},
        InputFormat="DYNAMODB_JSON",
        TableCreationParameters={
            "TableName": name,
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]})["ImportTableDescription"]
    done = wait_import(ddb, started["ImportArn"])
    assert done["ImportStatus"] == "FAILED"
    assert done["FailureCode"] == "NoSuchBucket"
    assert name not in ddb.list_tables()["TableNames"]


def read_metrics(endpoint):
    with urllib.request.urlopen(endpoint + "/metrics", timeout=30) as resp:
        return resp.read().decode()


def metric(text, name, table):
    needle = f'{name}{{table="{table}"}} '
    for line in text.splitlines():
        if line.startswith(needle):
            return int(line[len(needle):])
    return None


def test_read_cache_counters_on_metrics(ddb, endpoint):
    name = unique("cache")
    ddb.create_table(TableName=name,
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     BillingMode="PAY_PER_REQUEST",
                     Tags=[{"Key": "haneul:read-cache", "Value": "on"}])
    ddb.put_item(TableName=name, Item={"pk": {"S": "k"}, "v": {"S": "1"}})
    text = read_metrics(endpoint)
    assert "# TYPE haneul_table_read_cache_hits_total counter" in text
    assert "# TYPE haneul_table_read_cache_misses_total counter" in text
    assert metric(text, "haneul_table_read_cache_hits_total", name) == 0
    assert metric(text, "haneul_table_read_cache_misses_total", name) == 0
    ddb.get_item(TableName=name, Key={"pk": {"S": "k"}})   # miss, then cached
    for _ in range(3):
        ddb.get_item(TableName=name, Key={"pk": {"S": "k"}})  # hits
    ddb.get_item(TableName=name, Key={"pk": {"S": "k"}}, ConsistentRead=True)  # bypasses
    text = read_metrics(endpoint)
    assert metric(text, "haneul_table_read_cache_hits_total", name) == 3
    assert metric(text, "haneul_table_read_cache_misses_total", name) == 1
    # The invoker's own series are still on the page.
    assert "haneul_lambda_" in text


def test_an_import_cut_short_by_a_stop_fails_and_leaves_no_table(server_factory, tmp_path):
    data = str(tmp_path / "restart-data")
    srv = server_factory(data)
    ddb, s3 = make("dynamodb", srv.endpoint), make("s3", srv.endpoint,
                                                      s3={"addressing_style": "path"})
    s3.create_bucket(Bucket="restart-bucket")
    count = 50000
    body = "\n".join(json.dumps({"Item": {"pk": {"S": f"k{i}"}, "v": {"S": "x" * 200}}})
                     for i in range(count))
    s3.put_object(Bucket="restart-bucket", Key="big/data.json.gz", Body=gzip.compress(body.encode()))
    started = ddb.import_table(
        S3BucketSource={"S3Bucket": "restart-bucket", "S3KeyPrefix": "big/"},
        InputFormat="DYNAMODB_JSON", InputCompressionType="GZIP",
        TableCreationParameters={
            "TableName": "restarted",
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]})["ImportTableDescription"]
    srv.stop()
    srv = server_factory(data)
    ddb = make("dynamodb", srv.endpoint)
    done = wait_import(ddb, started["ImportArn"])
    # Almost always the stop lands mid-import; should the import have won the race, it is whole.
    if done["ImportStatus"] == "FAILED":
        assert done["FailureCode"] == "InternalServerError"
        assert "restarted" not in ddb.list_tables()["TableNames"]
    else:
        assert done["ImportStatus"] == "COMPLETED"
        assert len(scan_all(ddb, "restarted")) == count


def test_javascript_sdk(endpoint):
    """@aws-sdk/client-dynamodb and client-s3: export, read the files, re-import."""
    script = os.path.join(HERE, "table_export_sdk_check.mjs")
    env = dict(os.environ, HANEUL_ENDPOINT=endpoint, TABLE_NAME=unique("js"),
               BUCKET="js-" + uuid.uuid4().hex[:12])
    env.pop("NODE_EXTRA_CA_CERTS", None)
    proc = subprocess.run(["node", script], cwd=HERE, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "export sdk ok" in proc.stdout
