// The AWS SDK for JavaScript v3 S3 client against haneul's object store (path-style):
// put, get, head, list, and a missing key. Prints one JSON line with what it saw.
// Usage: node objects_sdk.mjs ENDPOINT BUCKET
import { Readable } from "node:stream";
import {
  S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand, ListObjectsV2Command,
  DeleteObjectCommand,
} from "@aws-sdk/client-s3";

const [endpoint, bucket] = process.argv.slice(2);
const client = new S3Client({
  endpoint, region: "us-east-1", forcePathStyle: true, maxAttempts: 1,
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
});
const out = {};
await client.send(new CreateBucketCommand({ Bucket: bucket }));
const put = await client.send(new PutObjectCommand({
  Bucket: bucket, Key: "js/hello world.txt", Body: "hello from js",
  ContentType: "text/plain", Metadata: { origin: "node" },
}));
out.putEtag = put.ETag;
const get = await client.send(new GetObjectCommand({ Bucket: bucket, Key: "js/hello world.txt" }));
out.body = await get.Body.transformToString();
out.contentType = get.ContentType;
out.metadata = get.Metadata;
const list = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "js/" }));
out.keys = (list.Contents || []).map((c) => c.Key);
try {
  await client.send(new GetObjectCommand({ Bucket: bucket, Key: "js/missing" }));
  out.missing = "found";
} catch (e) {
  out.missing = e.name;
}
// A stream body: the SDK frames it as aws-chunked with a trailing CRC32 checksum.
const streamed = Buffer.alloc(200000, "s");
const putStream = await client.send(new PutObjectCommand({
  Bucket: bucket, Key: "js/streamed", Body: Readable.from([streamed.subarray(0, 70000), streamed.subarray(70000)]),
  ContentLength: streamed.length,
}));
out.streamChecksum = putStream.ChecksumCRC32 || null;
const getStream = await client.send(new GetObjectCommand({ Bucket: bucket, Key: "js/streamed", ChecksumMode: "ENABLED" }));
const back = Buffer.from(await getStream.Body.transformToByteArray());
out.streamedOk = back.equals(streamed);
out.streamedChecksum = getStream.ChecksumCRC32 || null;
await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: "js/streamed" }));
await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: "js/hello world.txt" }));
console.log(JSON.stringify(out));
