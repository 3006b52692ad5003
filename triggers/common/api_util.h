// Wire helpers shared by the trigger APIs: Lambda's rest-json errors (x-amzn-ErrorType header
// plus {"Type","message"}) and the JSON 1.1 errors of the events API ({"__type","message"}).
// Stateless; thread-safe.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "haneul/common/aws_error.h"
#include "haneul/common/http.h"
#include "haneul/common/ids.h"

namespace haneul::triggers {

inline HttpResponse RestJsonError(const AwsError& error) {
  HttpResponse response = HttpResponse::Json(
      error.http_status,
      nlohmann::json{{"Type", error.fault}, {"message", error.message}}.dump());
  response.headers.Set("x-amzn-RequestId", NewUuid());
  response.headers.Set("x-amzn-ErrorType", error.type);
  return response;
}

inline HttpResponse RestJson(int status, const nlohmann::json& body) {
  HttpResponse response = HttpResponse::Json(status, body.dump());
  response.headers.Set("x-amzn-RequestId", NewUuid());
  return response;
}

inline HttpResponse Json11Error(int status, const std::string& type, const std::string& message) {
  HttpResponse response = HttpResponse::Json(
      status, nlohmann::json{{"__type", type}, {"message", message}}.dump());
  response.headers.Set("Content-Type", "application/x-amz-json-1.1");
  response.headers.Set("x-amzn-RequestId", NewUuid());
  return response;
}

inline HttpResponse Json11(const nlohmann::json& body) {
  HttpResponse response = HttpResponse::Json(200, body.dump());
  response.headers.Set("Content-Type", "application/x-amz-json-1.1");
  response.headers.Set("x-amzn-RequestId", NewUuid());
  return response;
}

}  // namespace haneul::triggers
