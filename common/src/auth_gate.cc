// AuthGate: which service a refused request was for, and that service's error for each failure.
#include "haneul/common/auth_gate.h"

#include <nlohmann/json.hpp>

#include "haneul/common/ids.h"
#include "haneul/common/sigv4.h"

namespace haneul {

namespace {

enum class Shape { kRestJson, kJson10, kJson11, kXml };

// The service by its signature's scope, else by how the request looks (an unsigned request has
// no scope).
Shape ShapeOf(const HttpRequest& request, const std::string& service) {
  std::string_view target = request.headers.Get("X-Amz-Target");
  if (service == "dynamodb" || target.starts_with("DynamoDB_")) return Shape::kJson10;
  if (service == "logs" || target.starts_with("Logs_")) return Shape::kJson11;
  if (service == "lambda" || request.path.starts_with("/2015-03-31/") ||
      request.path.starts_with("/2017-") || request.path.starts_with("/2019-") ||
      request.path.starts_with("/2021-")) {
    return Shape::kRestJson;
  }
  if (service == "s3" || service.empty()) return Shape::kXml;
  return Shape::kRestJson;
}

std::string XmlEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

}  // namespace

Status AuthGate::AddCredentials(const std::string& pair) {
  auto colon = pair.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == pair.size()) {
    return Status::InvalidArgument("credentials must be ACCESS_KEY:SECRET_KEY");
  }
  std::string key = pair.substr(0, colon);
  std::string secret = pair.substr(colon + 1);
  if (secrets_.empty()) first_ = {key, secret};
  secrets_[key] = secret;
  return Status::Ok();
}

std::optional<std::pair<std::string, std::string>> AuthGate::first() const {
  if (secrets_.empty()) return std::nullopt;
  return first_;
}

std::optional<HttpResponse> AuthGate::Check(const HttpRequest& request,
                                            int64_t now_unix_seconds) const {
  if (secrets_.empty()) return std::nullopt;
  SigV4Result result = VerifySigV4(request, secrets_, now_unix_seconds);
  if (result.ok()) return std::nullopt;
  Shape shape = ShapeOf(request, result.service);
  std::string json_name;  // Lambda, DynamoDB and Logs name these failures alike
  std::string s3_code;
  std::string message = result.message;
  switch (result.failure) {
    case SigV4Failure::kMissing:
      json_name = "MissingAuthenticationTokenException";
      s3_code = "AccessDenied";
      if (shape == Shape::kJson10) message = "Request is missing Authentication Token";
      if (shape == Shape::kXml) message = "Access Denied";
      break;
    case SigV4Failure::kMalformed:
      json_name = "IncompleteSignatureException";
      s3_code = request.headers.Has("Authorization") ? "AuthorizationHeaderMalformed"
                                                     : "AuthorizationQueryParametersError";
      break;
    case SigV4Failure::kUnknownAccessKey:
      json_name = "UnrecognizedClientException";
      s3_code = "InvalidAccessKeyId";
      if (shape == Shape::kXml) {
        message = "The AWS Access Key Id you provided does not exist in our records.";
      }
      break;
    case SigV4Failure::kExpired:
      json_name = "InvalidSignatureException";
      s3_code = message == "Request has expired" ? "AccessDenied" : "RequestTimeTooSkewed";
      if (s3_code == "RequestTimeTooSkewed" && shape == Shape::kXml) {
        message = "The difference between the request time and the current time is too large.";
      }
      break;
    case SigV4Failure::kMismatch:
      json_name = "InvalidSignatureException";
      s3_code = "SignatureDoesNotMatch";
      break;
    case SigV4Failure::kNone:
      return std::nullopt;
  }
  HttpResponse response;
  std::string request_id = NewUuid();
  switch (shape) {
    case Shape::kRestJson:
      response = HttpResponse::Json(403, nlohmann::json{{"message", message}}.dump());
      response.headers.Set("x-amzn-ErrorType", json_name);
      response.headers.Set("x-amzn-RequestId", request_id);
      break;
    case Shape::kJson10:
    case Shape::kJson11: {
      bool dynamodb = shape == Shape::kJson10;
      response.status = 400;
      response.headers.Set("Content-Type",
                           dynamodb ? "application/x-amz-json-1.0" : "application/x-amz-json-1.1");
      response.headers.Set("x-amzn-RequestId", request_id);
      std::string type = dynamodb ? "com.amazon.coral.service#" + json_name : json_name;
      response.body = nlohmann::json{{"__type", type}, {"message", message}}.dump();
      break;
    }
    case Shape::kXml:
      response.status = s3_code == "AuthorizationHeaderMalformed" ||
                                s3_code == "AuthorizationQueryParametersError"
                            ? 400
                            : 403;
      response.headers.Set("Content-Type", "application/xml");
      response.headers.Set("x-amz-request-id", request_id);
      response.body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" + s3_code +
                      "</Code><Message>" + XmlEscape(message) + "</Message><RequestId>" +
                      request_id + "</RequestId></Error>";
      break;
  }
  return response;
}

}  // namespace haneul
