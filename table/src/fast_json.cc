// See fast_json.h.
#include "fast_json.h"

#include <simdjson.h>

#include <string>

namespace haneul::table {

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

}  // namespace

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

}  // namespace haneul::table
