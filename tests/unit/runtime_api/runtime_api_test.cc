// The Runtime API state machine, driven through fake responders.
#include "haneul/runtime_api/runtime_api.h"

#include <gtest/gtest.h>

#include <optional>

namespace haneul::runtime_api {
namespace {

class FakeResponder : public Responder {
 public:
  void Respond(HttpResponse response) override {
    if (!response_) response_ = std::move(response);
  }
  bool responded() const override { return response_.has_value(); }
  std::optional<HttpResponse> response_;
};

HttpRequest Request(std::string method, std::string path, std::string body = "") {
  HttpRequest request;
  request.method = std::move(method);
  request.path = std::move(path);
  request.body = std::move(body);
  return request;
}

struct Harness {
  Harness()
      : api({[this] { ++ready; },
             [this](std::string type, std::string body) {
               init_error_type = type;
               init_error_body = body;
             }}) {}

  std::shared_ptr<FakeResponder> Send(HttpRequest request) {
    auto responder = std::make_shared<FakeResponder>();
    api.Handle(std::move(request), responder);
    return responder;
  }
  std::shared_ptr<FakeResponder> Next() {
    return Send(Request("GET", "/2018-06-01/runtime/invocation/next"));
  }

  int ready = 0;
  std::string init_error_type;
  std::string init_error_body;
  RuntimeApi api;
};

Invocation MakeInvocation(std::string id) {
  Invocation invocation;
  invocation.request_id = std::move(id);
  invocation.payload = R"({"k":1})";
  invocation.deadline_unix_ms = 1234;
  invocation.invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:f";
  invocation.trace_id = "Root=1-abc";
  return invocation;
}

TEST(RuntimeApi, NextParksUntilAnInvocationArrives) {
  Harness h;
  auto next = h.Next();
  EXPECT_FALSE(next->responded());
  EXPECT_EQ(h.ready, 1);
  std::optional<InvocationResult> result;
  h.api.Invoke(MakeInvocation("req-1"), [&](InvocationResult r) { result = r; });
  ASSERT_TRUE(next->responded());
  EXPECT_EQ(next->response_->status, 200);
  EXPECT_EQ(next->response_->body, R"({"k":1})");
  EXPECT_EQ(next->response_->headers.Get("Lambda-Runtime-Aws-Request-Id"), "req-1");
  EXPECT_EQ(next->response_->headers.Get("Lambda-Runtime-Deadline-Ms"), "1234");
  EXPECT_EQ(next->response_->headers.Get("Lambda-Runtime-Trace-Id"), "Root=1-abc");
  EXPECT_EQ(next->response_->headers.Get("Lambda-Runtime-Invoked-Function-Arn"),
            "arn:aws:lambda:us-east-1:000000000000:function:f");
  EXPECT_FALSE(result);

  auto post = h.Send(Request("POST", "/2018-06-01/runtime/invocation/req-1/response", "42"));
  EXPECT_EQ(post->response_->status, 202);
  ASSERT_TRUE(result);
  EXPECT_FALSE(result->is_error);
  EXPECT_EQ(result->body, "42");
}

TEST(RuntimeApi, NextAfterAResponseWaitsForTheNextInvocation) {
  Harness h;
  h.Next();
  h.api.Invoke(MakeInvocation("req-1"), [](InvocationResult) {});
  h.Send(Request("POST", "/2018-06-01/runtime/invocation/req-1/response", "1"));
  auto next = h.Next();
  EXPECT_FALSE(next->responded()) << "the answered invocation must not be delivered again";
  h.api.Invoke(MakeInvocation("req-2"), [](InvocationResult) {});
  ASSERT_TRUE(next->responded());
  EXPECT_EQ(next->response_->headers.Get("Lambda-Runtime-Aws-Request-Id"), "req-2");
  EXPECT_EQ(next->response_->body, R"({"k":1})");
}

TEST(RuntimeApi, QueuedInvocationIsDeliveredOnFirstNext) {
  Harness h;
  std::optional<InvocationResult> result;
  h.api.Invoke(MakeInvocation("req-1"), [&](InvocationResult r) { result = r; });
  auto next = h.Next();
  ASSERT_TRUE(next->responded());
  EXPECT_EQ(next->response_->headers.Get("Lambda-Runtime-Aws-Request-Id"), "req-1");
}

TEST(RuntimeApi, SecondPostIsInvalidStateTransition) {
  Harness h;
  h.Next();
  int calls = 0;
  h.api.Invoke(MakeInvocation("req-1"), [&](InvocationResult) { ++calls; });
  EXPECT_EQ(h.Send(Request("POST", "/2018-06-01/runtime/invocation/req-1/response", "1"))
                ->response_->status,
            202);
  auto again = h.Send(Request("POST", "/2018-06-01/runtime/invocation/req-1/response", "2"));
  EXPECT_EQ(again->response_->status, 403);
  EXPECT_NE(again->response_->body.find("InvalidStateTransition"), std::string::npos);
  auto error = h.Send(Request("POST", "/2018-06-01/runtime/invocation/req-1/error", "{}"));
  EXPECT_EQ(error->response_->status, 403);
  EXPECT_EQ(calls, 1);
}

TEST(RuntimeApi, LateSecondPostAfterTheNextInvocationStartedIsStillAStateError) {
  Harness h;
  h.Next();
  h.api.Invoke(MakeInvocation("req-1"), [](InvocationResult) {});
  h.Send(Request("POST", "/2018-06-01/runtime/invocation/req-1/response", "1"));
  h.api.Invoke(MakeInvocation("req-2"), [](InvocationResult) {});
  auto late = h.Send(Request("POST", "/2018-06-01/runtime/invocation/req-1/response", "2"));
  EXPECT_EQ(late->response_->status, 403);
}

TEST(RuntimeApi, PostForAnotherRequestIdIsInvalidRequestId) {
  Harness h;
  h.Next();
  h.api.Invoke(MakeInvocation("req-1"), [](InvocationResult) {});
  auto wrong = h.Send(Request("POST", "/2018-06-01/runtime/invocation/other/response", "1"));
  EXPECT_EQ(wrong->response_->status, 400);
  EXPECT_NE(wrong->response_->body.find("InvalidRequestID"), std::string::npos);
}

TEST(RuntimeApi, ErrorPostCarriesTheErrorType) {
  Harness h;
  h.Next();
  std::optional<InvocationResult> result;
  h.api.Invoke(MakeInvocation("req-1"), [&](InvocationResult r) { result = r; });
  HttpRequest request = Request("POST", "/2018-06-01/runtime/invocation/req-1/error",
                                R"({"errorType":"ValueError"})");
  request.headers.Set("Lambda-Runtime-Function-Error-Type", "ValueError");
  EXPECT_EQ(h.Send(std::move(request))->response_->status, 202);
  ASSERT_TRUE(result);
  EXPECT_TRUE(result->is_error);
  EXPECT_EQ(result->error_type, "ValueError");
}

TEST(RuntimeApi, InitErrorOnlyDuringInit) {
  Harness h;
  HttpRequest request = Request("POST", "/2018-06-01/runtime/init/error", R"({"e":1})");
  request.headers.Set("Lambda-Runtime-Function-Error-Type", "Runtime.ImportModuleError");
  EXPECT_EQ(h.Send(std::move(request))->response_->status, 202);
  EXPECT_EQ(h.init_error_type, "Runtime.ImportModuleError");
  EXPECT_EQ(h.api.state(), RuntimeApi::State::kFailed);

  Harness ready;
  ready.Next();
  auto late = ready.Send(Request("POST", "/2018-06-01/runtime/init/error", "{}"));
  EXPECT_EQ(late->response_->status, 403);
}

TEST(RuntimeApi, AbandonedInvocationRefusesLatePosts) {
  Harness h;
  h.Next();
  bool called = false;
  h.api.Invoke(MakeInvocation("req-1"), [&](InvocationResult) { called = true; });
  h.api.Abandon();
  auto late = h.Send(Request("POST", "/2018-06-01/runtime/invocation/req-1/response", "1"));
  EXPECT_EQ(late->response_->status, 400);
  EXPECT_FALSE(called);
}

TEST(RuntimeApi, OversizedResponseFailsTheInvocation) {
  Harness h;
  h.Next();
  std::optional<InvocationResult> result;
  h.api.Invoke(MakeInvocation("req-1"), [&](InvocationResult r) { result = r; });
  auto answer = h.api.HandleTooLarge(
      Request("POST", "/2018-06-01/runtime/invocation/req-1/response"));
  EXPECT_EQ(answer.status, 413);
  EXPECT_NE(answer.body.find("RequestEntityTooLarge"), std::string::npos);
  ASSERT_TRUE(result);
  EXPECT_TRUE(result->is_error);
  EXPECT_NE(result->body.find("Function.ResponseSizeTooLarge"), std::string::npos);
}

TEST(RuntimeApi, UnknownPathsAre404) {
  Harness h;
  EXPECT_EQ(h.Send(Request("GET", "/2018-06-01/runtime/nope"))->response_->status, 404);
  EXPECT_EQ(h.Send(Request("GET", "/other"))->response_->status, 404);
}

}  // namespace
}  // namespace haneul::runtime_api
