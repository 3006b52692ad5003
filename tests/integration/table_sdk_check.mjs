// Drives the table service with @aws-sdk/client-dynamodb and @aws-sdk/lib-dynamodb, as
// test_table.py::test_javascript_sdk runs it. Prints "table sdk ok" on success.
import assert from "node:assert/strict";
import {
  DynamoDBClient, CreateTableCommand, DeleteTableCommand, DescribeTableCommand,
  ConditionalCheckFailedException, ResourceNotFoundException,
} from "@aws-sdk/client-dynamodb";
import {
  DynamoDBDocumentClient, PutCommand, GetCommand, UpdateCommand, QueryCommand,
  BatchWriteCommand, TransactWriteCommand, DeleteCommand,
} from "@aws-sdk/lib-dynamodb";

const client = new DynamoDBClient({
  endpoint: process.env.HANEUL_ENDPOINT, region: "us-east-1", maxAttempts: 1,
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
});
const doc = DynamoDBDocumentClient.from(client);
const TableName = process.env.TABLE_NAME;

await client.send(new CreateTableCommand({
  TableName, BillingMode: "PAY_PER_REQUEST",
  AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }, { AttributeName: "sk", AttributeType: "N" }],
  KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }, { AttributeName: "sk", KeyType: "RANGE" }],
}));
const described = await client.send(new DescribeTableCommand({ TableName }));
assert.equal(described.Table.TableStatus, "ACTIVE");

await doc.send(new PutCommand({ TableName, Item: { pk: "a", sk: 1, name: "one", tags: new Set(["x"]), nested: { l: [1, 2] } } }));
const got = await doc.send(new GetCommand({ TableName, Key: { pk: "a", sk: 1 } }));
assert.equal(got.Item.name, "one");
assert.deepEqual([...got.Item.tags], ["x"]);
assert.deepEqual(got.Item.nested, { l: [1, 2] });

await assert.rejects(
  doc.send(new PutCommand({ TableName, Item: { pk: "a", sk: 1 }, ConditionExpression: "attribute_not_exists(pk)" })),
  (err) => err instanceof ConditionalCheckFailedException && err.message === "The conditional request failed");

const updated = await doc.send(new UpdateCommand({
  TableName, Key: { pk: "a", sk: 1 }, UpdateExpression: "SET #c = if_not_exists(#c, :zero) + :one",
  ExpressionAttributeNames: { "#c": "count" }, ExpressionAttributeValues: { ":zero": 0, ":one": 1 },
  ReturnValues: "UPDATED_NEW",
}));
assert.deepEqual(updated.Attributes, { count: 1 });

await doc.send(new BatchWriteCommand({ RequestItems: { [TableName]: Array.from({ length: 20 }, (_, i) => ({
  PutRequest: { Item: { pk: "b", sk: i - 10, v: `v${i}` } } })) } }));
const q = await doc.send(new QueryCommand({
  TableName, KeyConditionExpression: "pk = :p AND sk < :z", ExpressionAttributeValues: { ":p": "b", ":z": 0 },
  ScanIndexForward: false, Limit: 4,
}));
assert.deepEqual(q.Items.map((i) => i.sk), [-1, -2, -3, -4]);
assert.deepEqual(q.LastEvaluatedKey, { pk: "b", sk: -4 });

await doc.send(new TransactWriteCommand({ TransactItems: [
  { Put: { TableName, Item: { pk: "t", sk: 1 } } },
  { Delete: { TableName, Key: { pk: "a", sk: 1 } } },
] }));
const gone = await doc.send(new GetCommand({ TableName, Key: { pk: "a", sk: 1 } }));
assert.equal(gone.Item, undefined);
await doc.send(new DeleteCommand({ TableName, Key: { pk: "t", sk: 1 } }));

await client.send(new DeleteTableCommand({ TableName }));
await assert.rejects(client.send(new DescribeTableCommand({ TableName })),
  (err) => err instanceof ResourceNotFoundException);
console.log("table sdk ok");
