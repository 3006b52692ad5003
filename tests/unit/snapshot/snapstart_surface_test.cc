// SnapStart's surface outside the snapshot module: the SnapStart field of CreateFunction /
// UpdateFunctionConfiguration (validation and shapes as Lambda's) and the Runtime API's
// restore/next and restore/error.
#include <gtest/gtest.h>

#include <optional>

#include "function_config.h"
#include "haneul/runtime_api/runtime_api.h"

namespace haneul {
namespace {

using invoker::ApplyConfigRequest;
using invoker::FunctionConfig;

nlohmann::json Body(const std::string& runtime, nlohmann::json snap_start) {
  return {{"FunctionName", "f"}, {"Runtime", runtime}, {"Handler", "app.handler"},
          {"Role", "arn:aws:iam::000000000000:role/x"}, {"SnapStart", snap_start}};
}

TEST(SnapStartConfig, AcceptsPublishedVersionsOnPython312AndShowsIt) {
  FunctionConfig config;
  AwsError error;
  ASSERT_TRUE(ApplyConfigRequest(Body("python3.12", {{"ApplyOn", "PublishedVersions"}}), true,
                                 &config, &error))
      << error.message;
  EXPECT_EQ(config.snap_start_apply_on, "PublishedVersions");
  EXPECT_FALSE(config.snap_start());  // $LATEST is never snapshotted
  auto api = config.ToApi({});
  EXPECT_EQ(api["SnapStart"]["ApplyOn"], "PublishedVersions");
  EXPECT_EQ(api["SnapStart"]["OptimizationStatus"], "Off");
  config.version = "1";
  EXPECT_TRUE(config.snap_start());
  EXPECT_EQ(config.ToApi({})["SnapStart"]["OptimizationStatus"], "On");
  auto stored = FunctionConfig::FromStorage(config.ToStorage());
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->snap_start_apply_on, "PublishedVersions");
}

TEST(SnapStartConfig, RefusesUnsupportedRuntimesAsLambdaDoes) {
  for (const char* runtime : {"python3.11", "nodejs16.x", "provided.al2023"}) {
    FunctionConfig config;
    AwsError error;
    EXPECT_FALSE(ApplyConfigRequest(Body(runtime, {{"ApplyOn", "PublishedVersions"}}), true,
                                    &config, &error));
    EXPECT_EQ(error.type, "InvalidParameterValueException") << runtime;
    EXPECT_EQ(error.message,
              std::string(runtime) + " is not supported for SnapStart enabled functions.");
  }
  FunctionConfig config;
  AwsError error;
  EXPECT_TRUE(ApplyConfigRequest(Body("nodejs20.x", {{"ApplyOn", "None"}}), true, &config,
                                 &error));
}

TEST(SnapStartConfig, RefusesAnUnknownApplyOnAndAWrongType) {
  FunctionConfig config;
  AwsError error;
  EXPECT_FALSE(ApplyConfigRequest(Body("python3.12", {{"ApplyOn", "Always"}}), true, &config,
                                  &error));
  EXPECT_EQ(error.type, "ValidationException");
  EXPECT_NE(error.message.find("snapStart.applyOn"), std::string::npos);
  EXPECT_FALSE(ApplyConfigRequest(Body("python3.12", "PublishedVersions"), true, &config, &error));
  EXPECT_EQ(error.type, "InvalidRequestContentException");
}

TEST(SnapStartConfig, VersionStateShowsInTheConfiguration) {
  FunctionConfig config;
  config.version = "2";
  config.snap_start_apply_on = "PublishedVersions";
  config.version_state = std::make_shared<invoker::VersionState>(invoker::VersionState{
      "Failed", "Failed", "FunctionError", "Runtime.ExitError: boom"});
  auto api = config.ToApi({});
  EXPECT_EQ(api["State"], "Failed");
  EXPECT_EQ(api["LastUpdateStatus"], "Failed");
  EXPECT_EQ(api["StateReasonCode"], "FunctionError");
  EXPECT_EQ(api["StateReason"], "Runtime.ExitError: boom");
}

class FakeResponder : public Responder {
 public:
  void Respond(HttpResponse response) override {
    if (!response_) response_ = std::move(response);
  }
  bool responded() const override { return response_.has_value(); }
  std::optional<HttpResponse> response_;
};

struct Api {
  Api()
      : api({[this] { ++ready; },
             [this](std::string type, std::string body) {
               error_type = std::move(type);
               error_body = std::move(body);
             }}) {}
  std::shared_ptr<FakeResponder> Send(const std::string& method, const std::string& path,
                                      const std::string& error_type = "") {
    HttpRequest request;
    request.method = method;
    request.path = "/2018-06-01/runtime/" + path;
    request.body = "{}";
    if (!error_type.empty()) request.headers.Set("Lambda-Runtime-Function-Error-Type", error_type);
    auto responder = std::make_shared<FakeResponder>();
    api.Handle(std::move(request), responder);
    return responder;
  }
  int ready = 0;
  std::string error_type;
  std::string error_body;
  runtime_api::RuntimeApi api;
};

TEST(RuntimeApiRestore, RestoreNextAnswersOnceThenInvocationNextIsReady) {
  Api api;
  auto restore = api.Send("GET", "restore/next");
  ASSERT_TRUE(restore->responded());
  EXPECT_EQ(restore->response_->status, 200);
  EXPECT_EQ(api.Send("GET", "restore/next")->response_->status, 403);
  EXPECT_FALSE(api.Send("GET", "invocation/next")->responded());  // parked: ready
  EXPECT_EQ(api.ready, 1);
  EXPECT_EQ(api.Send("GET", "restore/next")->response_->status, 403);
  EXPECT_EQ(api.Send("POST", "restore/next")->response_->status, 405);
}

TEST(RuntimeApiRestore, RestoreErrorFailsTheEnvironmentOnlyAfterRestoreNext) {
  Api api;
  EXPECT_EQ(api.Send("POST", "restore/error", "Hook.Error")->response_->status, 403);
  api.Send("GET", "restore/next");
  EXPECT_EQ(api.Send("POST", "restore/error", "Hook.Error")->response_->status, 202);
  EXPECT_EQ(api.error_type, "Hook.Error");
  EXPECT_EQ(api.api.state(), runtime_api::RuntimeApi::State::kFailed);
}

}  // namespace
}  // namespace haneul
