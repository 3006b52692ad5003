// Drives ExportTableToPointInTime / DescribeExport / ImportTable / DescribeImport with
// @aws-sdk/client-dynamodb and reads the export through @aws-sdk/client-s3, as
// test_table_export_import.py::test_javascript_sdk runs it. Prints "export sdk ok" on success.
import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import {
  DynamoDBClient, CreateTableCommand, UpdateContinuousBackupsCommand, PutItemCommand,
  ExportTableToPointInTimeCommand, DescribeExportCommand, ImportTableCommand,
  DescribeImportCommand, GetItemCommand, PointInTimeRecoveryUnavailableException,
} from "@aws-sdk/client-dynamodb";
import { S3Client, CreateBucketCommand, GetObjectCommand } from "@aws-sdk/client-s3";

const config = {
  endpoint: process.env.HANEUL_ENDPOINT, region: "us-east-1", maxAttempts: 1,
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
};
const ddb = new DynamoDBClient(config);
const s3 = new S3Client({ ...config, forcePathStyle: true });
const TableName = process.env.TABLE_NAME;
const Bucket = process.env.BUCKET;
const until = async (read, busy) => {
  const end = Date.now() + 60000;
  for (;;) {
    const value = await read();
    if (!busy(value) || Date.now() > end) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

await s3.send(new CreateBucketCommand({ Bucket }));
const created = await ddb.send(new CreateTableCommand({
  TableName, BillingMode: "PAY_PER_REQUEST",
  AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }],
  KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }],
}));
const TableArn = created.TableDescription.TableArn;
await assert.rejects(ddb.send(new ExportTableToPointInTimeCommand({ TableArn, S3Bucket: Bucket })),
  PointInTimeRecoveryUnavailableException);
await ddb.send(new UpdateContinuousBackupsCommand({
  TableName, PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } }));
for (let i = 0; i < 10; i++) {
  await ddb.send(new PutItemCommand({ TableName, Item: { pk: { S: `k${i}` }, n: { N: `${i}` } } }));
}
const started = await ddb.send(new ExportTableToPointInTimeCommand({
  TableArn, S3Bucket: Bucket, S3Prefix: "js", ExportFormat: "DYNAMODB_JSON" }));
assert.ok(started.ExportDescription.StartTime instanceof Date);
const done = await until(
  async () => (await ddb.send(new DescribeExportCommand({ ExportArn: started.ExportDescription.ExportArn }))).ExportDescription,
  (d) => d.ExportStatus === "IN_PROGRESS");
assert.equal(done.ExportStatus, "COMPLETED");
assert.equal(done.ItemCount, 10);
assert.ok(done.EndTime instanceof Date);
const summary = JSON.parse(await (await s3.send(new GetObjectCommand({ Bucket, Key: done.ExportManifest }))).Body.transformToString());
const files = (await (await s3.send(new GetObjectCommand({ Bucket, Key: summary.manifestFilesS3Key }))).Body.transformToString())
  .split("\n").filter(Boolean).map((line) => JSON.parse(line));
let lines = 0;
for (const file of files) {
  const bytes = await (await s3.send(new GetObjectCommand({ Bucket, Key: file.dataFileS3Key }))).Body.transformToByteArray();
  lines += gunzipSync(Buffer.from(bytes)).toString().split("\n").filter(Boolean).length;
}
assert.equal(lines, 10);

const dataPrefix = done.ExportManifest.replace(/manifest-summary\.json$/, "data/");
const imported = await ddb.send(new ImportTableCommand({
  S3BucketSource: { S3Bucket: Bucket, S3KeyPrefix: dataPrefix },
  InputFormat: "DYNAMODB_JSON", InputCompressionType: "GZIP",
  TableCreationParameters: {
    TableName: TableName + "-copy",
    AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }],
    KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }], BillingMode: "PAY_PER_REQUEST",
  },
}));
const finished = await until(
  async () => (await ddb.send(new DescribeImportCommand({ ImportArn: imported.ImportTableDescription.ImportArn }))).ImportTableDescription,
  (d) => d.ImportStatus === "IN_PROGRESS");
assert.equal(finished.ImportStatus, "COMPLETED");
assert.equal(finished.ImportedItemCount, 10);
const copy = await ddb.send(new GetItemCommand({ TableName: TableName + "-copy", Key: { pk: { S: "k7" } } }));
assert.deepEqual(copy.Item, { pk: { S: "k7" }, n: { N: "7" } });
console.log("export sdk ok");
