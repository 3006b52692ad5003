// See fast_json.h.
#include "haneul/common/fast_json.h"

#include <simdjson.h>

#include <cstdint>
#include <cstring>
#include <string>

namespace haneul {

namespace {

using json = nlohmann::json;

json Build(simdjson::dom::element element) {
  switch (element.type()) {
    case simdjson::dom::element_type::OBJECT: {
      json object = json::object();
      for (auto field : simdjson::dom::object(element)) {
        // operator[] keeps the last of duplicate keys, as nlohmann's parser does.
        object[std::string(field.key)] = Build(field.value);
      }
      return object;
    }
    case simdjson::dom::element_type::ARRAY: {
      json array = json::array();
      for (auto value : simdjson::dom::array(element)) array.push_back(Build(value));
      return array;
    }
    case simdjson::dom::element_type::STRING:
      return json(std::string(std::string_view(element)));
    case simdjson::dom::element_type::INT64: {
      int64_t value = int64_t(element);
      // nlohmann stores non-negative integers as unsigned.
      if (value >= 0) return json(static_cast<uint64_t>(value));
      return json(value);
    }
    case simdjson::dom::element_type::UINT64:
      return json(uint64_t(element));
    case simdjson::dom::element_type::DOUBLE:
      return json(double(element));
    case simdjson::dom::element_type::BOOL:
      return json(bool(element));
    case simdjson::dom::element_type::NULL_VALUE:
      return json(nullptr);
  }
  return json(nullptr);
}

// Whether any of the 8 bytes in v is below 0x20, a '"' or a '\\' (the bytes JSON escapes): the
// classic has-zero-byte test, exact as an any-test.
inline bool NeedsEscape8(uint64_t v) {
  constexpr uint64_t kOnes = 0x0101010101010101ull, kHigh = 0x8080808080808080ull;
  uint64_t below = (v - kOnes * 0x20) & ~v & kHigh;
  uint64_t quote = v ^ (kOnes * '"');
  uint64_t backslash = v ^ (kOnes * '\\');
  quote = (quote - kOnes) & ~quote & kHigh;
  backslash = (backslash - kOnes) & ~backslash & kHigh;
  return (below | quote | backslash) != 0;
}

void AppendString(std::string& out, std::string_view text) {
  static const char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t run = 0;  // start of the characters not yet copied
  for (size_t i = 0; i < text.size(); ++i) {
    // Eight plain bytes at a time (a stored item is mostly long strings).
    while (i + 8 <= text.size()) {
      uint64_t word;
      std::memcpy(&word, text.data() + i, 8);
      if (NeedsEscape8(word)) break;
      i += 8;
    }
    if (i >= text.size()) break;
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(text.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
    }
  }
  out.append(text.data() + run, text.size() - run);
  out.push_back('"');
}

void Append(std::string& out, const json& value) {
  switch (value.type()) {
    case json::value_t::null:
      out += "null";
      return;
    case json::value_t::boolean:
      out += value.get<bool>() ? "true" : "false";
      return;
    case json::value_t::string:
      AppendString(out, value.get_ref<const std::string&>());
      return;
    case json::value_t::number_integer:
      out += std::to_string(value.get<int64_t>());
      return;
    case json::value_t::number_unsigned:
      out += std::to_string(value.get<uint64_t>());
      return;
    case json::value_t::object: {
      out.push_back('{');
      bool first = true;
      for (const auto& [key, item] : value.items()) {
        if (!first) out.push_back(',');
        first = false;
        AppendString(out, key);
        out.push_back(':');
        Append(out, item);
      }
      out.push_back('}');
      return;
    }
    case json::value_t::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& item : value) {
        if (!first) out.push_back(',');
        first = false;
        Append(out, item);
      }
      out.push_back(']');
      return;
    }
    default:  // floats (nlohmann's shortest round-trip form), binary, discarded
      out += value.dump(-1, ' ', false, json::error_handler_t::replace);
  }
}

}  // namespace

void AppendJson(std::string& out, const json& value) {
  // Escapes are ASCII, so the text is valid UTF-8 exactly when every string is: one check of the
  // result instead of one per string. Where it is not, nlohmann's replacement rules apply.
  size_t start = out.size();
  Append(out, value);
  if (!simdjson::validate_utf8(out.data() + start, out.size() - start)) {
    out.resize(start);
    out += value.dump(-1, ' ', false, json::error_handler_t::replace);
  }
}

std::string DumpJson(const json& value) {
  std::string out;
  AppendJson(out, value);
  return out;
}

bool ValidJson(std::string_view text) {
  thread_local simdjson::dom::parser parser;
  simdjson::padded_string padded(text);
  simdjson::dom::element root;
  // What simdjson refuses (besides malformed text: integers beyond 64 bits, nesting over its
  // depth limit) nlohmann may still take.
  return parser.parse(padded).get(root) == simdjson::SUCCESS || json::accept(text);
}

json ParseJson(std::string_view text) {
  thread_local simdjson::dom::parser parser;
  // simdjson reads up to SIMDJSON_PADDING bytes past the end: give it a padded copy.
  simdjson::padded_string padded(text);
  simdjson::dom::element root;
  if (parser.parse(padded).get(root) != simdjson::SUCCESS) {
    return json::parse(text, nullptr, false);
  }
  return Build(root);
}

}  // namespace haneul
