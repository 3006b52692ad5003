"""Bucket notifications reach functions: an object created under a filtered prefix invokes the
function asynchronously with S3's event record; an object outside the filter, or a removal the
configuration does not name, invokes nothing."""

import json
import uuid

from lambda_helpers import function_arn, poll
from test_objects import make_s3

PRINTER = r'''
import json
def handler(event, context):
    print("S3EVENT " + json.dumps(event))
    return {}
'''


def test_object_created_invokes_the_function_with_s3s_record(server, functions, logs_client):
    name = functions.create({"app.py": PRINTER})["FunctionName"]
    s3 = make_s3(server.endpoint)
    bucket = "notify-" + uuid.uuid4().hex[:10]
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "LambdaFunctionConfigurations": [{
            "Id": "resize", "LambdaFunctionArn": function_arn(name),
            "Events": ["s3:ObjectCreated:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "input/"}]}}}]})
    s3.put_object(Bucket=bucket, Key="input/my photo.jpg", Body=b"x" * 1234)
    s3.put_object(Bucket=bucket, Key="output/ignored.jpg", Body=b"y")
    s3.delete_object(Bucket=bucket, Key="input/my photo.jpg")

    def records():
        try:
            events = logs_client.filter_log_events(logGroupName=f"/aws/lambda/{name}",
                                                   filterPattern="S3EVENT")["events"]
        except logs_client.exceptions.ResourceNotFoundException:
            return None
        return [json.loads(e["message"].split("S3EVENT ", 1)[1]) for e in events] or None

    got = poll(records, timeout=20, interval=0.3)
    assert got, "the function was not invoked"
    # Give a wrongly fired output/ or delete event the time to show up too.
    poll(lambda: len(records() or []) > 1, timeout=2, interval=0.3)
    got = records()
    assert len(got) == 1, got
    record = got[0]["Records"][0]
    assert record["eventSource"] == "aws:s3"
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["configurationId"] == "resize"
    assert record["s3"]["bucket"]["name"] == bucket
    assert record["s3"]["bucket"]["arn"] == f"arn:aws:s3:::{bucket}"
    assert record["s3"]["object"]["key"] == "input/my+photo.jpg"
    assert record["s3"]["object"]["size"] == 1234
    assert record["s3"]["object"]["eTag"]
    assert record["s3"]["object"]["sequencer"]
