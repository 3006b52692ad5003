// The haneul C++ runtime client: the loop a `provided` / `provided.al2023` bootstrap runs to
// serve invocations through the Lambda Runtime API (2018-06-01) at $AWS_LAMBDA_RUNTIME_API.
//
//   #include "haneul/runtime/runtime.h"
//   int main() {
//     return haneul::runtime::Run([](const haneul::runtime::InvocationRequest& request) {
//       return haneul::runtime::InvocationResponse::Success("{}", "application/json");
//     });
//   }
//
// Run() owns one kept-alive HTTP/1.1 connection to the Runtime API and calls the handler on the
// calling thread, one invocation at a time, as Lambda does. Nothing here is thread-safe, and
// Run() sets _X_AMZN_TRACE_ID in the process environment before each call of the handler.
// No exceptions escape Run(): a handler's exception is reported as the invocation's error.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace haneul::runtime {

struct InvocationRequest {
  std::string payload;           // the event, as the invoker sent it (JSON for Lambda)
  std::string request_id;        // Lambda-Runtime-Aws-Request-Id
  std::string function_arn;      // Lambda-Runtime-Invoked-Function-Arn
  int64_t deadline_ms = 0;       // Lambda-Runtime-Deadline-Ms: Unix epoch milliseconds
  std::string trace_id;          // Lambda-Runtime-Trace-Id, "" when absent
  std::string client_context;    // Lambda-Runtime-Client-Context (JSON), "" when absent
  std::string cognito_identity;  // Lambda-Runtime-Cognito-Identity (JSON), "" when absent

  // Time left before the deadline (negative once it has passed).
  std::chrono::milliseconds GetTimeRemaining() const;
};

class InvocationResponse {
 public:
  // A result: payload is returned to the caller as is.
  static InvocationResponse Success(std::string payload,
                                    std::string content_type = "application/json");
  // A function error: the caller gets {"errorMessage", "errorType", "stackTrace": []} and
  // X-Amz-Function-Error: Unhandled, as with Lambda's own runtimes.
  static InvocationResponse Failure(std::string error_message, std::string error_type);

  bool is_success() const { return success_; }
  // The body to post: the payload, or the JSON error document of a failure.
  const std::string& payload() const { return payload_; }
  const std::string& content_type() const { return content_type_; }
  const std::string& error_type() const { return error_type_; }  // "" on success

 private:
  InvocationResponse() = default;
  bool success_ = true;
  std::string payload_;
  std::string content_type_;
  std::string error_type_;
};

using Handler = std::function<InvocationResponse(const InvocationRequest&)>;

struct RunOptions {
  // "HOST:PORT" of the Runtime API; empty means $AWS_LAMBDA_RUNTIME_API.
  std::string runtime_api;
  // Return after this many invocations; 0 means serve until the Runtime API goes away.
  uint64_t max_invocations = 0;
};

// Serves invocations until the Runtime API refuses /next or goes away, or max_invocations is
// reached. Returns the process exit code to use: 0 after max_invocations, 1 on any failure
// (described on stderr). Lambda freezes or kills the process between invocations; the loop never
// needs to be stopped from inside.
int Run(const Handler& handler, const RunOptions& options = {});

}  // namespace haneul::runtime
