// Lambda's validation rules and messages for function configuration.
#include "function_config.h"

#include <gtest/gtest.h>

namespace haneul::invoker {
namespace {

nlohmann::json ValidCreate() {
  return {{"FunctionName", "f"},
          {"Runtime", "python3.12"},
          {"Handler", "app.handler"},
          {"Role", "arn:aws:iam::000000000000:role/r"}};
}

TEST(FunctionConfig, AcceptsAValidCreateWithDefaults) {
  FunctionConfig config;
  AwsError error;
  ASSERT_TRUE(ApplyConfigRequest(ValidCreate(), true, &config, &error)) << error.message;
  EXPECT_EQ(config.name, "f");
  EXPECT_EQ(config.memory_mb, 128);
  EXPECT_EQ(config.timeout_seconds, 3);
  EXPECT_EQ(config.ephemeral_storage_mb, 512);
}

TEST(FunctionConfig, ReportsEveryViolationLikeLambda) {
  auto body = ValidCreate();
  body["MemorySize"] = 64;
  body["Timeout"] = 901;
  FunctionConfig config;
  AwsError error;
  ASSERT_FALSE(ApplyConfigRequest(body, true, &config, &error));
  EXPECT_EQ(error.type, "ValidationException");
  EXPECT_EQ(error.http_status, 400);
  EXPECT_EQ(error.message,
            "2 validation errors detected: Value '64' at 'memorySize' failed to satisfy "
            "constraint: Member must have value greater than or equal to 128; Value '901' at "
            "'timeout' failed to satisfy constraint: Member must have value less than or equal "
            "to 900");
}

TEST(FunctionConfig, RejectsBadNames) {
  for (std::string name : {std::string("bad name!"), std::string(65, 'a'), std::string()}) {
    auto body = ValidCreate();
    body["FunctionName"] = name;
    FunctionConfig config;
    AwsError error;
    EXPECT_FALSE(ApplyConfigRequest(body, true, &config, &error)) << name;
    EXPECT_EQ(error.type, "ValidationException") << name;
  }
}

TEST(FunctionConfig, EnvironmentOver4KbIsInvalidParameterValue) {
  auto body = ValidCreate();
  body["Environment"] = {{"Variables", {{"BIG", std::string(4100, 'x')}}}};
  FunctionConfig config;
  AwsError error;
  ASSERT_FALSE(ApplyConfigRequest(body, true, &config, &error));
  EXPECT_EQ(error.type, "InvalidParameterValueException");
  EXPECT_NE(error.message.find("exceeded the 4KB limit"), std::string::npos);
}

TEST(FunctionConfig, ReservedVariablesAreRefused) {
  auto body = ValidCreate();
  body["Environment"] = {{"Variables", {{"AWS_REGION", "x"}}}};
  FunctionConfig config;
  AwsError error;
  ASSERT_FALSE(ApplyConfigRequest(body, true, &config, &error));
  EXPECT_EQ(error.type, "InvalidParameterValueException");
}

TEST(FunctionConfig, WrongJsonTypeIsInvalidRequestContent) {
  auto body = ValidCreate();
  body["MemorySize"] = "big";
  FunctionConfig config;
  AwsError error;
  ASSERT_FALSE(ApplyConfigRequest(body, true, &config, &error));
  EXPECT_EQ(error.type, "InvalidRequestContentException");
}

TEST(FunctionConfig, UnsupportedRuntimeIsInvalidParameterValue) {
  auto body = ValidCreate();
  body["Runtime"] = "java21";
  FunctionConfig config;
  AwsError error;
  ASSERT_FALSE(ApplyConfigRequest(body, true, &config, &error));
  EXPECT_EQ(error.type, "InvalidParameterValueException");
}

TEST(FunctionConfig, StorageRoundTrips) {
  FunctionConfig config;
  AwsError error;
  auto body = ValidCreate();
  body["Environment"] = {{"Variables", {{"AB", "1"}}}};
  ASSERT_TRUE(ApplyConfigRequest(body, true, &config, &error));
  config.revision = 9;
  auto back = FunctionConfig::FromStorage(config.ToStorage());
  ASSERT_TRUE(back);
  EXPECT_EQ(back->ToStorage(), config.ToStorage());
  EXPECT_FALSE(FunctionConfig::FromStorage(nlohmann::json::parse(R"({"name":1})")));
}

TEST(FunctionRef, ParsesNamesAndArns) {
  AccountInfo account;
  AwsError error;
  auto plain = ParseFunctionRef("f", account, &error);
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->name, "f");
  auto qualified = ParseFunctionRef("f:$LATEST", account, &error);
  ASSERT_TRUE(qualified);
  EXPECT_EQ(qualified->qualifier, "$LATEST");
  auto arn = ParseFunctionRef("arn:aws:lambda:us-east-1:000000000000:function:f:prod", account,
                              &error);
  ASSERT_TRUE(arn);
  EXPECT_EQ(arn->name, "f");
  EXPECT_EQ(arn->qualifier, "prod");
  auto partial = ParseFunctionRef("000000000000:function:g", account, &error);
  ASSERT_TRUE(partial);
  EXPECT_EQ(partial->name, "g");
  EXPECT_FALSE(ParseFunctionRef("bad name", account, &error));
  EXPECT_EQ(error.type, "ValidationException");
}

}  // namespace
}  // namespace haneul::invoker
