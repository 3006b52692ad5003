"""The DynamoDB-compatible table service, driven by boto3 (client and resource APIs), awscli and
the AWS SDK for JavaScript v3 against a real `haneul serve`.

Covers every operation, the main validation errors with DynamoDB's wording, secondary indexes,
a randomized comparison against an in-memory model, and durability across SIGKILL.
"""

import base64
import decimal
import json
import os
import random
import signal
import subprocess
import uuid

import boto3
import pytest
from boto3.dynamodb.conditions import Attr, Key
from botocore.config import Config
from botocore.exceptions import ClientError

from lambda_helpers import REGION

HERE = os.path.dirname(os.path.abspath(__file__))


def make_client(endpoint, **config):
    cfg = Config(retries={"max_attempts": 0}, read_timeout=60, connect_timeout=10, **config)
    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test",
                                    region_name=REGION)
    return session.client("dynamodb", endpoint_url=endpoint, config=cfg)


def make_resource(endpoint):
    cfg = Config(retries={"max_attempts": 0}, read_timeout=60, connect_timeout=10)
    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test",
                                    region_name=REGION)
    return session.resource("dynamodb", endpoint_url=endpoint, config=cfg)


@pytest.fixture(scope="module")
def ddb(endpoint):
    return make_client(endpoint)


@pytest.fixture(scope="module")
def raw_ddb(endpoint):
    """A client that does not validate parameters, to send what DynamoDB must reject."""
    return make_client(endpoint, parameter_validation=False)


@pytest.fixture(scope="module")
def resource(endpoint):
    return make_resource(endpoint)


