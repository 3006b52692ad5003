// SigV4 verification against requests signed by botocore (the signer of awscli and boto3) at a
// fixed time, 2026-11-24T21:30:00Z, with AWS's example key pair: the header form for a rest-json
// (Lambda), a json (DynamoDB) and an S3 request, and a presigned S3 URL; then every way to fail.
#include "haneul/common/sigv4.h"

#include <gtest/gtest.h>

#include <string>

namespace haneul {
namespace {

constexpr int64_t kSignedAt = 1795555800;  // 2026-11-24T21:30:00Z
const std::map<std::string, std::string> kSecrets = {
    {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}};

HttpRequest Request(std::string method, std::string target, std::string body = "") {
  HttpRequest request;
  request.method = std::move(method);
  request.target = target;
  auto question = target.find('?');
  request.path = target.substr(0, question);
  request.query = question == std::string::npos ? "" : target.substr(question + 1);
  request.body = std::move(body);
  request.headers.Add("Host", "127.0.0.1:4747");
  request.headers.Add("X-Amz-Date", "20261124T213000Z");
  return request;
}

HttpRequest LambdaRequest() {
  HttpRequest request = Request(
      "GET", "/2015-03-31/functions/my-fn%3A%24LATEST/configuration?Qualifier=%24LATEST&b=x%20y");
  request.headers.Add(
      "Authorization",
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/lambda/aws4_request, "
      "SignedHeaders=host;x-amz-date, "
      "Signature=59d6fd84152fb816d1509629e43b49d8fb5a44b67295b29b5a16685aa0925a0c");
  return request;
}

TEST(SigV4, AcceptsBotocoresLambdaRequest) {
  SigV4Result result = VerifySigV4(LambdaRequest(), kSecrets, kSignedAt + 60);
  EXPECT_TRUE(result.ok()) << result.message;
  EXPECT_EQ(result.service, "lambda");
  EXPECT_EQ(result.access_key, "AKIDEXAMPLE");
}

TEST(SigV4, AcceptsBotocoresDynamoDbRequestWithBody) {
  HttpRequest request = Request("POST", "/", R"({"TableName":"t"})");
  request.headers.Add("X-Amz-Target", "DynamoDB_20120810.DescribeTable");
  request.headers.Add("Content-Type", "application/x-amz-json-1.0");
  request.headers.Add(
      "Authorization",
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/dynamodb/aws4_request, "
      "SignedHeaders=content-type;host;x-amz-date;x-amz-target, "
      "Signature=de18b6fe213c71c6631f5309ffc7c63af862722550ba7d76b86e2526c0022668");
  EXPECT_TRUE(VerifySigV4(request, kSecrets, kSignedAt).ok());
  request.body = R"({"TableName":"other"})";  // the body is signed
  EXPECT_EQ(VerifySigV4(request, kSecrets, kSignedAt).failure, SigV4Failure::kMismatch);
}

// botocore's signature of a PUT of "hello" (its SHA-256 in x-amz-content-sha256), with `body`.
HttpRequest S3PutRequest(std::string body) {
  HttpRequest request = Request("PUT", "/bucket/key%20with%20space.txt", std::move(body));
  request.headers.Add("X-Amz-Content-SHA256",
                      "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
  request.headers.Add(
      "Authorization",
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/s3/aws4_request, "
      "SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
      "Signature=8b24532a82efc9e01f1c3c8b8068f3cfaaa4a1258c0f27f35c2ad213c0b9dcdc");
  return request;
}

TEST(SigV4, AcceptsBotocoresS3RequestWithoutDoubleEncoding) {
  HttpRequest request = S3PutRequest("hello");
  SigV4Result result = VerifySigV4(request, kSecrets, kSignedAt);
  EXPECT_TRUE(result.ok()) << result.message;
  EXPECT_EQ(SigV4Service(request), "s3");
}

// The signed x-amz-content-sha256 must be the body's: the same signature over another body is a
// mismatch, not a pass.
TEST(SigV4, RefusesABodyThatIsNotTheSignedHash) {
  HttpRequest request = S3PutRequest("HELLO");
  SigV4Result result = VerifySigV4(request, kSecrets, kSignedAt);
  EXPECT_EQ(result.failure, SigV4Failure::kMismatch);
  EXPECT_NE(result.message.find("x-amz-content-sha256"), std::string::npos) << result.message;
}

TEST(SigV4, AcceptsPresignedUrlUntilItExpires) {
  HttpRequest request = Request(
      "GET",
      "/bucket/photo.jpg?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20261124"
      "%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261124T213000Z&X-Amz-Expires=3600&"
      "X-Amz-SignedHeaders=host&X-Amz-Signature="
      "c52f38187ae557e30f54bbdbc2850f649ba52646b0a7f83690657f9fa7e465f4");
  EXPECT_TRUE(VerifySigV4(request, kSecrets, kSignedAt + 3599).ok());
  SigV4Result late = VerifySigV4(request, kSecrets, kSignedAt + 3601);
  EXPECT_EQ(late.failure, SigV4Failure::kExpired);
  EXPECT_EQ(late.message, "Request has expired");
}

TEST(SigV4, RefusesWrongSecretUnknownKeyOldDateAndNoSignature) {
  std::map<std::string, std::string> wrong = {{"AKIDEXAMPLE", "not-the-secret"}};
  EXPECT_EQ(VerifySigV4(LambdaRequest(), wrong, kSignedAt).failure, SigV4Failure::kMismatch);
  EXPECT_EQ(VerifySigV4(LambdaRequest(), {{"OTHER", "x"}}, kSignedAt).failure,
            SigV4Failure::kUnknownAccessKey);
  // A replayed signature from 16 minutes ago.
  SigV4Result old = VerifySigV4(LambdaRequest(), kSecrets, kSignedAt + 16 * 60);
  EXPECT_EQ(old.failure, SigV4Failure::kExpired);
  EXPECT_NE(old.message.find("Signature expired: 20261124T213000Z is now earlier than"),
            std::string::npos)
      << old.message;
  EXPECT_EQ(VerifySigV4(Request("GET", "/"), kSecrets, kSignedAt).failure, SigV4Failure::kMissing);
  // Changing any signed part breaks it.
  HttpRequest tampered = LambdaRequest();
  tampered.query = "Qualifier=%24LATEST&b=x%20z";
  EXPECT_EQ(VerifySigV4(tampered, kSecrets, kSignedAt).failure, SigV4Failure::kMismatch);
}

TEST(SigV4, RefusesMalformedAuthorization) {
  HttpRequest request = Request("GET", "/");
  request.headers.Add("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/bad");
  EXPECT_EQ(VerifySigV4(request, kSecrets, kSignedAt).failure, SigV4Failure::kMalformed);
  HttpRequest basic = Request("GET", "/");
  basic.headers.Add("Authorization", "Basic dXNlcjpwYXNz");
  EXPECT_EQ(VerifySigV4(basic, kSecrets, kSignedAt).failure, SigV4Failure::kMalformed);
}

}  // namespace
}  // namespace haneul

namespace haneul {
namespace {

TEST(SigV4, SignsAsBotocoreDoesAndVerifiesItsOwn) {
  Headers headers;
  headers.Add("Host", "127.0.0.1:4747");
  SignSigV4("GET", "/2015-03-31/functions/my-fn%3A%24LATEST/configuration",
            "Qualifier=%24LATEST&b=x%20y", "", "lambda", "us-east-1", "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", kSignedAt, &headers);
  EXPECT_EQ(headers.Get("X-Amz-Date"), "20261124T213000Z");
  EXPECT_EQ(headers.Get("Authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/lambda/aws4_request, "
            "SignedHeaders=host;x-amz-date, "
            "Signature=59d6fd84152fb816d1509629e43b49d8fb5a44b67295b29b5a16685aa0925a0c");

  HttpRequest request;
  request.method = "POST";
  request.path = "/2015-03-31/functions";
  request.body = R"({"FunctionName":"x"})";
  request.headers.Add("Host", "127.0.0.1:4747");
  request.headers.Add("Content-Type", "application/json");
  SignSigV4(request.method, request.path, "", request.body, "lambda", "us-east-1", "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", kSignedAt, &request.headers);
  EXPECT_TRUE(VerifySigV4(request, kSecrets, kSignedAt).ok());
}

}  // namespace
}  // namespace haneul
