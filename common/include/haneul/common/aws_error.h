// The closed set of errors that reach the wire in AWS's shape, one factory per AWS error name.
// An AwsError is a value; services turn it into their protocol's error body (rest-json for
// Lambda: `x-amzn-ErrorType` header plus {"Type","message"}; json-1.0 for DynamoDB and Logs:
// {"__type","message"}).
#pragma once

#include <string>

namespace haneul {

struct AwsError {
  int http_status = 500;
  std::string type;     // e.g. "ResourceNotFoundException"
  std::string message;  // human text, as AWS words it
  std::string fault = "User";  // "User" or "Service", Lambda's "Type" field

  static AwsError ResourceNotFound(std::string message) {
    return {404, "ResourceNotFoundException", std::move(message)};
  }
  static AwsError ResourceConflict(std::string message) {
    return {409, "ResourceConflictException", std::move(message)};
  }
  static AwsError InvalidParameterValue(std::string message) {
    return {400, "InvalidParameterValueException", std::move(message)};
  }
  static AwsError Validation(std::string message) {
    return {400, "ValidationException", std::move(message)};
  }
  static AwsError InvalidRequestContent(std::string message) {
    return {400, "InvalidRequestContentException", std::move(message)};
  }
  static AwsError RequestTooLarge(std::string message) {
    return {413, "RequestTooLargeException", std::move(message)};
  }
  static AwsError UnsupportedMediaType(std::string message) {
    return {415, "UnsupportedMediaTypeException", std::move(message)};
  }
  static AwsError TooManyRequests(std::string message) {
    return {429, "TooManyRequestsException", std::move(message)};
  }
  static AwsError UnknownOperation(std::string message) {
    return {400, "UnknownOperationException", std::move(message)};
  }
  static AwsError Service(std::string message) {
    return {500, "ServiceException", std::move(message), "Service"};
  }
};

}  // namespace haneul
