// DynamoDB attribute values in their wire form (nlohmann::json objects such as {"S":"x"} or
// {"M":{...}}): validation with DynamoDB's messages, canonical numbers, size accounting as
// DynamoDB counts item size, comparison, and the order-preserving key encoding.
// Also ApiError, the closed set of errors this service puts on the wire.
// Pure functions; thread-compatible.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace haneul::table {

using nlohmann::json;

// An error in DynamoDB's json-1.0 shape: {"__type":"com.amazonaws.dynamodb.v20120810#<type>",
// "message":...} plus extra fields (Item, CancellationReasons).
struct ApiError {
  std::string type;
  std::string message;
  int http_status = 400;
  json extra = json::object();

  static ApiError Validation(std::string message) {
    return {"ValidationException", std::move(message)};
  }
  static ApiError NotFound(std::string message) {
    return {"ResourceNotFoundException", std::move(message)};
  }
  static ApiError InUse(std::string message) {
    return {"ResourceInUseException", std::move(message)};
  }
  static ApiError ConditionFailed() {
    return {"ConditionalCheckFailedException", "The conditional request failed"};
  }
  static ApiError Serialization(std::string message) {
    return {"SerializationException", std::move(message)};
  }
  static ApiError Internal(std::string message) {
    return {"InternalServerError", std::move(message), 500};
  }
};
using MaybeError = std::optional<ApiError>;

// A request field, or nullptr when absent or null.
const json* Field(const json& body, const char* name);
// A string field into *out (left as it is when absent); a SerializationException otherwise.
MaybeError StringField(const json& body, const char* name, std::string* out);

#define TABLE_TRY(expr)                                \
  do {                                                 \
    ::haneul::table::MaybeError _table_error = (expr); \
    if (_table_error) return _table_error;             \
  } while (0)

// The type tag of a valid value ("S", "N", ...).
const std::string& TypeOf(const json& value);

// Checks one value (recursively) and rewrites numbers to canonical form in place.
// depth is the nesting level of the value (1 for a top-level attribute).
MaybeError ValidateValue(json& value, int depth = 1);
// Checks every attribute of an item.
MaybeError ValidateItem(json& item);

// Size as DynamoDB counts it (names included for map members and top-level attributes).
size_t ValueSize(const json& value);
size_t ItemSize(const json& item);

// Deep equality with DynamoDB semantics (numbers numerically, sets unordered).
bool ValuesEqual(const json& a, const json& b);
// Ordering of two scalar values of the same type S, N or B; nullopt when not comparable.
std::optional<int> CompareValues(const json& a, const json& b);

// Raw bytes of a B value (base64-decoded); empty on invalid base64.
std::string BinaryBytes(const json& value);

// Order-preserving, self-delimiting encoding of a key value (S, N or B).
std::string EncodeKeyValue(const json& value);
// Escaped bytes of a string/binary without terminator (for begins_with ranges).
std::string EncodeKeyPrefix(const json& value);
// Smallest string greater than every string that starts with prefix ("" when none is).
std::string PrefixSuccessor(std::string prefix);

}  // namespace haneul::table