def raw_call(endpoint, operation, body):
    """One JSON 1.0 request without an SDK (for parameters Debian's botocore does not know)."""
    import urllib.error
    import urllib.request
    req = urllib.request.Request(endpoint + "/", data=json.dumps(body).encode(), method="POST", headers={
        "X-Amz-Target": "DynamoDB_20120810." + operation, "Content-Type": "application/x-amz-json-1.0",
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/aws4_request, "
                         "SignedHeaders=host, Signature=0", "X-Amz-Date": "20260101T000000Z"})
    try:
        with urllib.request.urlopen(req) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def unique(prefix="tbl"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create(ddb, name=None, hash_type="S", range_type=None, **extra):
    name = name or unique()
    defs = [{"AttributeName": "pk", "AttributeType": hash_type}]
    keys = [{"AttributeName": "pk", "KeyType": "HASH"}]
    if range_type:
        defs.append({"AttributeName": "sk", "AttributeType": range_type})
        keys.append({"AttributeName": "sk", "KeyType": "RANGE"})
    defs += extra.pop("extra_defs", [])
    ddb.create_table(TableName=name, AttributeDefinitions=defs, KeySchema=keys,
                     BillingMode="PAY_PER_REQUEST", **extra)
    return name


@pytest.fixture
def table(ddb):
    name = create(ddb, range_type="N")
    yield name
    ddb.delete_table(TableName=name)


def error_of(excinfo):
    err = excinfo.value.response["Error"]
    return err["Code"], err["Message"]


# ---------------------------------------------------------------------------------------------
# Control plane.

def test_table_lifecycle_describe_list_delete(ddb):
    name = unique()
    resp = ddb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 7},
        Tags=[{"Key": "team", "Value": "core"}])
    desc = resp["TableDescription"]
    assert desc["TableName"] == name
    assert desc["TableStatus"] in ("CREATING", "ACTIVE")
    assert desc["TableArn"] == f"arn:aws:dynamodb:us-east-1:000000000000:table/{name}"
    assert desc["ProvisionedThroughput"]["ReadCapacityUnits"] == 5
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.1})
    table = ddb.describe_table(TableName=name)["Table"]
    assert table["TableStatus"] == "ACTIVE"
    assert table["ItemCount"] == 0 and table["TableSizeBytes"] == 0
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert name in ddb.list_tables()["TableNames"]
    tags = ddb.list_tags_of_resource(ResourceArn=table["TableArn"])["Tags"]
    assert tags == [{"Key": "team", "Value": "core"}]
    ddb.tag_resource(ResourceArn=table["TableArn"], Tags=[{"Key": "env", "Value": "dev"}])
    ddb.untag_resource(ResourceArn=table["TableArn"], TagKeys=["team"])
    assert ddb.list_tags_of_resource(ResourceArn=table["TableArn"])["Tags"] == [
        {"Key": "env", "Value": "dev"}]
    updated = ddb.update_table(TableName=name, BillingMode="PAY_PER_REQUEST")["TableDescription"]
    assert updated["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    deleted = ddb.delete_table(TableName=name)["TableDescription"]
    assert deleted["TableStatus"] == "DELETING"
    with pytest.raises(ClientError) as e:
        ddb.describe_table(TableName=name)
    assert error_of(e) == ("ResourceNotFoundException",
                           f"Requested resource not found: Table: {name} not found")
    ddb.get_waiter("table_not_exists").wait(TableName=name, WaiterConfig={"Delay": 0.1})


def test_list_tables_paginates(ddb):
    prefix = "page-" + uuid.uuid4().hex[:6]
    names = sorted(create(ddb, f"{prefix}-{i}") for i in range(5))
    seen, start = [], None
    while True:
        kwargs = {"Limit": 2}
        if start:
            kwargs["ExclusiveStartTableName"] = start
        resp = ddb.list_tables(**kwargs)
        assert len(resp["TableNames"]) <= 2
        seen += resp["TableNames"]
        start = resp.get("LastEvaluatedTableName")
        if not start:
            break
    assert [n for n in seen if n.startswith(prefix)] == names
    assert seen == sorted(seen)
    paginated = [n for page in ddb.get_paginator("list_tables").paginate(
        PaginationConfig={"PageSize": 3}) for n in page["TableNames"]]
    assert [n for n in paginated if n.startswith(prefix)] == names
    for n in names:
        ddb.delete_table(TableName=n)


def test_create_table_errors(ddb, raw_ddb):
    name = create(ddb)
    with pytest.raises(ClientError) as e:
        create(ddb, name)
    assert error_of(e) == ("ResourceInUseException", f"Table already exists: {name}")
    with pytest.raises(ClientError) as e:
        raw_ddb.create_table(TableName="bad name!", BillingMode="PAY_PER_REQUEST",
                             AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                             KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert "regular expression pattern: [a-zA-Z0-9_.-]+" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        ddb.create_table(TableName=unique(), BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                               {"AttributeName": "x", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    assert error_of(e) == ("ValidationException",
                           "One or more parameter values were invalid: Number of attributes in "
                           "KeySchema does not exactly match number of attributes defined in "
                           "AttributeDefinitions")
    with pytest.raises(ClientError) as e:
        ddb.create_table(TableName=unique(), BillingMode="PAY_PER_REQUEST",
                         ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    assert "Neither ReadCapacityUnits nor WriteCapacityUnits" in error_of(e)[1]
    with pytest.raises(ClientError) as e:
        ddb.create_table(TableName=unique(),
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    assert "ReadCapacityUnits and WriteCapacityUnits must both be specified" in error_of(e)[1]
    with pytest.raises(ClientError) as e:
        ddb.create_table(TableName=unique(), BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "pk", "KeyType": "RANGE"}])
    assert error_of(e)[1] == "Invalid KeySchema: The first KeySchemaElement is not a HASH key type"
    ddb.delete_table(TableName=name)


def test_unknown_operation_and_endpoints(ddb, endpoint):
    import urllib.request
    req = urllib.request.Request(endpoint + "/", data=b"{}", method="POST", headers={
        "X-Amz-Target": "DynamoDB_20120810.NoSuchThing",
        "Content-Type": "application/x-amz-json-1.0"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req)
    assert e.value.code == 400
    body = json.loads(e.value.read())
    assert body["__type"].endswith("#UnknownOperationException")
    assert ddb.describe_endpoints()["Endpoints"][0]["CachePeriodInMinutes"] == 1440
    assert ddb.describe_limits()["TableMaxReadCapacityUnits"] == 40000


def test_data_plane_on_missing_table(ddb):
    with pytest.raises(ClientError) as e:
        ddb.get_item(TableName="no-such-table", Key={"pk": {"S": "a"}})
    assert error_of(e) == ("ResourceNotFoundException", "Requested resource not found")


# ---------------------------------------------------------------------------------------------
# Items.

def test_every_type_round_trips(ddb, table):
    item = {"pk": {"S": "types"}, "sk": {"N": "1"},
            "s": {"S": "héllo ✓"}, "n": {"N": "1.50"}, "big": {"N": "12345678901234567890123456789012345678"},
            "tiny": {"N": "1E-130"}, "neg": {"N": "-0.000100"}, "b": {"B": b"\x00\x01\xff"},
            "t": {"BOOL": True}, "f": {"BOOL": False}, "nul": {"NULL": True},
            "l": {"L": [{"S": "x"}, {"N": "2"}, {"M": {"z": {"SS": ["a"]}}}]},
            "m": {"M": {"inner": {"L": []}, "e": {"M": {}}}},
            "ss": {"SS": ["b", "a"]}, "ns": {"NS": ["1", "2.50"]}, "bs": {"BS": [b"a", b"b"]},
            "empty": {"S": ""}}
    ddb.put_item(TableName=table, Item=item)
    got = ddb.get_item(TableName=table, Key={"pk": {"S": "types"}, "sk": {"N": "1.0"}},
                       ConsistentRead=True)["Item"]
    assert got["n"] == {"N": "1.5"}
    assert got["neg"] == {"N": "-0.0001"}
    assert got["big"] == item["big"]
    assert got["b"] == {"B": b"\x00\x01\xff"}
    assert sorted(got["ss"]["SS"]) == ["a", "b"]
    assert sorted(got["ns"]["NS"]) == ["1", "2.5"]
    assert got["l"] == item["l"] and got["m"] == item["m"] and got["empty"] == {"S": ""}
    assert got["nul"] == {"NULL": True} and got["f"] == {"BOOL": False}


def test_item_validation_errors(ddb, raw_ddb, table):
    def err(**kwargs):
        with pytest.raises(ClientError) as e:
            raw_ddb.put_item(TableName=table, **kwargs)
        return error_of(e)

    assert err(Item={"sk": {"N": "1"}}) == (
        "ValidationException", "One or more parameter values were invalid: Missing the key pk in the item")
    assert err(Item={"pk": {"N": "1"}, "sk": {"N": "1"}}) == (
        "ValidationException",
        "One or more parameter values were invalid: Type mismatch for key pk expected: S actual: N")
    assert err(Item={"pk": {"S": ""}, "sk": {"N": "1"}}) == (
        "ValidationException",
        "One or more parameter values are not valid. The AttributeValue for a key attribute "
        "cannot contain an empty string value. Key: pk")
    assert err(Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "x": {"SS": []}})[1] == (
        "One or more parameter values were invalid: An string set  may not be empty")
    assert err(Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "x": {"SS": ["a", "a"]}})[1] == (
        "One or more parameter values were invalid: Input collection [a, a] contains duplicates.")
    assert err(Item={"pk": {"S": "a"}, "sk": {"N": "abc"}})[1] == (
        "A value provided cannot be converted into a number")
    assert "Number overflow" in err(Item={"pk": {"S": "a"}, "sk": {"N": "1E+126"}})[1]
    assert "Number underflow" in err(Item={"pk": {"S": "a"}, "sk": {"N": "1E-131"}})[1]
    assert err(Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "x": {}})[1] == (
        "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes")
    assert err(Item={"pk": {"S": "a" * 2049}, "sk": {"N": "1"}})[1].startswith(
        "One or more parameter values were invalid: Size of hashkey has exceeded")
    assert err(Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "x": {"S": "x" * (400 * 1024)}}) == (
        "ValidationException", "Item size has exceeded the maximum allowed size")
    nested = {"S": "x"}
    for _ in range(33):
        nested = {"L": [nested]}
    assert "Nesting Levels have exceeded supported limits" in err(
        Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "x": nested})[1]
    with pytest.raises(ClientError) as e:
        ddb.get_item(TableName=table, Key={"pk": {"S": "a"}})
    assert error_of(e) == ("ValidationException", "The provided key element does not match the schema")
    with pytest.raises(ClientError) as e:
        ddb.get_item(TableName=table, Key={"pk": {"S": "a"}, "sk": {"N": "1"}, "x": {"S": "y"}})
    assert error_of(e)[1] == "The provided key element does not match the schema"
    # Nothing was written by any of the rejected requests.
    assert ddb.scan(TableName=table)["Count"] == 0


