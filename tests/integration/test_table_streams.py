"""Table streams, TTL, backups and point-in-time recovery through boto3 (`dynamodb` and
`dynamodbstreams`) and awscli against a real `haneul serve`.

The server runs with `--test-clock-file`: the table clock (record times, retention, iterator
expiry, TTL, restore windows) is read from a file the tests rewrite, so moving time never means
waiting for it. Time only moves forward within the module.
"""

import datetime
import os
import re
import signal
import time
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import HaneulServer
from lambda_helpers import ACCOUNT, REGION


def make(service, endpoint, **config):
    cfg = Config(retries={"max_attempts": 0}, read_timeout=60, connect_timeout=10, **config)
    session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test",
                                    region_name=REGION)
    return session.client(service, endpoint_url=endpoint, config=cfg)


class Clock:
    def __init__(self, path):
        self.path = path
        self.set(int(time.time() * 1000))

    def set(self, ms):
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(ms))
        os.replace(tmp, self.path)
        self.ms = ms

    def advance(self, seconds):
        self.set(self.ms + int(seconds * 1000))


@pytest.fixture(scope="module")
def env(tmp_path_factory, request):
    base = tmp_path_factory.mktemp("streams")
    clock = Clock(str(base / "clock"))
    srv = HaneulServer(str(base / "data"), str(base / "server.log"),
                       ["--test-clock-file", clock.path])
    request.config._haneul_logs = getattr(request.config, "_haneul_logs", []) + [srv.log_path]
    srv.start()
    yield srv, clock
    srv.stop()


@pytest.fixture(scope="module")
def clock(env):
    return env[1]


@pytest.fixture(scope="module")
def ddb(env):
    return make("dynamodb", env[0].endpoint)


@pytest.fixture(scope="module")
def streams(env):
    return make("dynamodbstreams", env[0].endpoint)


def unique(prefix="st"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create(ddb, view="NEW_AND_OLD_IMAGES", name=None, range_key=False):
    name = name or unique()
    defs = [{"AttributeName": "pk", "AttributeType": "S"}]
    keys = [{"AttributeName": "pk", "KeyType": "HASH"}]
    if range_key:
        defs.append({"AttributeName": "sk", "AttributeType": "N"})
        keys.append({"AttributeName": "sk", "KeyType": "RANGE"})
    extra = {}
    if view:
        extra["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": view}
    out = ddb.create_table(TableName=name, AttributeDefinitions=defs, KeySchema=keys,
                           BillingMode="PAY_PER_REQUEST", **extra)
    return name, out["TableDescription"].get("LatestStreamArn")


def shard_of(streams, arn):
    return streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]


def read_all(streams, arn, kind="TRIM_HORIZON", limit=None, **extra):
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard_of(streams, arn),
                                    ShardIteratorType=kind, **extra)["ShardIterator"]
    records = []
    while it:
        page = streams.get_records(ShardIterator=it, **({"Limit": limit} if limit else {}))
        records += page["Records"]
        if not page["Records"]:
            break
        it = page.get("NextShardIterator")
    return records


def code_of(excinfo):
    return excinfo.value.response["Error"]["Code"]


# ---------------------------------------------------------------------------------------------
# Streams.

def test_stream_arn_label_and_descriptions(ddb, streams):
    name, arn = create(ddb, "NEW_IMAGE", range_key=True)
    assert re.fullmatch(rf"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}/stream/"
                        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}", arn), arn
    table = ddb.describe_table(TableName=name)["Table"]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    assert table["LatestStreamArn"] == arn
    assert arn.endswith("/stream/" + table["LatestStreamLabel"])
    listed = streams.list_streams(TableName=name)["Streams"]
    assert listed == [{"StreamArn": arn, "TableName": name, "StreamLabel": table["LatestStreamLabel"]}]
    desc = streams.describe_stream(StreamArn=arn)["StreamDescription"]
    assert desc["StreamStatus"] == "ENABLED"
    assert desc["StreamViewType"] == "NEW_IMAGE"
    assert desc["TableName"] == name
    assert desc["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"},
                                 {"AttributeName": "sk", "KeyType": "RANGE"}]
    assert isinstance(desc["CreationRequestDateTime"], datetime.datetime)
    (shard,) = desc["Shards"]
    assert shard["ShardId"].startswith("shardId-")
    assert re.fullmatch(r"\d{21}", shard["SequenceNumberRange"]["StartingSequenceNumber"])
    assert "EndingSequenceNumber" not in shard["SequenceNumberRange"]
    # ListStreams pages.
    for _ in range(2):
        create(ddb, "KEYS_ONLY")
    first = streams.list_streams(Limit=1)
    assert len(first["Streams"]) == 1 and "LastEvaluatedStreamArn" in first
    second = streams.list_streams(Limit=1, ExclusiveStartStreamArn=first["LastEvaluatedStreamArn"])
    assert second["Streams"][0]["StreamArn"] > first["Streams"][0]["StreamArn"]


