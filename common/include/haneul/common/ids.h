// Identifiers and encodings: request ids, trace ids, base64, sha256, clocks.
// Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace haneul {

std::string NewUuid();        // random v4 UUID, lower case
std::string RandomHex(size_t chars);
std::string NewTraceId();     // X-Ray style "Root=1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx;..."
std::string Base64Encode(std::string_view data);
// Strict RFC 4648 decoding (padding optional); false on any invalid character.
bool Base64Decode(std::string_view text, std::string* out);
std::string Sha256Base64(std::string_view data);
std::string Sha256Hex(std::string_view data);
// Lower-case hex of raw bytes.
std::string HexEncode(std::string_view bytes);

int64_t NowUnixMillis();
// "2024-01-02T03:04:05.678+0000" as Lambda's LastModified.
std::string LambdaTimestamp(int64_t unix_millis);
// "2024-01-02T03:04:05.678Z"
std::string IsoTimestamp(int64_t unix_millis);

}  // namespace haneul
