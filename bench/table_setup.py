"""Creates and fills the table bench/table.sh measures, on haneul or dynalite (plain HTTP, no SDK).

  table_setup.py ENDPOINT TABLE ITEMS
Table TABLE: pk (S) + sk (N), on demand; items k1..kITEMS with sk 0 and a 1000-byte string, and
100 items in partition "q" (sk 0..99) for 100-item query pages. Waits until the table is ACTIVE.
"""
import json
import sys
import time
import urllib.request

endpoint, table, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
HEADERS = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Date": "20260101T000000Z",
           "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/dynamodb/"
                            "aws4_request, SignedHeaders=host;x-amz-date, Signature=0000"}


def call(operation, body):
    req = urllib.request.Request(endpoint, data=json.dumps(body).encode(), method="POST",
                                 headers=dict(HEADERS, **{"X-Amz-Target": "DynamoDB_20120810." + operation}))
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


call("CreateTable", {"TableName": table, "BillingMode": "PAY_PER_REQUEST",
                     "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                              {"AttributeName": "sk", "AttributeType": "N"}],
                     "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                   {"AttributeName": "sk", "KeyType": "RANGE"}]})
for _ in range(200):
    if call("DescribeTable", {"TableName": table})["Table"]["TableStatus"] == "ACTIVE":
        break
    time.sleep(0.05)
pad = "x" * 1000
items = [{"pk": {"S": f"k{i}"}, "sk": {"N": "0"}, "d": {"S": pad}} for i in range(1, count + 1)]
items += [{"pk": {"S": "q"}, "sk": {"N": str(i)}, "d": {"S": pad}} for i in range(100)]
for start in range(0, len(items), 25):
    batch = [{"PutRequest": {"Item": item}} for item in items[start:start + 25]]
    left = call("BatchWriteItem", {"RequestItems": {table: batch}}).get("UnprocessedItems", {})
    while left:
        left = call("BatchWriteItem", {"RequestItems": left}).get("UnprocessedItems", {})
print(f"table_setup: {table} on {endpoint}: {len(items)} items")