def test_every_write_path_records_each_change_once_in_order(ddb, streams):
    name, arn = create(ddb, "NEW_AND_OLD_IMAGES")
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "v": {"N": "1"}})
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "v": {"N": "1"}})  # no change
    ddb.update_item(TableName=name, Key={"pk": {"S": "a"}}, UpdateExpression="SET v = v + :one",
                    ExpressionAttributeValues={":one": {"N": "1"}})
    ddb.update_item(TableName=name, Key={"pk": {"S": "a"}}, UpdateExpression="SET v = :v",
                    ExpressionAttributeValues={":v": {"N": "2"}})  # same value: no change
    with pytest.raises(ClientError) as e:
        ddb.put_item(TableName=name, Item={"pk": {"S": "a"}},
                     ConditionExpression="attribute_not_exists(pk)")
    assert code_of(e) == "ConditionalCheckFailedException"
    ddb.delete_item(TableName=name, Key={"pk": {"S": "nothing"}})  # missing: no change
    ddb.batch_write_item(RequestItems={name: [
        {"PutRequest": {"Item": {"pk": {"S": "b"}, "v": {"S": "x"}}}},
        {"DeleteRequest": {"Key": {"pk": {"S": "a"}}}}]})
    ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": name, "Item": {"pk": {"S": "c"}}}},
        {"Update": {"TableName": name, "Key": {"pk": {"S": "b"}}, "UpdateExpression": "REMOVE v"}},
        {"ConditionCheck": {"TableName": name, "Key": {"pk": {"S": "zz"}},
                            "ConditionExpression": "attribute_not_exists(pk)"}}])
    records = read_all(streams, arn)
    got = [(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in records]
    assert got == [("INSERT", "a"), ("MODIFY", "a"), ("INSERT", "b"), ("REMOVE", "a"),
                   ("INSERT", "c"), ("MODIFY", "b")]
    seqs = [r["dynamodb"]["SequenceNumber"] for r in records]
    assert all(re.fullmatch(r"\d{21}", s) for s in seqs)
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    modify = records[1]
    assert modify["dynamodb"]["OldImage"] == {"pk": {"S": "a"}, "v": {"N": "1"}}
    assert modify["dynamodb"]["NewImage"] == {"pk": {"S": "a"}, "v": {"N": "2"}}
    assert "NewImage" not in records[3]["dynamodb"]
    assert "OldImage" not in records[0]["dynamodb"]
    for r in records:
        assert re.fullmatch(r"[0-9a-f]{32}", r["eventID"])
        assert r["eventVersion"] == "1.1"
        assert r["eventSource"] == "aws:dynamodb"
        assert r["awsRegion"] == REGION
        assert r["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
        assert r["dynamodb"]["SizeBytes"] > 0
        assert isinstance(r["dynamodb"]["ApproximateCreationDateTime"], datetime.datetime)
        assert "userIdentity" not in r


@pytest.mark.parametrize("view,new,old", [("KEYS_ONLY", False, False), ("NEW_IMAGE", True, False),
                                          ("OLD_IMAGE", False, True)])
def test_view_types(ddb, streams, view, new, old):
    name, arn = create(ddb, view)
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "v": {"S": "1"}})
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "v": {"S": "2"}})
    (_, modify) = read_all(streams, arn)
    assert modify["dynamodb"]["Keys"] == {"pk": {"S": "a"}}
    assert ("NewImage" in modify["dynamodb"]) == new
    assert ("OldImage" in modify["dynamodb"]) == old


