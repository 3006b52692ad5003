// JWT verification for JWT authorizers: RS256 signatures checked against a JSON Web Key Set
// (OpenSSL libcrypto), then issuer, audience, expiry and not-before. Pure functions over value
// types; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "haneul/common/status.h"

namespace haneul::gateway {

// Base64url without padding, as JWTs use it; false on invalid input.
bool Base64UrlDecode(std::string_view text, std::string* out);

// The "kid" of a compact JWT's header, or an error when the token is malformed.
Result<std::string> JwtKeyId(std::string_view token);

// Verifies `token` (compact JWS) with the RS256 key of `jwks` that matches its kid, and the
// claims: iss == issuer, aud (or client_id) one of audiences (when audiences is not empty),
// exp > now, nbf <= now. Returns the claims.
Result<nlohmann::json> VerifyJwt(std::string_view token, const nlohmann::json& jwks,
                                 const std::string& issuer,
                                 const std::vector<std::string>& audiences, int64_t now_seconds);

}  // namespace haneul::gateway