def test_conditions_and_return_values(ddb, table, endpoint):
    key = {"pk": {"S": "c"}, "sk": {"N": "1"}}
    ddb.put_item(TableName=table, Item={**key, "v": {"N": "1"}},
                 ConditionExpression="attribute_not_exists(pk)")
    with pytest.raises(ClientError) as e:
        ddb.put_item(TableName=table, Item={**key, "v": {"N": "2"}},
                     ConditionExpression="attribute_not_exists(pk)")
    assert error_of(e) == ("ConditionalCheckFailedException", "The conditional request failed")
    status, body = raw_call(endpoint, "PutItem", {
        "TableName": table, "Item": {**key, "v": {"N": "2"}},
        "ConditionExpression": "attribute_not_exists(pk)", "ReturnValuesOnConditionCheckFailure": "ALL_OLD"})
    assert status == 400
    assert body["__type"] == "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"
    assert body["message"] == "The conditional request failed"
    assert body["Item"] == {**key, "v": {"N": "1"}}
    old = ddb.put_item(TableName=table, Item={**key, "v": {"N": "3"}}, ReturnValues="ALL_OLD",
                       ConditionExpression="v = :one", ExpressionAttributeValues={":one": {"N": "1"}})
    assert old["Attributes"]["v"] == {"N": "1"}
    r = ddb.update_item(TableName=table, Key=key, UpdateExpression="SET v = v + :d, w = :d",
                        ExpressionAttributeValues={":d": {"N": "10"}}, ReturnValues="UPDATED_OLD")
    assert r["Attributes"] == {"v": {"N": "3"}}
    r = ddb.update_item(TableName=table, Key=key, UpdateExpression="SET v = v - :d REMOVE w",
                        ExpressionAttributeValues={":d": {"N": "0.5"}}, ReturnValues="UPDATED_NEW")
    assert r["Attributes"] == {"v": {"N": "12.5"}}
    r = ddb.update_item(TableName=table, Key=key, UpdateExpression="ADD c :one",
                        ExpressionAttributeValues={":one": {"N": "1"}}, ReturnValues="ALL_NEW")
    assert r["Attributes"] == {**key, "v": {"N": "12.5"}, "c": {"N": "1"}}
    r = ddb.update_item(TableName=table, Key=key, UpdateExpression="ADD c :one",
                        ExpressionAttributeValues={":one": {"N": "1"}}, ReturnValues="ALL_OLD")
    assert r["Attributes"]["c"] == {"N": "1"}
    r = ddb.delete_item(TableName=table, Key=key, ReturnValues="ALL_OLD",
                        ConditionExpression="c = :two", ExpressionAttributeValues={":two": {"N": "2"}})
    assert r["Attributes"]["c"] == {"N": "2"}
    assert "Item" not in ddb.get_item(TableName=table, Key=key)
    # UpdateItem creates the item when it is absent.
    ddb.update_item(TableName=table, Key=key, UpdateExpression="SET nested = :m",
                    ExpressionAttributeValues={":m": {"M": {"x": {"L": [{"N": "1"}]}}}})
    ddb.update_item(TableName=table, Key=key, UpdateExpression="SET nested.x[5] = :v, nested.y = :v",
                    ExpressionAttributeValues={":v": {"N": "9"}})
    got = ddb.get_item(TableName=table, Key=key, ProjectionExpression="nested.x[1], #y",
                       ExpressionAttributeNames={"#y": "pk"})["Item"]
    assert got == {"pk": key["pk"], "nested": {"M": {"x": {"L": [{"N": "9"}]}}}}


