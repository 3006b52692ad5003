// EventBridge event patterns (see event_pattern.h). Parse validates the whole pattern up front so
// that Matches can walk it without checks that could fail on untrusted records.
#include "event_pattern.h"
#include "haneul/common/wildcard.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <string>

namespace haneul::triggers {

namespace {

using Json = nlohmann::json;

constexpr size_t kMaxPatternBytes = 4096;
constexpr int kMaxDepth = 32;

Status Invalid(const std::string& why) {
  return Status::InvalidArgument("Invalid filter pattern definition: " + why);
}

bool IsLiteral(const Json& value) {
  return value.is_string() || value.is_number() || value.is_boolean() || value.is_null();
}

Status ValidateMatcher(const Json& matcher) {
  if (IsLiteral(matcher)) return Status::Ok();
  if (!matcher.is_object() || matcher.size() != 1) {
    return Invalid("a matcher must be a value or an object with one operator");
  }
  const std::string& op = matcher.begin().key();
  const Json& arg = matcher.begin().value();
  if (op == "prefix" || op == "suffix" || op == "equals-ignore-case" || op == "wildcard") {
    if (!arg.is_string()) return Invalid(op + " takes a string");
    return Status::Ok();
  }
  if (op == "exists") {
    if (!arg.is_boolean()) return Invalid("exists takes true or false");
    return Status::Ok();
  }
  if (op == "anything-but") {
    if (IsLiteral(arg)) return Status::Ok();
    if (arg.is_array()) {
      if (arg.empty()) return Invalid("anything-but takes a non-empty list");
      for (const Json& item : arg) {
        if (!item.is_string() && !item.is_number()) return Invalid("anything-but lists values");
      }
      return Status::Ok();
    }
    if (arg.is_object() && arg.size() == 1 &&
        (arg.contains("prefix") || arg.contains("suffix")) && arg.begin()->is_string()) {
      return Status::Ok();
    }
    return Invalid("anything-but takes a value, a list or a prefix/suffix");
  }
  if (op == "numeric") {
    if (!arg.is_array() || arg.empty() || arg.size() % 2 != 0 || arg.size() > 4) {
      return Invalid("numeric takes one or two operator/number pairs");
    }
    for (size_t i = 0; i < arg.size(); i += 2) {
      if (!arg[i].is_string() || !arg[i + 1].is_number()) {
        return Invalid("numeric takes operator/number pairs");
      }
      const std::string& cmp = arg[i].get_ref<const std::string&>();
      if (cmp != "=" && cmp != "<" && cmp != "<=" && cmp != ">" && cmp != ">=") {
        return Invalid("unknown numeric operator " + cmp);
      }
    }
    return Status::Ok();
  }
  return Invalid("unknown operator " + op);
}

Status ValidateObject(const Json& pattern, int depth) {
  if (depth > kMaxDepth) return Invalid("nested too deeply");
  if (!pattern.is_object()) return Invalid("a pattern must be a JSON object");
  for (const auto& [key, value] : pattern.items()) {
    if (key == "$or") {
      if (!value.is_array() || value.size() < 2) return Invalid("$or takes at least two patterns");
      for (const Json& alternative : value) {
        HANEUL_RETURN_IF_ERROR(ValidateObject(alternative, depth + 1));
      }
    } else if (value.is_object()) {
      if (value.empty()) return Invalid("empty object for " + key);
      HANEUL_RETURN_IF_ERROR(ValidateObject(value, depth + 1));
    } else if (value.is_array()) {
      if (value.empty()) return Invalid("empty match list for " + key);
      for (const Json& matcher : value) HANEUL_RETURN_IF_ERROR(ValidateMatcher(matcher));
    } else {
      return Invalid("the value of " + key + " must be an object or an array");
    }
  }
  return Status::Ok();
}

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}


// Numbers, and strings holding numbers (DynamoDB's "N" values are strings on the wire).
bool AsNumber(const Json& value, double* out) {
  if (value.is_number()) {
    *out = value.get<double>();
    return true;
  }
  if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    if (text.empty()) return false;
    char* end = nullptr;
    *out = std::strtod(text.c_str(), &end);
    return end && *end == '\0';
  }
  return false;
}

