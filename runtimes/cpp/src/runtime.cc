// The invocation loop of the C++ runtime client (see runtime.h): GET /next, call the handler,
// POST /response or /error, over one kept-alive connection.
#include "haneul/runtime/runtime.h"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string_view>
#include <utility>

#include "http_connection.h"
#include "response_parser.h"

namespace haneul::runtime {
namespace {

constexpr std::string_view kNextTarget = "/2018-06-01/runtime/invocation/next";
constexpr std::string_view kInvocationPrefix = "/2018-06-01/runtime/invocation/";

void LogError(std::string_view message) {
  std::fprintf(stderr, "haneul-runtime: %.*s\n", static_cast<int>(message.size()), message.data());
}

void AppendJsonString(std::string* out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20) {
          out->append("\\u00");
          out->push_back(kHex[c >> 4]);
          out->push_back(kHex[c & 0xf]);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

// Header values we send must not end the header early: control characters become spaces.
std::string SanitizeHeaderValue(std::string_view value) {
  std::string clean(value);
  for (char& c : clean) {
    auto byte = static_cast<unsigned char>(c);
    if ((byte < 0x20 && byte != '\t') || byte == 0x7f) c = ' ';
  }
  return clean;
}

// The request id goes into a request target: only RFC 3986 unreserved characters are accepted,
// which every Lambda request id (a UUID) satisfies.
bool IsSafeRequestId(std::string_view id) {
  if (id.empty() || id.size() > 256) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_' || c == '~';
    if (!ok) return false;
  }
  return true;
}

int64_t ParseDeadline(std::string_view text) {
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9' || value > (INT64_MAX - 9) / 10) return 0;
    value = value * 10 + (c - '0');
  }
  return value;
}

InvocationResponse CallHandler(const Handler& handler, const InvocationRequest& request) {
  try {
    return handler(request);
  } catch (const std::exception& exception) {
    return InvocationResponse::Failure(exception.what(), "Runtime.UnhandledException");
  } catch (...) {
    return InvocationResponse::Failure("the handler threw a non-standard exception",
                                       "Runtime.UnhandledException");
  }
}

}  // namespace

std::chrono::milliseconds InvocationRequest::GetTimeRemaining() const {
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  return std::chrono::milliseconds(deadline_ms) - now;
}

InvocationResponse InvocationResponse::Success(std::string payload, std::string content_type) {
  InvocationResponse response;
  response.payload_ = std::move(payload);
  response.content_type_ = std::move(content_type);
  return response;
}

InvocationResponse InvocationResponse::Failure(std::string error_message, std::string error_type) {
  InvocationResponse response;
  response.success_ = false;
  response.payload_.reserve(error_message.size() + error_type.size() + 64);
  response.payload_.append("{\"errorMessage\":");
  AppendJsonString(&response.payload_, error_message);
  response.payload_.append(",\"errorType\":");
  AppendJsonString(&response.payload_, error_type);
  response.payload_.append(",\"stackTrace\":[]}");
  response.content_type_ = "application/json";
  response.error_type_ = std::move(error_type);
  return response;
}

int Run(const Handler& handler, const RunOptions& options) {
  std::string endpoint_text = options.runtime_api;
  if (endpoint_text.empty()) {
    const char* from_environment = std::getenv("AWS_LAMBDA_RUNTIME_API");
    if (from_environment == nullptr || *from_environment == '\0') {
      LogError("AWS_LAMBDA_RUNTIME_API is not set: not running inside a Lambda environment");
      return 1;
    }
    endpoint_text = from_environment;
  }
  Endpoint endpoint;
  std::string error;
  if (!ParseEndpoint(endpoint_text, &endpoint, &error)) {
    LogError(error);
    return 1;
  }
  HttpConnection connection(std::move(endpoint));

  std::string target;
  std::string headers;
  for (uint64_t served = 0; options.max_invocations == 0 || served < options.max_invocations;
       ++served) {
    HttpResponse next;
    if (!connection.RoundTrip({"GET", kNextTarget, {}, {}}, &next, &error)) {
      LogError("GET /next failed: " + error);
      return 1;
    }
    if (next.status != 200) {
      // The Runtime API answers /next with an error only when the environment is being torn
      // down or the runtime broke the protocol; either way this process is done.
      LogError("GET /next answered " + std::to_string(next.status) + ": " + next.body);
      return 1;
    }
    InvocationRequest request;
    request.request_id = std::string(next.Header("Lambda-Runtime-Aws-Request-Id"));
    if (!IsSafeRequestId(request.request_id)) {
      LogError("GET /next answered without a usable Lambda-Runtime-Aws-Request-Id");
      return 1;
    }
    request.payload = std::move(next.body);
    request.function_arn = std::string(next.Header("Lambda-Runtime-Invoked-Function-Arn"));
    request.deadline_ms = ParseDeadline(next.Header("Lambda-Runtime-Deadline-Ms"));
    request.trace_id = std::string(next.Header("Lambda-Runtime-Trace-Id"));
    request.client_context = std::string(next.Header("Lambda-Runtime-Client-Context"));
    request.cognito_identity = std::string(next.Header("Lambda-Runtime-Cognito-Identity"));
    if (request.trace_id.empty()) {
      ::unsetenv("_X_AMZN_TRACE_ID");
    } else {
      ::setenv("_X_AMZN_TRACE_ID", request.trace_id.c_str(), 1);
    }

    InvocationResponse result = CallHandler(handler, request);

    target.assign(kInvocationPrefix).append(request.request_id);
    headers.clear();
    if (result.is_success()) {
      target.append("/response");
    } else {
      target.append("/error");
      headers.append("Lambda-Runtime-Function-Error-Type: ")
          .append(SanitizeHeaderValue(result.error_type()))
          .append("\r\n");
    }
    if (!result.content_type().empty()) {
      headers.append("Content-Type: ")
          .append(SanitizeHeaderValue(result.content_type()))
          .append("\r\n");
    }
    HttpResponse posted;
    if (!connection.RoundTrip({"POST", target, headers, result.payload()}, &posted, &error)) {
      LogError("POST " + target + " failed: " + error);
      return 1;
    }
    if (posted.status != 202) {
      // E.g. 413 for a response over 6 MB: the invoker has already failed the invocation, and
      // the environment can serve the next one.
      LogError("POST " + target + " answered " + std::to_string(posted.status) + ": " +
               posted.body);
    }
  }
  return 0;
}

}  // namespace haneul::runtime