def test_expression_errors(ddb, table):
    key = {"pk": {"S": "e"}, "sk": {"N": "1"}}

    def err(**kwargs):
        with pytest.raises(ClientError) as e:
            ddb.update_item(TableName=table, Key=key, **kwargs)
        return error_of(e)

    assert err(UpdateExpression="SET pk = :v", ExpressionAttributeValues={":v": {"S": "x"}}) == (
        "ValidationException",
        "One or more parameter values were invalid: Cannot update attribute pk. This attribute "
        "is part of the key")
    assert err(UpdateExpression="SET a = :v, a.b = :v", ExpressionAttributeValues={":v": {"S": "x"}})[1] == (
        "Invalid UpdateExpression: Two document paths overlap with each other; must remove or "
        "rewrite one of these paths; path one: [a], path two: [a, b]")
    assert err(UpdateExpression="SET a = :v", ExpressionAttributeValues={":v": {"S": "x"}, ":w": {"S": "y"}})[1] == (
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:w}")
    assert err(UpdateExpression="SET a = :v", ExpressionAttributeValues={":v": {"S": "x"}},
               ExpressionAttributeNames={"#x": "y"})[1] == (
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#x}")
    assert err(UpdateExpression="SET a = :nope")[1] == (
        "Invalid UpdateExpression: An expression attribute value used in expression is not "
        "defined; attribute value: :nope")
    assert err(UpdateExpression="SET a = :v", ExpressionAttributeValues={"v": {"S": "x"}})[1] == (
        "ExpressionAttributeValues contains invalid key: Syntax error; key: \"v\"")
    assert err(UpdateExpression="SET a = = :v", ExpressionAttributeValues={":v": {"S": "x"}})[1].startswith(
        "Invalid UpdateExpression: Syntax error; token: \"=\"")
    assert err(UpdateExpression="SET a = b + :v", ExpressionAttributeValues={":v": {"N": "1"}})[1] == (
        "The provided expression refers to an attribute that does not exist in the item")
    with pytest.raises(ClientError) as e:
        ddb.put_item(TableName=table, Item=key, ConditionExpression="a BETWEEN :hi AND :lo",
                     ExpressionAttributeValues={":hi": {"N": "5"}, ":lo": {"N": "1"}})
    assert "BETWEEN operator requires upper bound to be greater than or equal to lower bound" in error_of(e)[1]


def test_query_orders_numbers_and_paginates(ddb, table):
    numbers = ["-1E+10", "-100", "-2.5", "-1", "0", "1E-10", "0.5", "1", "2", "10", "100.25", "1E+20"]
    shuffled = numbers[:]
    random.Random(3).shuffle(shuffled)
    for n in shuffled:
        ddb.put_item(TableName=table, Item={"pk": {"S": "q"}, "sk": {"N": n}, "v": {"S": n}})
    ddb.put_item(TableName=table, Item={"pk": {"S": "other"}, "sk": {"N": "0"}})
    canon = [str(decimal.Decimal(n)) for n in numbers]
    items = ddb.query(TableName=table, KeyConditionExpression="pk = :p",
                      ExpressionAttributeValues={":p": {"S": "q"}})["Items"]
    assert [i["v"]["S"] for i in items] == numbers
    back = ddb.query(TableName=table, KeyConditionExpression="pk = :p", ScanIndexForward=False,
                     ExpressionAttributeValues={":p": {"S": "q"}})["Items"]
    assert [i["v"]["S"] for i in back] == numbers[::-1]
    between = ddb.query(TableName=table, KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b",
                        ExpressionAttributeValues={":p": {"S": "q"}, ":a": {"N": "-1"}, ":b": {"N": "1"}})
    assert [i["v"]["S"] for i in between["Items"]] == ["-1", "0", "1E-10", "0.5", "1"]
    lt = ddb.query(TableName=table, KeyConditionExpression="pk = :p AND sk < :z",
                   ExpressionAttributeValues={":p": {"S": "q"}, ":z": {"N": "0"}})
    assert [i["v"]["S"] for i in lt["Items"]] == numbers[:4]
    # Pages of 5, forward and backward, reassemble the whole partition.
    for forward in (True, False):
        got, start = [], None
        while True:
            kwargs = dict(TableName=table, KeyConditionExpression="pk = :p", Limit=5,
                          ScanIndexForward=forward, ExpressionAttributeValues={":p": {"S": "q"}})
            if start:
                kwargs["ExclusiveStartKey"] = start
            resp = ddb.query(**kwargs)
            got += [i["v"]["S"] for i in resp["Items"]]
            start = resp.get("LastEvaluatedKey")
            if not start:
                break
        assert got == (numbers if forward else numbers[::-1])
    filtered = ddb.query(TableName=table, KeyConditionExpression="pk = :p",
                         FilterExpression="begins_with(v, :m)", Select="COUNT",
                         ExpressionAttributeValues={":p": {"S": "q"}, ":m": {"S": "-"}})
    assert filtered["Count"] == 4 and filtered["ScannedCount"] == len(numbers) and "Items" not in filtered
    with pytest.raises(ClientError) as e:
        ddb.query(TableName=table, KeyConditionExpression="sk = :p",
                  ExpressionAttributeValues={":p": {"N": "1"}})
    assert error_of(e) == ("ValidationException", "Query condition missed key schema element: pk")
    with pytest.raises(ClientError) as e:
        ddb.query(TableName=table, KeyConditionExpression="pk = :p", FilterExpression="sk = :p",
                  ExpressionAttributeValues={":p": {"S": "q"}})
    assert "Filter Expression can only contain non-primary key attributes" in error_of(e)[1]


def test_string_and_binary_sort_keys(ddb):
    name = create(ddb, range_type="S")
    values = ["", "A", "Z", "a", "a\x00", "a\x01", "ab", "b", "é", "一", "\U0001F600"][1:]
    for v in values:
        ddb.put_item(TableName=name, Item={"pk": {"S": "s"}, "sk": {"S": v}})
    items = ddb.query(TableName=name, KeyConditionExpression="pk = :p AND begins_with(sk, :a)",
                      ExpressionAttributeValues={":p": {"S": "s"}, ":a": {"S": "a"}})["Items"]
    assert [i["sk"]["S"] for i in items] == ["a", "a\x00", "a\x01", "ab"]
    all_items = ddb.query(TableName=name, KeyConditionExpression="pk = :p",
                          ExpressionAttributeValues={":p": {"S": "s"}})["Items"]
    assert [i["sk"]["S"] for i in all_items] == sorted(values, key=lambda s: s.encode())
    ddb.delete_table(TableName=name)
    name = create(ddb, range_type="B")
    blobs = [b"\x00", b"\x00\x00", b"\x01", b"\x7f", b"\x80", b"\xff", b"\xff\x00"]
    for b in reversed(blobs):
        ddb.put_item(TableName=name, Item={"pk": {"S": "b"}, "sk": {"B": b}})
    items = ddb.query(TableName=name, KeyConditionExpression="pk = :p",
                      ExpressionAttributeValues={":p": {"S": "b"}})["Items"]
    assert [i["sk"]["B"] for i in items] == blobs
    ddb.delete_table(TableName=name)


def test_scan_segments_cover_every_item_once(ddb, table):
    with_keys = set()
    for i in range(60):
        ddb.put_item(TableName=table, Item={"pk": {"S": f"p{i % 17}"}, "sk": {"N": str(i)}})
        with_keys.add((f"p{i % 17}", str(i)))
    seen = []
    for segment in range(4):
        start = None
        while True:
            kwargs = dict(TableName=table, Segment=segment, TotalSegments=4, Limit=7)
            if start:
                kwargs["ExclusiveStartKey"] = start
            resp = ddb.scan(**kwargs)
            seen += [(i["pk"]["S"], i["sk"]["N"]) for i in resp["Items"]]
            start = resp.get("LastEvaluatedKey")
            if not start:
                break
    assert sorted(seen) == sorted(with_keys)
    filtered = ddb.scan(TableName=table, FilterExpression="sk >= :n",
                        ExpressionAttributeValues={":n": {"N": "50"}})
    assert filtered["Count"] == 10 and filtered["ScannedCount"] == 60
    with pytest.raises(ClientError) as e:
        ddb.scan(TableName=table, Segment=4, TotalSegments=4)
    assert "Segment: 4 is not less than TotalSegments: 4" in error_of(e)[1]


def test_query_pages_stop_at_one_megabyte(ddb, table):
    blob = "x" * (100 * 1024)
    for i in range(15):
        ddb.put_item(TableName=table, Item={"pk": {"S": "big"}, "sk": {"N": str(i)}, "d": {"S": blob}})
    first = ddb.query(TableName=table, KeyConditionExpression="pk = :p",
                      ExpressionAttributeValues={":p": {"S": "big"}})
    assert 9 <= first["Count"] <= 11
    assert first["LastEvaluatedKey"]["sk"]["N"] == str(first["Count"] - 1)
    second = ddb.query(TableName=table, KeyConditionExpression="pk = :p",
                       ExclusiveStartKey=first["LastEvaluatedKey"],
                       ExpressionAttributeValues={":p": {"S": "big"}})
    assert first["Count"] + second["Count"] == 15


def test_batch_operations(ddb, table):
    puts = [{"PutRequest": {"Item": {"pk": {"S": "b"}, "sk": {"N": str(i)}}}} for i in range(25)]
    assert ddb.batch_write_item(RequestItems={table: puts})["UnprocessedItems"] == {}
    keys = [{"pk": {"S": "b"}, "sk": {"N": str(i)}} for i in range(0, 30, 2)]
    resp = ddb.batch_get_item(RequestItems={table: {"Keys": keys, "ProjectionExpression": "sk"}})
    assert sorted(int(i["sk"]["N"]) for i in resp["Responses"][table]) == list(range(0, 25, 2))
    assert resp["UnprocessedKeys"] == {}
    with pytest.raises(ClientError) as e:
        ddb.batch_write_item(RequestItems={table: puts + puts[:1]})
    assert e.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as e:
        ddb.batch_write_item(RequestItems={table: puts[:2] + puts[:1]})
    assert error_of(e)[1] == "Provided list of item keys contains duplicates"
    with pytest.raises(ClientError) as e:
        ddb.batch_get_item(RequestItems={table: {"Keys": [
            {"pk": {"S": "b"}, "sk": {"N": str(i)}} for i in range(101)]}})
    assert error_of(e)[1] == "Too many items requested for the BatchGetItem call"
    deletes = [{"DeleteRequest": {"Key": {"pk": {"S": "b"}, "sk": {"N": str(i)}}}} for i in range(25)]
    ddb.batch_write_item(RequestItems={table: deletes})
    assert ddb.scan(TableName=table)["Count"] == 0


def test_transactions(ddb, table):
    k = lambda i: {"pk": {"S": "t"}, "sk": {"N": str(i)}}
    ddb.put_item(TableName=table, Item={**k(1), "v": {"N": "1"}})
    ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": table, "Item": {**k(2), "v": {"N": "2"}},
                 "ConditionExpression": "attribute_not_exists(pk)"}},
        {"Update": {"TableName": table, "Key": k(1), "UpdateExpression": "SET v = v + :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}}}},
        {"ConditionCheck": {"TableName": table, "Key": k(1), "ConditionExpression": "attribute_exists(v)"}},
    ][::2] + [{"Update": {"TableName": table, "Key": k(3), "UpdateExpression": "SET v = :one",
                          "ExpressionAttributeValues": {":one": {"N": "1"}}}}])
    with pytest.raises(ClientError) as e:
        ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": table, "Item": {**k(4)}}},
            {"ConditionCheck": {"TableName": table, "Key": k(1), "ConditionExpression": "v = :nine",
                                "ExpressionAttributeValues": {":nine": {"N": "9"}},
                                "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
            {"Delete": {"TableName": table, "Key": k(2)}}])
    assert e.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert "[None, ConditionalCheckFailed, None]" in e.value.response["Error"]["Message"]
    reasons = e.value.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "ConditionalCheckFailed", "None"]
    assert reasons[1]["Item"]["v"] == {"N": "1"}
    assert "Item" not in ddb.get_item(TableName=table, Key=k(4))  # nothing applied
    with pytest.raises(ClientError) as e:
        ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": table, "Item": k(5)}}, {"Delete": {"TableName": table, "Key": k(5)}}])
    assert "multiple operations on one item" in error_of(e)[1]
    # Idempotency: the same token and request apply once.
    req = [{"Update": {"TableName": table, "Key": k(6), "UpdateExpression": "ADD c :one",
                       "ExpressionAttributeValues": {":one": {"N": "1"}}}}]
    ddb.transact_write_items(TransactItems=req, ClientRequestToken="tok-1")
    ddb.transact_write_items(TransactItems=req, ClientRequestToken="tok-1")
    assert ddb.get_item(TableName=table, Key=k(6))["Item"]["c"] == {"N": "1"}
    with pytest.raises(ClientError) as e:
        ddb.transact_write_items(TransactItems=[{"Delete": {"TableName": table, "Key": k(6)}}],
                                 ClientRequestToken="tok-1")
    assert e.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    got = ddb.transact_get_items(TransactItems=[
        {"Get": {"TableName": table, "Key": k(1)}}, {"Get": {"TableName": table, "Key": k(99)}},
        {"Get": {"TableName": table, "Key": k(3), "ProjectionExpression": "v"}}])["Responses"]
    assert got[0]["Item"]["v"] == {"N": "1"} and "Item" not in got[1] and got[2]["Item"] == {"v": {"N": "1"}}


