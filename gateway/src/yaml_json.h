// YAML <-> JSON for OpenAPI documents: import-api and reimport-api accept either, export-api
// answers either (OutputType JSON | YAML). YAML is read with yaml-cpp and resolved with the YAML
// 1.2 core schema (plain `true`, `12`, `1.5`, `null` are typed; quoted scalars stay strings), so
// that a YAML document and its JSON twin give the same nlohmann::json. yaml-cpp's exceptions
// stay inside these functions. Pure functions; thread-compatible.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "haneul/common/status.h"

namespace haneul::gateway {

// Parses a YAML (or JSON, which is YAML's flow style) document. InvalidArgument with the line
// and column for a syntax error; aliases are expanded up to a node budget (a "billion laughs"
// document is refused) and nesting is bounded.
Result<nlohmann::json> YamlToJson(std::string_view text);

// Parses `text` as JSON when it is JSON, else as YAML.
Result<nlohmann::json> ParseJsonOrYaml(std::string_view text);

// Block-style YAML of a JSON value; strings that would read back as another type are quoted.
// Top-level keys named in `leading_keys` come first, in that order (an OpenAPI document reads
// best as openapi, info, paths, ...); the rest follow sorted.
std::string JsonToYaml(const nlohmann::json& value,
                       const std::vector<std::string>& leading_keys = {});

}  // namespace haneul::gateway