def test_iterator_types_and_limits(ddb, streams):
    name, arn = create(ddb, "KEYS_ONLY")
    for i in range(7):
        ddb.put_item(TableName=name, Item={"pk": {"S": f"k{i}"}})
    shard = shard_of(streams, arn)
    records = read_all(streams, arn, limit=3)
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in records] == [f"k{i}" for i in range(7)]
    seqs = [r["dynamodb"]["SequenceNumber"] for r in records]
    at = read_all(streams, arn, "AT_SEQUENCE_NUMBER", SequenceNumber=seqs[4])
    assert [r["dynamodb"]["SequenceNumber"] for r in at] == seqs[4:]
    after = read_all(streams, arn, "AFTER_SEQUENCE_NUMBER", SequenceNumber=seqs[4])
    assert [r["dynamodb"]["SequenceNumber"] for r in after] == seqs[5:]
    latest = streams.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                        ShardIteratorType="LATEST")["ShardIterator"]
    page = streams.get_records(ShardIterator=latest)
    assert page["Records"] == [] and page["NextShardIterator"]
    ddb.put_item(TableName=name, Item={"pk": {"S": "new"}})
    page = streams.get_records(ShardIterator=page["NextShardIterator"])
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in page["Records"]] == ["new"]
    raw = make("dynamodbstreams", streams.meta.endpoint_url, parameter_validation=False)
    with pytest.raises(ClientError) as e:
        raw.get_records(ShardIterator=latest, Limit=1001)
    assert code_of(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        streams.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                   ShardIteratorType="AT_SEQUENCE_NUMBER")
    assert code_of(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        streams.describe_stream(StreamArn=arn + "x")
    assert code_of(e) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        streams.get_shard_iterator(StreamArn=arn, ShardId="shardId-00000000000000000000-00000000",
                                   ShardIteratorType="LATEST")
    assert code_of(e) == "ResourceNotFoundException"


def test_disable_closes_the_shard_and_enable_makes_a_new_stream(ddb, streams):
    name, arn = create(ddb, "KEYS_ONLY")
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}})
    with pytest.raises(ClientError) as e:
        ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": True,
                                                              "StreamViewType": "KEYS_ONLY"})
    assert code_of(e) == "ValidationException"
    ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
    desc = streams.describe_stream(StreamArn=arn)["StreamDescription"]
    assert desc["StreamStatus"] == "DISABLED"
    assert re.fullmatch(r"\d{21}", desc["Shards"][0]["SequenceNumberRange"]["EndingSequenceNumber"])
    table = ddb.describe_table(TableName=name)["Table"]
    assert "StreamSpecification" not in table and table["LatestStreamArn"] == arn
    ddb.put_item(TableName=name, Item={"pk": {"S": "b"}})  # no stream: no record
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=desc["Shards"][0]["ShardId"],
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    page = streams.get_records(ShardIterator=it)
    assert len(page["Records"]) == 1 and "NextShardIterator" not in page
    out = ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": True,
                                                                "StreamViewType": "NEW_IMAGE"})
    new_arn = out["TableDescription"]["LatestStreamArn"]
    assert new_arn != arn
    ddb.put_item(TableName=name, Item={"pk": {"S": "c"}})
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in read_all(streams, new_arn)] == ["c"]
    assert len(streams.list_streams(TableName=name)["Streams"]) == 2
    with pytest.raises(ClientError) as e:
        ddb.create_table(TableName=unique(), BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         StreamSpecification={"StreamEnabled": True})
    assert code_of(e) == "ValidationException"
    # A deleted table's stream stays readable (DISABLED) for its retention.
    ddb.delete_table(TableName=name)
    assert streams.describe_stream(StreamArn=new_arn)["StreamDescription"]["StreamStatus"] == "DISABLED"
    assert len(read_all(streams, new_arn)) == 1


def test_expired_and_trimmed_iterators(ddb, streams, clock):
    name, arn = create(ddb, "KEYS_ONLY")
    ddb.put_item(TableName=name, Item={"pk": {"S": "old"}})
    shard = shard_of(streams, arn)
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    (old,) = streams.get_records(ShardIterator=it)["Records"]
    clock.advance(16 * 60)
    with pytest.raises(ClientError) as e:
        streams.get_records(ShardIterator=it)
    assert code_of(e) == "ExpiredIteratorException"
    # A fresh iterator at the record, then a day passes: the record is trimmed.
    at = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="AT_SEQUENCE_NUMBER",
                                    SequenceNumber=old["dynamodb"]["SequenceNumber"])["ShardIterator"]
    clock.advance(24 * 3600 + 60)
    ddb.put_item(TableName=name, Item={"pk": {"S": "new"}})
    with pytest.raises(ClientError) as e:
        streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="AT_SEQUENCE_NUMBER",
                                   SequenceNumber=old["dynamodb"]["SequenceNumber"])
    assert code_of(e) == "TrimmedDataAccessException"
    with pytest.raises(ClientError) as e:
        streams.get_records(ShardIterator=at)
    assert code_of(e) in ("TrimmedDataAccessException", "ExpiredIteratorException")
    assert [r["dynamodb"]["Keys"]["pk"]["S"] for r in read_all(streams, arn)] == ["new"]