def test_consumed_capacity(ddb, table):
    item = {"pk": {"S": "cap"}, "sk": {"N": "1"}, "d": {"S": "x" * 3000}}
    r = ddb.put_item(TableName=table, Item=item, ReturnConsumedCapacity="TOTAL")
    assert r["ConsumedCapacity"] == {"TableName": table, "CapacityUnits": 3.0}
    r = ddb.get_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]},
                     ReturnConsumedCapacity="TOTAL")
    assert r["ConsumedCapacity"]["CapacityUnits"] == 0.5
    r = ddb.get_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]}, ConsistentRead=True,
                     ReturnConsumedCapacity="INDEXES")
    assert r["ConsumedCapacity"]["CapacityUnits"] == 1.0
    assert r["ConsumedCapacity"]["Table"] == {"CapacityUnits": 1.0}


# ---------------------------------------------------------------------------------------------
# Secondary indexes.

def test_global_and_local_secondary_indexes(ddb):
    name = unique()
    ddb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": t} for a, t in
                              [("pk", "S"), ("sk", "N"), ("g", "S"), ("gs", "N"), ("l", "S")]],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {"IndexName": "by_g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"},
                                                {"AttributeName": "gs", "KeyType": "RANGE"}],
             "Projection": {"ProjectionType": "ALL"}},
            {"IndexName": "by_g_keys", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
             "Projection": {"ProjectionType": "KEYS_ONLY"}}],
        LocalSecondaryIndexes=[
            {"IndexName": "by_l", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                                {"AttributeName": "l", "KeyType": "RANGE"}],
             "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["extra"]}}])
    desc = ddb.describe_table(TableName=name)["Table"]
    assert {i["IndexName"] for i in desc["GlobalSecondaryIndexes"]} == {"by_g", "by_g_keys"}
    assert desc["LocalSecondaryIndexes"][0]["Projection"]["NonKeyAttributes"] == ["extra"]
    for i in range(10):
        item = {"pk": {"S": "p"}, "sk": {"N": str(i)}, "extra": {"S": f"e{i}"}, "other": {"N": str(i)}}
        if i % 2 == 0:  # sparse: odd items have no g
            item["g"] = {"S": "even"}
            item["gs"] = {"N": str(-i)}
        item["l"] = {"S": chr(ord("j") - i)}
        ddb.put_item(TableName=name, Item=item)
    q = ddb.query(TableName=name, IndexName="by_g", KeyConditionExpression="g = :g",
                  ExpressionAttributeValues={":g": {"S": "even"}})
    assert [i["sk"]["N"] for i in q["Items"]] == ["8", "6", "4", "2", "0"]
    assert q["Items"][0]["other"] == {"N": "8"}
    keys_only = ddb.query(TableName=name, IndexName="by_g_keys", KeyConditionExpression="g = :g",
                          ExpressionAttributeValues={":g": {"S": "even"}})["Items"]
    assert len(keys_only) == 5 and set(keys_only[0]) == {"pk", "sk", "g"}
    with pytest.raises(ClientError) as e:
        ddb.query(TableName=name, IndexName="by_g_keys", KeyConditionExpression="g = :g",
                  Select="ALL_ATTRIBUTES", ExpressionAttributeValues={":g": {"S": "even"}})
    assert "projection type is not ALL" in error_of(e)[1]
    local = ddb.query(TableName=name, IndexName="by_l", KeyConditionExpression="pk = :p AND l < :c",
                      ExpressionAttributeValues={":p": {"S": "p"}, ":c": {"S": "c"}})["Items"]
    assert [i["l"]["S"] for i in local] == ["a", "b"]
    assert set(local[0]) == {"pk", "sk", "l", "extra"}
    full = ddb.query(TableName=name, IndexName="by_l", KeyConditionExpression="pk = :p AND l < :c",
                     Select="ALL_ATTRIBUTES",
                     ExpressionAttributeValues={":p": {"S": "p"}, ":c": {"S": "c"}})["Items"]
    assert "other" in full[0]
    # Moving an item's GSI key moves its index entry; removing it leaves the sparse index.
    ddb.update_item(TableName=name, Key={"pk": {"S": "p"}, "sk": {"N": "0"}},
                    UpdateExpression="SET g = :odd", ExpressionAttributeValues={":odd": {"S": "odd"}})
    ddb.update_item(TableName=name, Key={"pk": {"S": "p"}, "sk": {"N": "2"}}, UpdateExpression="REMOVE g")
    ddb.delete_item(TableName=name, Key={"pk": {"S": "p"}, "sk": {"N": "4"}})
    even = ddb.query(TableName=name, IndexName="by_g", KeyConditionExpression="g = :g",
                     ExpressionAttributeValues={":g": {"S": "even"}})["Items"]
    assert [i["sk"]["N"] for i in even] == ["8", "6"]
    scan = ddb.scan(TableName=name, IndexName="by_g")
    assert scan["Count"] == 3
    with pytest.raises(ClientError) as e:
        ddb.put_item(TableName=name, Item={"pk": {"S": "p"}, "sk": {"N": "50"}, "g": {"N": "1"}})
    assert "Type mismatch for Index Key g Expected: S Actual: N IndexName: by_g" in error_of(e)[1]
    with pytest.raises(ClientError) as e:
        ddb.query(TableName=name, IndexName="nope", KeyConditionExpression="g = :g",
                  ExpressionAttributeValues={":g": {"S": "even"}})
    assert error_of(e)[1] == "The table does not have the specified index: nope"
    # A GSI added later is backfilled; a deleted one is gone.
    ddb.update_table(TableName=name,
                     AttributeDefinitions=[{"AttributeName": "extra", "AttributeType": "S"}],
                     GlobalSecondaryIndexUpdates=[
                         {"Create": {"IndexName": "by_extra",
                                     "KeySchema": [{"AttributeName": "extra", "KeyType": "HASH"}],
                                     "Projection": {"ProjectionType": "ALL"}}},
                         {"Delete": {"IndexName": "by_g_keys"}}])
    got = ddb.query(TableName=name, IndexName="by_extra", KeyConditionExpression="extra = :e",
                    ExpressionAttributeValues={":e": {"S": "e7"}})["Items"]
    assert [i["sk"]["N"] for i in got] == ["7"]
    indexes = {i["IndexName"] for i in ddb.describe_table(TableName=name)["Table"]["GlobalSecondaryIndexes"]}
    assert indexes == {"by_g", "by_extra"}
    ddb.delete_table(TableName=name)


# ---------------------------------------------------------------------------------------------
# The resource API, awscli.

def test_resource_api(resource, ddb):
    name = unique("res")
    tbl = resource.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "N"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])
    tbl.wait_until_exists()
    with tbl.batch_writer() as batch:
        for i in range(40):
            batch.put_item(Item={"pk": "user", "sk": i, "name": f"n{i}", "price": decimal.Decimal("1.25") * i,
                                 "tags": {"a", "b"}, "doc": {"list": [1, "two", None, True]}})
    tbl.reload()
    assert tbl.item_count == 40
    item = tbl.get_item(Key={"pk": "user", "sk": 3})["Item"]
    assert item["price"] == decimal.Decimal("3.75") and item["tags"] == {"a", "b"}
    assert item["doc"] == {"list": [1, "two", None, True]}
    resp = tbl.query(KeyConditionExpression=Key("pk").eq("user") & Key("sk").between(10, 14),
                     FilterExpression=Attr("name").is_in(["n11", "n12", "n99"]))
    assert [i["sk"] for i in resp["Items"]] == [11, 12]
    tbl.update_item(Key={"pk": "user", "sk": 3}, UpdateExpression="SET #n = :n REMOVE doc.#l[1]",
                    ExpressionAttributeNames={"#n": "name", "#l": "list"},
                    ExpressionAttributeValues={":n": "renamed"})
    item = tbl.get_item(Key={"pk": "user", "sk": 3})["Item"]
    assert item["name"] == "renamed" and item["doc"]["list"] == [1, None, True]
    resp = tbl.scan(FilterExpression=Attr("price").gt(40) & Attr("tags").contains("a"))
    assert sorted(i["sk"] for i in resp["Items"]) == [33, 34, 35, 36, 37, 38, 39]
    tbl.delete_item(Key={"pk": "user", "sk": 3})
    assert "Item" not in tbl.get_item(Key={"pk": "user", "sk": 3})
    tbl.delete()


