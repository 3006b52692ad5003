// YAML <-> JSON conversion (see yaml_json.h).
#include "yaml_json.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <exception>

namespace haneul::gateway {

namespace {

using nlohmann::json;

constexpr int kMaxDepth = 128;
constexpr size_t kMaxNodes = 1'000'000;

bool IsDecimalInteger(std::string_view text) {
  size_t i = (!text.empty() && (text[0] == '-' || text[0] == '+')) ? 1 : 0;
  if (i == text.size()) return false;
  for (; i < text.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return false;
  }
  return true;
}

// YAML 1.2 core schema floats: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool IsFloat(std::string_view text) {
  size_t i = (!text.empty() && (text[0] == '-' || text[0] == '+')) ? 1 : 0;
  size_t digits = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i, ++digits;
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) ++i;
    size_t exponent = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i, ++exponent;
    if (exponent == 0) return false;
  }
  return i == text.size();
}

// The JSON value of a plain (unquoted, untagged) scalar under the core schema.
json ResolvePlain(const std::string& text) {
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") {
    return nullptr;
  }
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  if (IsDecimalInteger(text)) {
    int64_t value = 0;
    std::string_view digits =
        text[0] == '+' ? std::string_view(text).substr(1) : std::string_view(text);
    auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (error == std::errc() && end == digits.data() + digits.size()) return value;
  }
  if (IsFloat(text)) {
    char* end = nullptr;
    double value = std::strtod(text.c_str(), &end);
    if (end == text.c_str() + text.size() && std::isfinite(value)) return value;
  }
  return text;
}

struct Converter {
  size_t nodes = 0;

  Result<json> Convert(const YAML::Node& node, int depth) {
    if (++nodes > kMaxNodes) {
      return Status::InvalidArgument(
          "Invalid YAML document: too many nodes (aliases expand too far)");
    }
    if (depth > kMaxDepth)
      return Status::InvalidArgument("Invalid YAML document: nested too deeply");
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        return json(nullptr);
      case YAML::NodeType::Scalar: {
        const std::string& tag = node.Tag();
        if (tag == "!" || tag == "tag:yaml.org,2002:str" || tag == "!!str")
          return json(node.Scalar());
        return ResolvePlain(node.Scalar());
      }
      case YAML::NodeType::Sequence: {
        json out = json::array();
        for (const auto& item : node) {
          auto value = Convert(item, depth + 1);
          if (!value.ok()) return value.status();
          out.push_back(std::move(*value));
        }
        return out;
      }
      case YAML::NodeType::Map: {
        json out = json::object();
        for (const auto& pair : node) {
          if (!pair.first.IsScalar()) {
            return Status::InvalidArgument(
                "Invalid YAML document: a mapping key is not a scalar (line " +
                std::to_string(pair.first.Mark().line + 1) + ")");
          }
          auto value = Convert(pair.second, depth + 1);
          if (!value.ok()) return value.status();
          out[pair.first.Scalar()] = std::move(*value);
        }
        return out;
      }
    }
    return json(nullptr);
  }
};

// A string that a YAML reader would not read back as the same string when written plain.
bool NeedsQuotes(const std::string& text) {
  if (text.empty()) return true;
  if (!ResolvePlain(text).is_string()) return true;
  // Other spellings YAML 1.1 readers type (yes/no/on/off, octal, hex, .inf): quote them too so
  // that every reader agrees.
  static const char* kAmbiguous[] = {"yes", "no", "on", "off", "y", "n", ".inf", "-.inf", ".nan"};
  std::string lower;
  for (char c : text) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char* word : kAmbiguous) {
    if (lower == word) return true;
  }
  if (lower.starts_with("0x") || lower.starts_with("0o")) return true;
  return false;
}

void Emit(YAML::Emitter& out, const json& value) {
  switch (value.type()) {
    case json::value_t::object:
      out << YAML::BeginMap;
      for (auto it = value.begin(); it != value.end(); ++it) {
        out << YAML::Key;
        if (NeedsQuotes(it.key())) out << YAML::DoubleQuoted;
        out << it.key() << YAML::Value;
        Emit(out, it.value());
      }
      out << YAML::EndMap;
      break;
    case json::value_t::array:
      out << YAML::BeginSeq;
      for (const auto& item : value) Emit(out, item);
      out << YAML::EndSeq;
      break;
    case json::value_t::string: {
      const std::string& text = value.get_ref<const std::string&>();
      if (NeedsQuotes(text)) out << YAML::DoubleQuoted;
      out << text;
      break;
    }
    case json::value_t::boolean:
      out << (value.get<bool>() ? "true" : "false");
      break;
    case json::value_t::number_integer:
      out << value.get<int64_t>();
      break;
    case json::value_t::number_unsigned:
      out << value.get<uint64_t>();
      break;
    case json::value_t::number_float:
      out << value.dump();  // nlohmann's shortest round-trip form
      break;
    default:
      out << YAML::Null;
      break;
  }
}

}  // namespace

Result<json> YamlToJson(std::string_view text) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& error) {
    return Status::InvalidArgument("Invalid OpenAPI document: YAML error at line " +
                                   std::to_string(error.mark.line + 1) + ", column " +
                                   std::to_string(error.mark.column + 1) + ": " + error.msg);
  } catch (const std::exception& error) {
    return Status::InvalidArgument(std::string("Invalid OpenAPI document: ") + error.what());
  }
  try {
    Converter converter;
    return converter.Convert(root, 0);
  } catch (const std::exception& error) {
    return Status::InvalidArgument(std::string("Invalid YAML document: ") + error.what());
  }
}

Result<json> ParseJsonOrYaml(std::string_view text) {
  size_t start = text.find_first_not_of(" \t\r\n");
  if (start != std::string_view::npos && (text[start] == '{' || text[start] == '[')) {
    json doc = json::parse(text, nullptr, false);
    if (!doc.is_discarded()) return doc;
  }
  return YamlToJson(text);
}

std::string JsonToYaml(const json& value, const std::vector<std::string>& leading_keys) {
  YAML::Emitter out;
  out.SetIndent(2);
  if (value.is_object() && !leading_keys.empty()) {
    out << YAML::BeginMap;
    auto emit_pair = [&out](const std::string& key, const json& item) {
      out << YAML::Key;
      if (NeedsQuotes(key)) out << YAML::DoubleQuoted;
      out << key << YAML::Value;
      Emit(out, item);
    };
    for (const auto& key : leading_keys) {
      if (value.contains(key)) emit_pair(key, value[key]);
    }
    for (auto it = value.begin(); it != value.end(); ++it) {
      if (std::find(leading_keys.begin(), leading_keys.end(), it.key()) == leading_keys.end()) {
        emit_pair(it.key(), it.value());
      }
    }
    out << YAML::EndMap;
  } else {
    Emit(out, value);
  }
  std::string text = out.c_str();
  if (!text.empty() && text.back() != '\n') text += '\n';
  return text;
}

}  // namespace haneul::gateway