bool LiteralEquals(const Json& literal, const Json& value) {
  if (literal.is_number() && value.is_number()) {
    return literal.get<double>() == value.get<double>();
  }
  return literal == value;
}

bool MatchValue(const Json& matcher, const Json& value) {
  if (!matcher.is_object()) return LiteralEquals(matcher, value);
  const std::string& op = matcher.begin().key();
  const Json& arg = matcher.begin().value();
  if (op == "prefix") {
    return value.is_string() &&
           value.get_ref<const std::string&>().starts_with(arg.get_ref<const std::string&>());
  }
  if (op == "suffix") {
    return value.is_string() &&
           value.get_ref<const std::string&>().ends_with(arg.get_ref<const std::string&>());
  }
  if (op == "equals-ignore-case") {
    return value.is_string() && Lower(value.get<std::string>()) == Lower(arg.get<std::string>());
  }
  if (op == "wildcard") {
    return value.is_string() &&
           WildcardMatch(value.get_ref<const std::string&>(), arg.get_ref<const std::string&>());
  }
  if (op == "anything-but") {
    if (arg.is_array()) {
      for (const Json& item : arg) {
        if (LiteralEquals(item, value)) return false;
      }
      return true;
    }
    if (arg.is_object()) {
      if (!value.is_string()) return true;
      const std::string& text = value.get_ref<const std::string&>();
      const std::string& affix = arg.begin()->get_ref<const std::string&>();
      return arg.contains("prefix") ? !text.starts_with(affix) : !text.ends_with(affix);
    }
    return !LiteralEquals(arg, value);
  }
  if (op == "numeric") {
    double number = 0;
    if (!AsNumber(value, &number)) return false;
    for (size_t i = 0; i + 1 < arg.size(); i += 2) {
      const std::string& cmp = arg[i].get_ref<const std::string&>();
      double bound = arg[i + 1].get<double>();
      bool ok = cmp == "=" ? number == bound
                : cmp == "<" ? number < bound
                : cmp == "<=" ? number <= bound
                : cmp == ">" ? number > bound
                             : number >= bound;
      if (!ok) return false;
    }
    return true;
  }
  return false;
}

bool MatchOne(const Json& matcher, const Json* field) {
  if (matcher.is_object() && matcher.begin().key() == "exists") {
    bool want = matcher.begin()->get<bool>();
    return (field != nullptr) == want;
  }
  if (field == nullptr) return false;
  if (field->is_array()) {
    for (const Json& element : *field) {
      if (MatchValue(matcher, element)) return true;
    }
    return false;
  }
  return MatchValue(matcher, *field);
}

bool MatchObject(const Json& pattern, const Json* event) {
  static const Json kEmpty = Json::object();
  for (const auto& [key, value] : pattern.items()) {
    if (key == "$or") {
      bool any = false;
      for (const Json& alternative : value) {
        if (MatchObject(alternative, event)) {
          any = true;
          break;
        }
      }
      if (!any) return false;
      continue;
    }
    const Json* field = nullptr;
    if (event && event->is_object()) {
      auto found = event->find(key);
      if (found != event->end()) field = &*found;
    }
    if (value.is_object()) {
      if (field && !field->is_object()) return false;
      if (!MatchObject(value, field ? field : &kEmpty)) return false;
    } else {
      bool any = false;
      for (const Json& matcher : value) {
        if (MatchOne(matcher, field)) {
          any = true;
          break;
        }
      }
      if (!any) return false;
    }
  }
  return true;
}

}  // namespace

Result<EventPattern> EventPattern::Parse(std::string_view text) {
  if (text.size() > kMaxPatternBytes) return Invalid("longer than 4096 bytes");
  // nlohmann's parser recurses; bound nesting before handing it untrusted text.
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > 2 * kMaxDepth) return Invalid("nested too deeply");
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  Json parsed = Json::parse(text.begin(), text.end(), nullptr, false);
  if (parsed.is_discarded()) return Invalid("not JSON");
  HANEUL_RETURN_IF_ERROR(ValidateObject(parsed, 0));
  EventPattern pattern;
  pattern.pattern_ = std::make_shared<const Json>(std::move(parsed));
  return pattern;
}

bool EventPattern::Matches(const nlohmann::json& event) const {
  return pattern_ && MatchObject(*pattern_, &event);
}

}  // namespace haneul::triggers