def test_awscli(aws, ddb):
    name = create(ddb)
    aws("dynamodb", "put-item", "--table-name", name, "--item", '{"pk":{"S":"cli"},"n":{"N":"007"}}')
    out = aws("dynamodb", "get-item", "--table-name", name, "--key", '{"pk":{"S":"cli"}}').json
    assert out["Item"]["n"] == {"N": "7"}
    assert name in aws("dynamodb", "list-tables").json["TableNames"]
    ddb.delete_table(TableName=name)


# ---------------------------------------------------------------------------------------------
# A random sequence of writes and queries compared against an in-memory model.

def test_randomized_against_model(ddb):
    name = unique("model")
    ddb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "N"},
                              {"AttributeName": "g", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[{"IndexName": "g_idx", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "ALL"}}])
    rng = random.Random(20261124)
    model = {}  # (pk, Decimal sk) -> item in wire form with canonical numbers

    def canon(n):
        d = decimal.Decimal(n).normalize()
        text = format(d, "f")
        return "0" if d == 0 else text

    for step in range(400):
        pk = f"p{rng.randrange(3)}"
        sk = canon(rng.choice(["-3", "-1.5", "0", "0.25", "1", "2", "10", "100", "-100", "7.5"]))
        key = (pk, decimal.Decimal(sk))
        wire_key = {"pk": {"S": pk}, "sk": {"N": sk}}
        op = rng.random()
        if op < 0.35:
            item = {**wire_key, "v": {"N": str(rng.randrange(-50, 50))}}
            if rng.random() < 0.5:
                item["g"] = {"S": rng.choice(["red", "blue"])}
            cond = rng.random() < 0.3
            try:
                if cond:
                    ddb.put_item(TableName=name, Item=item, ConditionExpression="attribute_not_exists(pk)")
                else:
                    ddb.put_item(TableName=name, Item=item)
                assert not (cond and key in model)
                model[key] = item
            except ClientError as e:
                assert cond and key in model and e.response["Error"]["Code"] == "ConditionalCheckFailedException"
        elif op < 0.65:
            delta = rng.randrange(1, 5)
            resp = ddb.update_item(TableName=name, Key=wire_key,
                                   UpdateExpression="SET v = if_not_exists(v, :z) + :d",
                                   ExpressionAttributeValues={":z": {"N": "0"}, ":d": {"N": str(delta)}},
                                   ReturnValues="ALL_NEW")
            old = model.get(key, dict(wire_key))
            new = dict(old)
            new["v"] = {"N": str(int(old.get("v", {"N": "0"})["N"]) + delta)}
            model[key] = new
            assert resp["Attributes"] == new
        elif op < 0.8:
            resp = ddb.delete_item(TableName=name, Key=wire_key, ReturnValues="ALL_OLD")
            assert resp.get("Attributes") == model.pop(key, None)
        else:
            lo = decimal.Decimal(rng.choice(["-5", "0", "1"]))
            resp = ddb.query(TableName=name, KeyConditionExpression="pk = :p AND sk >= :lo",
                             ExpressionAttributeValues={":p": {"S": pk}, ":lo": {"N": str(lo)}})
            want = [model[k] for k in sorted(k for k in model if k[0] == pk and k[1] >= lo)]
            assert resp["Items"] == want
    # Final state: table scan and the GSI agree with the model.
    items = []
    for page in ddb.get_paginator("scan").paginate(TableName=name, PaginationConfig={"PageSize": 7}):
        items += page["Items"]
    assert sorted(items, key=lambda i: (i["pk"]["S"], decimal.Decimal(i["sk"]["N"]))) == \
        [model[k] for k in sorted(model)]
    for colour in ("red", "blue"):
        got = ddb.query(TableName=name, IndexName="g_idx", KeyConditionExpression="g = :g",
                        ExpressionAttributeValues={":g": {"S": colour}})["Items"]
        want = [v for v in model.values() if v.get("g") == {"S": colour}]
        key_of = lambda i: (i["pk"]["S"], decimal.Decimal(i["sk"]["N"]))
        assert sorted(got, key=key_of) == sorted(want, key=key_of)
    ddb.delete_table(TableName=name)


