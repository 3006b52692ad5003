// The Runtime API state machine; see runtime_api.h for the states.
#include "haneul/runtime_api/runtime_api.h"

#include <nlohmann/json.hpp>

#include <string_view>

namespace haneul::runtime_api {

namespace {

constexpr std::string_view kPrefix = "/2018-06-01/runtime/";

HttpResponse ErrorResponse(int status, std::string_view type, std::string_view message) {
  nlohmann::json body = {{"errorMessage", message}, {"errorType", type}};
  return HttpResponse::Json(status, body.dump());
}

HttpResponse Accepted() { return HttpResponse::Json(202, R"({"status":"OK"})"); }

// Splits "invocation/{id}/response" into id and action; false if the path is not of that shape.
bool ParseInvocationPath(std::string_view rest, std::string* id, std::string* action) {
  constexpr std::string_view kInvocation = "invocation/";
  if (!rest.starts_with(kInvocation)) return false;
  rest.remove_prefix(kInvocation.size());
  auto slash = rest.find('/');
  if (slash == std::string_view::npos || slash == 0) return false;
  *id = PercentDecode(rest.substr(0, slash));
  *action = std::string(rest.substr(slash + 1));
  return true;
}

}  // namespace

RuntimeApi::RuntimeApi(Callbacks callbacks) : callbacks_(std::move(callbacks)) {}

RuntimeApi::~RuntimeApi() = default;

HttpListenOptions RuntimeApi::ListenOptions(std::string host, uint16_t port) {
  HttpListenOptions options;
  options.host = std::move(host);
  options.port = port;
  options.body_limit = kMaxResponseBytes;
  options.too_large = [this](const HttpRequest& request) { return HandleTooLarge(request); };
  return options;
}

void RuntimeApi::Handle(HttpRequest request, std::shared_ptr<Responder> responder) {
  std::string_view path = request.path;
  if (!path.starts_with(kPrefix)) {
    responder->Respond(ErrorResponse(404, "InvalidRequest", "Not Found"));
    return;
  }
  std::string_view rest = path.substr(kPrefix.size());

  if (rest == "invocation/next") {
    if (request.method != "GET") {
      responder->Respond(ErrorResponse(405, "MethodNotAllowed", "Method Not Allowed"));
      return;
    }
    switch (state_) {
      case State::kInitializing:
      case State::kAwaitingNext: {
        bool first = state_ == State::kInitializing;
        state_ = State::kIdle;
        parked_next_ = std::move(responder);
        if (first && callbacks_.on_ready) callbacks_.on_ready();
        if (current_) Deliver();
        return;
      }
      case State::kIdle:
        // A second concurrent /next: the first one stays parked, this one is refused.
        responder->Respond(ErrorResponse(403, "InvalidStateTransition",
                                         "State transition from Ready to Ready failed"));
        return;
      case State::kInvoking:
        responder->Respond(ErrorResponse(
            403, "InvalidStateTransition",
            "State transition from Invoking to Ready failed: no response was posted for " +
                (current_ ? current_->request_id : std::string())));
        return;
      case State::kFailed:
        responder->Respond(ErrorResponse(403, "InvalidStateTransition",
                                         "State transition from InitError to Ready failed"));
        return;
    }
  }

  // SnapStart (see runtime_api.h): a restored copy asks restore/next once, before its
  // after-restore hooks; it is answered at once, since the copy exists only once restored. A hook
  // failure is posted to restore/error and fails the environment like an init error.
  if (rest == "restore/next") {
    if (request.method != "GET") {
      responder->Respond(ErrorResponse(405, "MethodNotAllowed", "Method Not Allowed"));
      return;
    }
    if (state_ != State::kInitializing || restored_) {
      responder->Respond(ErrorResponse(403, "InvalidStateTransition",
                                       "State transition from Ready to Restoring failed"));
      return;
    }
    restored_ = true;
    responder->Respond(HttpResponse::Json(200, "{}"));
    return;
  }

  if (rest == "restore/error") {
    if (request.method != "POST") {
      responder->Respond(ErrorResponse(405, "MethodNotAllowed", "Method Not Allowed"));
      return;
    }
    if (state_ != State::kInitializing || !restored_) {
      responder->Respond(ErrorResponse(403, "InvalidStateTransition",
                                       "State transition from Ready to RestoreError failed"));
      return;
    }
    state_ = State::kFailed;
    std::string error_type(request.headers.Get("Lambda-Runtime-Function-Error-Type"));
    if (error_type.empty()) error_type = "Runtime.Unknown";
    responder->Respond(Accepted());
    if (callbacks_.on_init_error) callbacks_.on_init_error(error_type, std::move(request.body));
    return;
  }

  if (rest == "init/error") {
    if (request.method != "POST") {
      responder->Respond(ErrorResponse(405, "MethodNotAllowed", "Method Not Allowed"));
      return;
    }
    if (state_ != State::kInitializing) {
      responder->Respond(ErrorResponse(403, "InvalidStateTransition",
                                       "State transition from Ready to InitError failed"));
      return;
    }
    state_ = State::kFailed;
    std::string error_type(request.headers.Get("Lambda-Runtime-Function-Error-Type"));
    if (error_type.empty()) error_type = "Runtime.Unknown";
    responder->Respond(Accepted());
    if (callbacks_.on_init_error) callbacks_.on_init_error(error_type, std::move(request.body));
    return;
  }

  std::string id;
  std::string action;
  if (!ParseInvocationPath(rest, &id, &action) ||
      (action != "response" && action != "error")) {
    responder->Respond(ErrorResponse(404, "InvalidRequest", "Not Found"));
    return;
  }
  if (request.method != "POST") {
    responder->Respond(ErrorResponse(405, "MethodNotAllowed", "Method Not Allowed"));
    return;
  }
  if (id == completed_id_) {
    // The invocation was answered already: a second post is a state error, not an unknown id.
    responder->Respond(ErrorResponse(
        403, "InvalidStateTransition",
        "State transition from RuntimeResponseSent to InvocationResponse failed"));
    return;
  }
  if (!current_ || current_->request_id != id || state_ != State::kInvoking) {
    responder->Respond(ErrorResponse(400, "InvalidRequestID", "Invalid request ID"));
    return;
  }
  InvocationResult result;
  result.is_error = action == "error";
  result.body = std::move(request.body);
  if (result.is_error) {
    result.error_type = std::string(request.headers.Get("Lambda-Runtime-Function-Error-Type"));
    if (result.error_type.empty()) result.error_type = "Runtime.Unknown";
  }
  // The caller waiting for this result is answered first, the runtime's 202 second: the runtime
  // has nothing to do until its next /next, and this keeps one wake-up off the invoke path.
  Complete(std::move(result));
  responder->Respond(Accepted());
}

HttpResponse RuntimeApi::HandleTooLarge(const HttpRequest& request) {
  std::string_view path = request.path;
  std::string id;
  std::string action;
  if (path.starts_with(kPrefix) && ParseInvocationPath(path.substr(kPrefix.size()), &id, &action) &&
      action == "response" && current_ && current_->request_id == id &&
      state_ == State::kInvoking) {
    InvocationResult result;
    result.is_error = true;
    result.error_type = "Function.ResponseSizeTooLarge";
    result.body = nlohmann::json{{"errorMessage",
                                  "Response payload size exceeded maximum allowed payload size (" +
                                      std::to_string(kMaxResponseBytes) + " bytes)."},
                                 {"errorType", "Function.ResponseSizeTooLarge"}}
                      .dump();
    Complete(std::move(result));
  }
  return ErrorResponse(413, "RequestEntityTooLarge",
                       "Exceeded maximum allowed payload size (" +
                           std::to_string(kMaxResponseBytes) + " bytes).");
}

void RuntimeApi::Invoke(Invocation invocation, std::function<void(InvocationResult)> done) {
  // completed_id_ stays: a late second post for the previous invocation, arriving after this one
  // was handed over, is still a state error rather than an unknown id.
  current_ = std::move(invocation);
  done_ = std::move(done);
  if (state_ == State::kIdle) Deliver();
}

void RuntimeApi::Abandon() {
  current_.reset();
  done_ = nullptr;
}

void RuntimeApi::Deliver() {
  if (!parked_next_ || !current_) return;
  HttpResponse response;
  response.status = 200;
  response.headers.Set("Content-Type", "application/json");
  response.headers.Set("Lambda-Runtime-Aws-Request-Id", current_->request_id);
  response.headers.Set("Lambda-Runtime-Deadline-Ms", std::to_string(current_->deadline_unix_ms));
  response.headers.Set("Lambda-Runtime-Invoked-Function-Arn", current_->invoked_function_arn);
  response.headers.Set("Lambda-Runtime-Trace-Id", current_->trace_id);
  if (!current_->client_context.empty()) {
    response.headers.Set("Lambda-Runtime-Client-Context", current_->client_context);
  }
  if (!current_->cognito_identity.empty()) {
    response.headers.Set("Lambda-Runtime-Cognito-Identity", current_->cognito_identity);
  }
  response.body = std::move(current_->payload);
  state_ = State::kInvoking;
  auto next = std::move(parked_next_);
  next->Respond(std::move(response));
}

void RuntimeApi::Complete(InvocationResult result) {
  state_ = State::kAwaitingNext;
  // Remembered so that a second post for the same id is told InvalidStateTransition.
  completed_id_ = std::move(current_->request_id);
  current_.reset();
  auto done = std::move(done_);
  done_ = nullptr;
  if (done) done(std::move(result));
}

}  // namespace haneul::runtime_api
