// Attribute value rules; see value.h.
#include "value.h"

#include <algorithm>
#include <set>

#include "haneul/common/ids.h"
#include "number.h"

namespace haneul::table {

namespace {

constexpr int kMaxDepth = 32;

const char* SetEmptyMessage(const std::string& type) {
  if (type == "SS")
    return "One or more parameter values were invalid: An string set  may not be empty";
  if (type == "NS")
    return "One or more parameter values were invalid: An number set  may not be empty";
  return "One or more parameter values were invalid: Binary sets should not be empty";
}

std::string CollectionText(const json& list) {
  std::string out = "[";
  bool first = true;
  for (const auto& e : list) {
    if (!first) out += ", ";
    first = false;
    out += e.is_string() ? e.get<std::string>() : e.dump();
  }
  return out + "]";
}

}  // namespace

const std::string& TypeOf(const json& value) {
  static const std::string kNone;
  if (!value.is_object() || value.size() != 1) return kNone;
  return value.begin().key();
}

MaybeError ValidateValue(json& value, int depth) {
  if (depth > kMaxDepth) {
    return ApiError::Validation("Nesting Levels have exceeded supported limits");
  }
  if (!value.is_object()) {
    return ApiError::Serialization("Unexpected value type in payload");
  }
  if (value.empty()) {
    return ApiError::Validation(
        "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes");
  }
  if (value.size() > 1) {
    return ApiError::Validation(
        "Supplied AttributeValue has more than one datatypes set, must contain exactly one of "
        "the supported datatypes");
  }
  const std::string type = value.begin().key();
  json& inner = value.begin().value();
  if (type == "S") {
    if (!inner.is_string()) return ApiError::Serialization("Unexpected value type in payload");
  } else if (type == "N") {
    if (!inner.is_string()) return ApiError::Serialization("Unexpected value type in payload");
    Decimal d;
    if (auto error = ParseDecimal(inner.get_ref<const std::string&>(), &d)) {
      return ApiError::Validation(*error);
    }
    inner = FormatDecimal(d);
  } else if (type == "B") {
    std::string bytes;
    if (!inner.is_string() || !Base64Decode(inner.get_ref<const std::string&>(), &bytes)) {
      return ApiError::Serialization("Base64 encoded length is expected a multiple of 4 bytes");
    }
  } else if (type == "BOOL") {
    if (!inner.is_boolean()) return ApiError::Serialization("Unexpected value type in payload");
  } else if (type == "NULL") {
    if (!inner.is_boolean()) return ApiError::Serialization("Unexpected value type in payload");
    if (!inner.get<bool>()) {
      return ApiError::Validation(
          "One or more parameter values were invalid: Null attribute value types must have the "
          "value of true");
    }
  } else if (type == "L") {
    if (!inner.is_array()) return ApiError::Serialization("Unexpected value type in payload");
    for (auto& element : inner) TABLE_TRY(ValidateValue(element, depth + 1));
  } else if (type == "M") {
    if (!inner.is_object()) return ApiError::Serialization("Unexpected value type in payload");
    for (auto& [name, element] : inner.items()) TABLE_TRY(ValidateValue(element, depth + 1));
  } else if (type == "SS" || type == "NS" || type == "BS") {
    if (!inner.is_array()) return ApiError::Serialization("Unexpected value type in payload");
    if (inner.empty()) return ApiError::Validation(SetEmptyMessage(type));
    std::set<std::string> seen;
    for (auto& element : inner) {
      if (!element.is_string()) return ApiError::Serialization("Unexpected value type in payload");
      std::string key = element.get<std::string>();
      if (type == "NS") {
        Decimal d;
        if (auto error = ParseDecimal(key, &d)) return ApiError::Validation(*error);
        key = FormatDecimal(d);
        element = key;
      } else if (type == "BS") {
        std::string bytes;
        if (!Base64Decode(key, &bytes)) {
          return ApiError::Serialization("Base64 encoded length is expected a multiple of 4 bytes");
        }
        key = bytes;
      }
      if (!seen.insert(key).second) {
        return ApiError::Validation("One or more parameter values were invalid: Input collection " +
                                    CollectionText(inner) + " contains duplicates.");
      }
    }
  } else {
    return ApiError::Validation("Supplied AttributeValue has an unsupported datatype: " + type);
  }
  return std::nullopt;
}

MaybeError ValidateItem(json& item) {
  if (!item.is_object()) return ApiError::Serialization("Unexpected value type in payload");
  for (auto& [name, value] : item.items()) {
    if (name.empty()) {
      return ApiError::Validation(
          "One or more parameter values were invalid: An AttributeValue may not contain an empty "
          "attribute name");
    }
    TABLE_TRY(ValidateValue(value));
  }
  return std::nullopt;
}

std::string BinaryBytes(const json& value) {
  std::string bytes;
  if (value.is_string()) Base64Decode(value.get_ref<const std::string&>(), &bytes);
  return bytes;
}

size_t ValueSize(const json& value) {
  const std::string& type = TypeOf(value);
  if (type.empty()) return 0;
  const json& inner = value.begin().value();
  if (type == "S") return inner.get_ref<const std::string&>().size();
  if (type == "N") {
    Decimal d;
    ParseDecimal(inner.get_ref<const std::string&>(), &d);
    return DecimalSize(d);
  }
  if (type == "B") return BinaryBytes(inner).size();
  if (type == "BOOL" || type == "NULL") return 1;
  size_t total = 0;
  if (type == "L") {
    total = 3;
    for (const auto& element : inner) total += ValueSize(element) + 1;
  } else if (type == "M") {
    total = 3;
    for (const auto& [name, element] : inner.items()) total += name.size() + ValueSize(element) + 1;
  } else if (type == "SS") {
    for (const auto& element : inner) total += element.get_ref<const std::string&>().size();
  } else if (type == "NS") {
    for (const auto& element : inner) {
      Decimal d;
      ParseDecimal(element.get_ref<const std::string&>(), &d);
      total += DecimalSize(d);
    }
  } else if (type == "BS") {
    for (const auto& element : inner) total += BinaryBytes(element).size();
  }
  return total;
}

size_t ItemSize(const json& item) {
  size_t total = 0;
  for (const auto& [name, value] : item.items()) total += name.size() + ValueSize(value);
  return total;
}

namespace {

bool NumbersEqual(const json& a, const json& b) {
  Decimal x, y;
  if (ParseDecimal(a.get_ref<const std::string&>(), &x) ||
      ParseDecimal(b.get_ref<const std::string&>(), &y)) {
    return a == b;
  }
  return CompareDecimal(x, y) == 0;
}

std::set<std::string> SetKeys(const std::string& type, const json& list) {
  std::set<std::string> keys;
  for (const auto& element : list) {
    if (!element.is_string()) continue;
    if (type == "NS") {
      Decimal d;
      if (!ParseDecimal(element.get_ref<const std::string&>(), &d)) {
        keys.insert(FormatDecimal(d));
        continue;
      }
    } else if (type == "BS") {
      keys.insert(BinaryBytes(element));
      continue;
    }
    keys.insert(element.get<std::string>());
  }
  return keys;
}

}  // namespace

bool ValuesEqual(const json& a, const json& b) {
  const std::string& type = TypeOf(a);
  if (type.empty() || type != TypeOf(b)) return false;
  const json& x = a.begin().value();
  const json& y = b.begin().value();
  if (type == "N") return NumbersEqual(x, y);
  if (type == "B") return BinaryBytes(x) == BinaryBytes(y);
  if (type == "SS" || type == "NS" || type == "BS") return SetKeys(type, x) == SetKeys(type, y);
  if (type == "L") {
    if (x.size() != y.size()) return false;
    for (size_t i = 0; i < x.size(); ++i) {
      if (!ValuesEqual(x[i], y[i])) return false;
    }
    return true;
  }
  if (type == "M") {
    if (x.size() != y.size()) return false;
    for (const auto& [name, element] : x.items()) {
      auto it = y.find(name);
      if (it == y.end() || !ValuesEqual(element, *it)) return false;
    }
    return true;
  }
  return x == y;
}

std::optional<int> CompareValues(const json& a, const json& b) {
  const std::string& type = TypeOf(a);
  if (type != TypeOf(b)) return std::nullopt;
  const json& x = a.begin().value();
  const json& y = b.begin().value();
  if (type == "S") {
    int c = x.get_ref<const std::string&>().compare(y.get_ref<const std::string&>());
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (type == "N") {
    Decimal p, q;
    if (ParseDecimal(x.get_ref<const std::string&>(), &p) ||
        ParseDecimal(y.get_ref<const std::string&>(), &q)) {
      return std::nullopt;
    }
    return CompareDecimal(p, q);
  }
  if (type == "B") {
    int c = BinaryBytes(x).compare(BinaryBytes(y));
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  return std::nullopt;
}

namespace {

std::string EscapeBytes(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() + 2);
  for (char c : bytes) {
    out.push_back(c);
    if (c == '\0') out.push_back('\xff');
  }
  return out;
}

}  // namespace

std::string EncodeKeyPrefix(const json& value) {
  const std::string& type = TypeOf(value);
  if (type == "S") return EscapeBytes(value.begin().value().get_ref<const std::string&>());
  if (type == "B") return EscapeBytes(BinaryBytes(value.begin().value()));
  return EncodeKeyValue(value);
}

std::string EncodeKeyValue(const json& value) {
  const std::string& type = TypeOf(value);
  if (type == "N") {
    Decimal d;
    ParseDecimal(value.begin().value().get_ref<const std::string&>(), &d);
    return EncodeDecimalKey(d);
  }
  std::string out = EncodeKeyPrefix(value);
  out.push_back('\0');
  out.push_back('\x01');
  return out;
}

std::string PrefixSuccessor(std::string prefix) {
  while (!prefix.empty()) {
    unsigned char last = static_cast<unsigned char>(prefix.back());
    if (last != 0xff) {
      prefix.back() = static_cast<char>(last + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return prefix;
}

const json* Field(const json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

MaybeError StringField(const json& body, const char* name, std::string* out) {
  const json* value = Field(body, name);
  if (value == nullptr) return std::nullopt;
  if (!value->is_string()) {
    return ApiError::Serialization(std::string("Unexpected value type for ") + name);
  }
  *out = value->get<std::string>();
  return std::nullopt;
}

}  // namespace haneul::table