# ---------------------------------------------------------------------------------------------
# Durability: acknowledged writes survive SIGKILL, and indexes stay consistent.

@pytest.mark.parametrize("sync", ["on", "off"])
def test_acknowledged_writes_survive_sigkill(server_factory, tmp_path, sync):
    # --table-sync off answers once the WAL is written (no fsync): still safe from the server's
    # crash, which is what SIGKILL is.
    data = str(tmp_path / "crash-data")
    args = ("--table-sync", sync)
    srv = server_factory(data_dir=data, args=args)
    ddb = make_client(srv.endpoint)
    ddb.create_table(
        TableName="crash", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "g", "AttributeType": "N"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[{"IndexName": "g_idx", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "KEYS_ONLY"}}])
    # A table without indexes takes the plain-PutItem path (the old item is not parsed).
    ddb.create_table(
        TableName="plain", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    n = 300
    for i in range(n):
        ddb.put_item(TableName="crash", Item={"pk": {"S": f"k{i}"}, "g": {"N": str(i % 5)},
                                             "v": {"S": "x" * 100}})
        ddb.put_item(TableName="plain", Item={"pk": {"S": f"k{i}"}, "v": {"N": "1"}})
        if i % 3 == 0:
            ddb.update_item(TableName="crash", Key={"pk": {"S": f"k{i}"}}, UpdateExpression="SET g = :g",
                            ExpressionAttributeValues={":g": {"N": "9"}})
            ddb.put_item(TableName="plain", Item={"pk": {"S": f"k{i}"}, "v": {"N": "2"}})
    os.kill(srv.proc.pid, signal.SIGKILL)
    srv.proc.wait(10)
    srv.proc = None
    srv2 = server_factory(data_dir=data, args=args)
    ddb = make_client(srv2.endpoint)
    plain = {}
    for page in ddb.get_paginator("scan").paginate(TableName="plain"):
        plain.update({item["pk"]["S"]: item["v"]["N"] for item in page["Items"]})
    assert plain == {f"k{i}": "2" if i % 3 == 0 else "1" for i in range(n)}
    items = []
    for page in ddb.get_paginator("scan").paginate(TableName="crash"):
        items += page["Items"]
    assert len(items) == n
    by_g = {}
    for item in items:
        by_g.setdefault(item["g"]["N"], set()).add(item["pk"]["S"])
    for g, keys in by_g.items():
        got = set()
        for page in ddb.get_paginator("query").paginate(
                TableName="crash", IndexName="g_idx", KeyConditionExpression="g = :g",
                ExpressionAttributeValues={":g": {"N": g}}):
            got |= {i["pk"]["S"] for i in page["Items"]}
        assert got == keys
    assert ddb.scan(TableName="crash", IndexName="g_idx", Select="COUNT")["Count"] == n


# ---------------------------------------------------------------------------------------------
# The AWS SDK for JavaScript v3 (client-dynamodb and lib-dynamodb).

def test_javascript_sdk(endpoint):
    script = os.path.join(HERE, "table_sdk_check.mjs")
    env = dict(os.environ, HANEUL_ENDPOINT=endpoint, TABLE_NAME=unique("js"))
    env.pop("NODE_EXTRA_CA_CERTS", None)
    proc = subprocess.run(["node", script], cwd=HERE, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "table sdk ok" in proc.stdout


# ---------------------------------------------------------------------------------------------
# Legacy (pre-expression) parameters.

def test_legacy_parameters(ddb, table):
    k = {"pk": {"S": "legacy"}, "sk": {"N": "1"}}
    ddb.put_item(TableName=table, Item={**k, "v": {"N": "1"}, "s": {"SS": ["a"]}},
                 Expected={"pk": {"Exists": False}})
    with pytest.raises(ClientError) as e:
        ddb.put_item(TableName=table, Item=k, Expected={"pk": {"Exists": False}})
    assert error_of(e)[0] == "ConditionalCheckFailedException"
    r = ddb.update_item(TableName=table, Key=k, ReturnValues="ALL_NEW",
                        Expected={"v": {"ComparisonOperator": "EQ", "AttributeValueList": [{"N": "1"}]}},
                        AttributeUpdates={"v": {"Action": "ADD", "Value": {"N": "2"}},
                                          "s": {"Action": "DELETE"},
                                          "w": {"Action": "PUT", "Value": {"S": "x"}}})
    assert r["Attributes"] == {**k, "v": {"N": "3"}, "w": {"S": "x"}}
    for i in range(2, 6):
        ddb.put_item(TableName=table, Item={"pk": {"S": "legacy"}, "sk": {"N": str(i)}, "v": {"N": str(i)}})
    q = ddb.query(TableName=table, KeyConditions={
        "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "legacy"}]},
        "sk": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "2"}, {"N": "5"}]}},
        QueryFilter={"v": {"ComparisonOperator": "IN", "AttributeValueList": [{"N": "3"}, {"N": "4"}]}},
        AttributesToGet=["sk"])
    assert q["Items"] == [{"sk": {"N": "3"}}, {"sk": {"N": "4"}}] and q["ScannedCount"] == 4
    s = ddb.scan(TableName=table, ScanFilter={"v": {"ComparisonOperator": "GE", "AttributeValueList": [{"N": "4"}]},
                                              "w": {"ComparisonOperator": "NOT_NULL"}},
                 ConditionalOperator="OR")
    assert sorted(i["sk"]["N"] for i in s["Items"]) == ["1", "4", "5"]
    with pytest.raises(ClientError) as e:
        ddb.query(TableName=table, KeyConditionExpression="pk = :p",
                  ExpressionAttributeValues={":p": {"S": "legacy"}},
                  QueryFilter={"v": {"ComparisonOperator": "NOT_NULL"}})
    assert error_of(e)[1].startswith("Can not use both expression and non-expression parameters")


