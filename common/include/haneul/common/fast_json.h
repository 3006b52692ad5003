// JSON parsed with simdjson, then built as nlohmann::json (the value model of the table, the
// gateway and the invoker). nlohmann's own parser reads a string one character at a time; a PutItem's 1 KB
// attribute cost it ~100 instructions a byte, more than the rest of the request together.
// The result is exactly what nlohmann::json::parse gives for the same text (non-negative integers
// as unsigned, the last of duplicate keys); text simdjson refuses (malformed, or integers beyond
// 64 bits) is handed to nlohmann's parser, so errors and big numbers behave as before.
// DumpJson is the other direction: byte for byte nlohmann's dump() (compact, keys in map order,
// control characters escaped, UTF-8 kept), with strings copied in runs instead of escaped one
// character at a time (a stored 1 KB item cost nlohmann 40k instructions).
// Thread-safety: each thread uses its own simdjson parser.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

namespace haneul {

// As nlohmann::json::parse(text, nullptr, false): a discarded value when the text is not JSON.
nlohmann::json ParseJson(std::string_view text);

// As nlohmann::json::accept(text), without building anything.
bool ValidJson(std::string_view text);

// As value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).
std::string DumpJson(const nlohmann::json& value);
void AppendJson(std::string& out, const nlohmann::json& value);

}  // namespace haneul