def test_acknowledged_records_survive_sigkill(server_factory, tmp_path):
    srv = server_factory(data_dir=str(tmp_path / "crash"))
    ddb = make("dynamodb", srv.endpoint)
    name, arn = create(ddb, "NEW_IMAGE", name="crashy")
    n = 200
    for i in range(n):
        ddb.put_item(TableName=name, Item={"pk": {"S": f"k{i % 50}"}, "v": {"N": str(i)}})
    os.kill(srv.proc.pid, signal.SIGKILL)
    srv.proc.wait(10)
    srv.proc = None
    srv2 = server_factory(data_dir=str(tmp_path / "crash"))
    ddb = make("dynamodb", srv2.endpoint)
    streams = make("dynamodbstreams", srv2.endpoint)
    records = read_all(streams, arn, limit=1000)
    assert [int(r["dynamodb"]["NewImage"]["v"]["N"]) for r in records] == list(range(n))
    ddb.put_item(TableName=name, Item={"pk": {"S": "after"}})
    again = read_all(streams, arn)
    assert len(again) == n + 1
    assert again[-1]["dynamodb"]["SequenceNumber"] > again[-2]["dynamodb"]["SequenceNumber"]


def test_awscli_reads_a_stream(ddb, aws_env):
    aws, endpoint = aws_env
    name, arn = create(ddb, "KEYS_ONLY")
    ddb.put_item(TableName=name, Item={"pk": {"S": "cli"}})
    listed = aws("dynamodbstreams", "list-streams", "--table-name", name).json
    assert listed["Streams"][0]["StreamArn"] == arn
    desc = aws("dynamodbstreams", "describe-stream", "--stream-arn", arn).json
    shard = desc["StreamDescription"]["Shards"][0]["ShardId"]
    it = aws("dynamodbstreams", "get-shard-iterator", "--stream-arn", arn, "--shard-id", shard,
             "--shard-iterator-type", "TRIM_HORIZON").json["ShardIterator"]
    page = aws("dynamodbstreams", "get-records", "--shard-iterator", it).json
    assert page["Records"][0]["dynamodb"]["Keys"] == {"pk": {"S": "cli"}}


@pytest.fixture
def aws_env(env, tmp_path):
    from conftest import AwsCli
    return AwsCli(env[0].endpoint, str(tmp_path)), env[0].endpoint


# ---------------------------------------------------------------------------------------------
# TTL.

def test_time_to_live(ddb, streams, clock):
    name, arn = create(ddb, "NEW_AND_OLD_IMAGES")
    assert ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "DISABLED"}
    out = ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={
        "Enabled": True, "AttributeName": "expires"})
    assert out["TimeToLiveSpecification"] == {"Enabled": True, "AttributeName": "expires"}
    assert ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED", "AttributeName": "expires"}
    with pytest.raises(ClientError) as e:
        ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={
            "Enabled": True, "AttributeName": "other"})
    assert code_of(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        ddb.update_time_to_live(TableName=unique(), TimeToLiveSpecification={
            "Enabled": True, "AttributeName": "expires"})
    assert code_of(e) == "ResourceNotFoundException"
    now = clock.ms // 1000
    ddb.put_item(TableName=name, Item={"pk": {"S": "gone"}, "expires": {"N": str(now + 60)}})
    ddb.put_item(TableName=name, Item={"pk": {"S": "stays"}, "expires": {"N": str(now + 86400)}})
    ddb.put_item(TableName=name, Item={"pk": {"S": "string"}, "expires": {"S": str(now - 60)}})
    ddb.put_item(TableName=name, Item={"pk": {"S": "none"}})
    clock.advance(120)
    keys = {i["pk"]["S"] for i in ddb.scan(TableName=name)["Items"]}
    assert keys == {"stays", "string", "none"}
    removes = [r for r in read_all(streams, arn) if r["eventName"] == "REMOVE"]
    assert len(removes) == 1
    assert removes[0]["dynamodb"]["Keys"] == {"pk": {"S": "gone"}}
    assert removes[0]["dynamodb"]["OldImage"]["expires"] == {"N": str(now + 60)}
    assert removes[0]["userIdentity"] == {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"}
    with pytest.raises(ClientError) as e:
        ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={
            "Enabled": False, "AttributeName": "other"})
    assert code_of(e) == "ValidationException"
    ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={
        "Enabled": False, "AttributeName": "expires"})
    assert ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"][
        "TimeToLiveStatus"] == "DISABLED"


# ---------------------------------------------------------------------------------------------
# Backups and point-in-time recovery.