# ---------------------------------------------------------------------------------------------
# Provisioned capacity: 300 seconds of burst, then ProvisionedThroughputExceededException.

def test_provisioned_throughput_is_enforced(ddb):
    name = unique("prov")
    ddb.create_table(TableName=name, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1})
    item = {"pk": {"S": "p"}, "d": {"S": "x" * 2000}}  # 2 write units each
    throttled = None
    for attempt in range(400):  # burst: 300 s x 1 WCU = 300 units, ~150 writes (+ refill)
        try:
            ddb.put_item(TableName=name, Item=item)
        except ClientError as e:
            throttled = (attempt, e.response["Error"]["Code"], e.response["Error"]["Message"])
            break
    assert throttled is not None, "never throttled"
    assert throttled[0] >= 140
    assert throttled[1] == "ProvisionedThroughputExceededException"
    assert "Consider increasing your provisioning level with the UpdateTable API" in throttled[2]
    # Reads have their own bucket; on-demand tables never throttle.
    assert ddb.get_item(TableName=name, Key={"pk": {"S": "p"}})["Item"]["pk"] == {"S": "p"}
    ddb.update_table(TableName=name, BillingMode="PAY_PER_REQUEST")
    ddb.put_item(TableName=name, Item=item)
    ddb.delete_table(TableName=name)


def test_expression_limits_and_request_limits(ddb, table):
    key = {"pk": {"S": "lim"}, "sk": {"N": "1"}}
    values = {f":v{i}": {"N": str(i)} for i in range(101)}
    with pytest.raises(ClientError) as e:
        ddb.put_item(TableName=table, Item=key, ConditionExpression="a IN (" + ", ".join(values) + ")",
                     ExpressionAttributeValues=values)
    assert "The IN operator is provided with too many operands; number of operands: 101" in error_of(e)[1]
    long_expr = " OR ".join(["a = :v"] * 400)
    with pytest.raises(ClientError) as e:
        ddb.put_item(TableName=table, Item=key, ConditionExpression=long_expr,
                     ExpressionAttributeValues={":v": {"N": "1"}})
    assert "too many operators" in error_of(e)[1] or "Expression size has exceeded" in error_of(e)[1]
    with pytest.raises(ClientError) as e:
        ddb.put_item(TableName=table, Item=key, ConditionExpression="a = :v OR " + "b" * 4100 + " = :v",
                     ExpressionAttributeValues={":v": {"N": "1"}})
    assert "Expression size has exceeded the maximum allowed size" in error_of(e)[1]
    with pytest.raises(ClientError) as e:
        ddb.update_item(TableName=table, Key=key, UpdateExpression="SET #s = :v",
                        ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":v": {"N": "1"}},
                        ConditionExpression="size > :v")
    assert error_of(e)[1] == ("Invalid ConditionExpression: Attribute name is a reserved keyword; "
                              "reserved keyword: size")
    with pytest.raises(ClientError) as e:
        ddb.update_item(TableName=table, Key=key, UpdateExpression="SET status = :v",
                        ExpressionAttributeValues={":v": {"N": "1"}})
    assert error_of(e)[1] == ("Invalid UpdateExpression: Attribute name is a reserved keyword; "
                              "reserved keyword: status")
    with pytest.raises(ClientError) as e:
        ddb.list_tables(Limit=101)
    assert e.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as e:
        ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": table, "Item": {"pk": {"S": "many"}, "sk": {"N": str(i)}}}} for i in range(101)])
    assert e.value.response["Error"]["Code"] == "ValidationException"
    ddb.put_item(TableName=table, Item={**key, "s": {"S": "text"}})
    with pytest.raises(ClientError) as e:
        ddb.update_item(TableName=table, Key=key, UpdateExpression="ADD s :one",
                        ExpressionAttributeValues={":one": {"N": "1"}})
    assert error_of(e)[1] == "An operand in the update expression has an incorrect data type"
    assert ddb.get_item(TableName=table, Key=key)["Item"]["s"] == {"S": "text"}


def test_batch_get_answers_at_most_16_megabytes(ddb, table):
    blob = "x" * (380 * 1024)
    keys = [{"pk": {"S": "huge"}, "sk": {"N": str(i)}} for i in range(50)]
    for key in keys:
        ddb.put_item(TableName=table, Item={**key, "d": {"S": blob}})
    resp = ddb.batch_get_item(RequestItems={table: {"Keys": keys}})
    got = len(resp["Responses"][table])
    left = resp["UnprocessedKeys"][table]["Keys"]
    assert 40 <= got <= 45 and got + len(left) == 50
    again = ddb.batch_get_item(RequestItems=resp["UnprocessedKeys"])
    assert len(again["Responses"][table]) == len(left) and again["UnprocessedKeys"] == {}


def test_consumed_capacity_counts_index_writes(ddb):
    name = create(ddb, extra_defs=[{"AttributeName": "g", "AttributeType": "S"}],
                  GlobalSecondaryIndexes=[{"IndexName": "by_g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                           "Projection": {"ProjectionType": "KEYS_ONLY"}}])
    r = ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "g": {"S": "x"}, "d": {"S": "y" * 1500}},
                     ReturnConsumedCapacity="INDEXES")
    cap = r["ConsumedCapacity"]
    assert cap["Table"] == {"CapacityUnits": 2.0}
    assert cap["GlobalSecondaryIndexes"] == {"by_g": {"CapacityUnits": 1.0}}
    assert cap["CapacityUnits"] == 3.0
    r = ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "g": {"S": "z"}},
                     ReturnConsumedCapacity="INDEXES")
    assert r["ConsumedCapacity"]["GlobalSecondaryIndexes"] == {"by_g": {"CapacityUnits": 2.0}}
    ddb.delete_table(TableName=name)
