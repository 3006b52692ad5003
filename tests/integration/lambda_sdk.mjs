// Runs one Lambda API command through the AWS SDK for JavaScript v3 (@aws-sdk/client-lambda), for
// the fields Debian's boto3 (botocore 1.29) predates, such as LoggingConfig. Prints the answer as
// JSON (minus $metadata), or {"error": NAME, "message": ...} for a service error. Zip blobs
// (Code.ZipFile, ZipFile) are given in base64.
//   node lambda_sdk.mjs ENDPOINT COMMAND INPUT_JSON     (COMMAND: UpdateFunctionConfiguration, ...)
import * as lambda from "@aws-sdk/client-lambda";

const [endpoint, command, input] = process.argv.slice(2);
const client = new lambda.LambdaClient({
  endpoint, region: "us-east-1", maxAttempts: 1,
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
});
const Command = lambda[command + "Command"];
if (!Command) {
  console.error(`no such command: ${command}`);
  process.exit(2);
}
const params = JSON.parse(input || "{}");
// Blobs travel as base64 in the JSON argument.
if (typeof params.Code?.ZipFile === "string") params.Code.ZipFile = Buffer.from(params.Code.ZipFile, "base64");
if (typeof params.ZipFile === "string") params.ZipFile = Buffer.from(params.ZipFile, "base64");
try {
  const { $metadata, ...answer } = await client.send(new Command(params));
  process.stdout.write(JSON.stringify(answer) + "\n");
} catch (error) {
  if (!error.$metadata) throw error;
  process.stdout.write(JSON.stringify({ error: error.name, message: error.message }) + "\n");
}