def test_backups(ddb):
    name, _ = create(ddb, None)
    for i in range(30):
        ddb.put_item(TableName=name, Item={"pk": {"S": f"k{i}"}, "v": {"N": str(i)}})
    details = ddb.create_backup(TableName=name, BackupName="nightly")["BackupDetails"]
    assert details["BackupStatus"] == "AVAILABLE" and details["BackupType"] == "USER"
    assert details["BackupArn"].startswith(f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}/backup/")
    ddb.put_item(TableName=name, Item={"pk": {"S": "later"}})
    desc = ddb.describe_backup(BackupArn=details["BackupArn"])["BackupDescription"]
    assert desc["SourceTableDetails"]["TableName"] == name
    assert desc["SourceTableDetails"]["ItemCount"] == 30
    summaries = ddb.list_backups(TableName=name)["BackupSummaries"]
    assert [s["BackupArn"] for s in summaries] == [details["BackupArn"]]
    target = unique("restored")
    out = ddb.restore_table_from_backup(TargetTableName=target, BackupArn=details["BackupArn"])
    assert out["TableDescription"]["RestoreSummary"]["SourceBackupArn"] == details["BackupArn"]
    items = ddb.scan(TableName=target)["Items"]
    assert sorted(int(i["v"]["N"]) for i in items) == list(range(30))
    with pytest.raises(ClientError) as e:
        ddb.restore_table_from_backup(TargetTableName=target, BackupArn=details["BackupArn"])
    assert code_of(e) == "TableAlreadyExistsException"
    with pytest.raises(ClientError) as e:
        ddb.create_backup(TableName=unique(), BackupName="x-backup")
    assert code_of(e) == "TableNotFoundException"
    deleted = ddb.delete_backup(BackupArn=details["BackupArn"])["BackupDescription"]
    assert deleted["BackupDetails"]["BackupStatus"] == "DELETED"
    with pytest.raises(ClientError) as e:
        ddb.describe_backup(BackupArn=details["BackupArn"])
    assert code_of(e) == "BackupNotFoundException"
    with pytest.raises(ClientError) as e:
        ddb.restore_table_from_backup(TargetTableName=unique(), BackupArn=details["BackupArn"])
    assert code_of(e) == "BackupNotFoundException"


def test_point_in_time_restore_between_two_writes(ddb, clock):
    name, _ = create(ddb, None)
    pitr = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    assert pitr["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "DISABLED"
    with pytest.raises(ClientError) as e:
        ddb.restore_table_to_point_in_time(SourceTableName=name, TargetTableName=unique(),
                                           UseLatestRestorableTime=True)
    assert code_of(e) == "PointInTimeRecoveryUnavailableException"
    out = ddb.update_continuous_backups(TableName=name, PointInTimeRecoverySpecification={
        "PointInTimeRecoveryEnabled": True})["ContinuousBackupsDescription"]
    desc = out["PointInTimeRecoveryDescription"]
    assert desc["PointInTimeRecoveryStatus"] == "ENABLED"
    assert desc["EarliestRestorableDateTime"] <= desc["LatestRestorableDateTime"]
    clock.advance(2)
    ddb.put_item(TableName=name, Item={"pk": {"S": "first"}})
    clock.advance(2)
    between = datetime.datetime.fromtimestamp(clock.ms / 1000.0, tz=datetime.timezone.utc)
    clock.advance(2)
    ddb.put_item(TableName=name, Item={"pk": {"S": "second"}})
    clock.advance(2)
    target = unique("pitr")
    out = ddb.restore_table_to_point_in_time(SourceTableName=name, TargetTableName=target,
                                             RestoreDateTime=between)
    assert out["TableDescription"]["TableName"] == target
    assert [i["pk"]["S"] for i in ddb.scan(TableName=target)["Items"]] == ["first"]
    with pytest.raises(ClientError) as e:
        ddb.restore_table_to_point_in_time(SourceTableName=name, TargetTableName=target,
                                           RestoreDateTime=between)
    assert code_of(e) == "TableAlreadyExistsException"
    too_early = datetime.datetime.fromtimestamp(clock.ms / 1000.0 - 3600, tz=datetime.timezone.utc)
    with pytest.raises(ClientError) as e:
        ddb.restore_table_to_point_in_time(SourceTableName=name, TargetTableName=unique(),
                                           RestoreDateTime=too_early)
    assert code_of(e) == "InvalidRestoreTimeException"
    with pytest.raises(ClientError) as e:
        ddb.restore_table_to_point_in_time(SourceTableName=unique(), TargetTableName=unique(),
                                           UseLatestRestorableTime=True)
    assert code_of(e) == "TableNotFoundException"
    latest = unique("latest")
    ddb.restore_table_to_point_in_time(SourceTableName=name, TargetTableName=latest,
                                       UseLatestRestorableTime=True)
    assert sorted(i["pk"]["S"] for i in ddb.scan(TableName=latest)["Items"]) == ["first", "second"]
