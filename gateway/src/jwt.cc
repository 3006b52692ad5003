// RS256 JWT verification (see jwt.h).
#include "jwt.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <memory>

#include "haneul/common/ids.h"

namespace haneul::gateway {

namespace {

using nlohmann::json;

struct Parts {
  std::string header_b64, payload_b64, signature_b64;
};

Result<Parts> Split(std::string_view token) {
  size_t first = token.find('.');
  if (first == std::string_view::npos) return Status::InvalidArgument("malformed JWT");
  size_t second = token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return Status::InvalidArgument("malformed JWT");
  }
  return Parts{std::string(token.substr(0, first)),
               std::string(token.substr(first + 1, second - first - 1)),
               std::string(token.substr(second + 1))};
}

Result<json> DecodeJson(const std::string& part) {
  std::string text;
  if (!Base64UrlDecode(part, &text)) return Status::InvalidArgument("malformed JWT part");
  json value = json::parse(text, nullptr, false);
  if (value.is_discarded() || !value.is_object()) return Status::InvalidArgument("malformed JWT part");
  return value;
}

// An RSA public key from the JWK's base64url modulus and exponent.
std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> RsaKey(const std::string& n, const std::string& e) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> none(nullptr, EVP_PKEY_free);
  std::string modulus, exponent;
  if (!Base64UrlDecode(n, &modulus) || !Base64UrlDecode(e, &exponent)) return none;
  BIGNUM* bn_n = BN_bin2bn(reinterpret_cast<const unsigned char*>(modulus.data()),
                           static_cast<int>(modulus.size()), nullptr);
  BIGNUM* bn_e = BN_bin2bn(reinterpret_cast<const unsigned char*>(exponent.data()),
                           static_cast<int>(exponent.size()), nullptr);
  OSSL_PARAM_BLD* builder = OSSL_PARAM_BLD_new();
  OSSL_PARAM* params = nullptr;
  EVP_PKEY* key = nullptr;
  EVP_PKEY_CTX* context = EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr);
  if (bn_n && bn_e && builder && context &&
      OSSL_PARAM_BLD_push_BN(builder, OSSL_PKEY_PARAM_RSA_N, bn_n) &&
      OSSL_PARAM_BLD_push_BN(builder, OSSL_PKEY_PARAM_RSA_E, bn_e) &&
      (params = OSSL_PARAM_BLD_to_param(builder)) != nullptr &&
      EVP_PKEY_fromdata_init(context) > 0) {
    if (EVP_PKEY_fromdata(context, &key, EVP_PKEY_PUBLIC_KEY, params) <= 0) key = nullptr;
  }
  EVP_PKEY_CTX_free(context);
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(builder);
  BN_free(bn_n);
  BN_free(bn_e);
  return {key, EVP_PKEY_free};
}

bool VerifyRs256(EVP_PKEY* key, std::string_view signed_part, const std::string& signature) {
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  bool ok = context && EVP_DigestVerifyInit(context, nullptr, EVP_sha256(), nullptr, key) > 0 &&
            EVP_DigestVerify(context, reinterpret_cast<const unsigned char*>(signature.data()),
                             signature.size(),
                             reinterpret_cast<const unsigned char*>(signed_part.data()),
                             signed_part.size()) == 1;
  EVP_MD_CTX_free(context);
  return ok;
}

}  // namespace

bool Base64UrlDecode(std::string_view text, std::string* out) {
  std::string standard(text);
  for (char& c : standard) {
    if (c == '-') c = '+';
    else if (c == '_') c = '/';
    else if (c == '+' || c == '/') return false;
  }
  while (standard.size() % 4 != 0) standard.push_back('=');
  return Base64Decode(standard, out);
}

Result<std::string> JwtKeyId(std::string_view token) {
  auto parts = Split(token);
  if (!parts.ok()) return parts.status();
  auto header = DecodeJson(parts->header_b64);
  if (!header.ok()) return header.status();
  return header->value("kid", "");
}

Result<json> VerifyJwt(std::string_view token, const json& jwks, const std::string& issuer,
                       const std::vector<std::string>& audiences, int64_t now_seconds) {
  auto parts = Split(token);
  if (!parts.ok()) return parts.status();
  auto header = DecodeJson(parts->header_b64);
  if (!header.ok()) return header.status();
  if (header->value("alg", "") != "RS256") return Status::InvalidArgument("unsupported JWT alg");
  auto claims = DecodeJson(parts->payload_b64);
  if (!claims.ok()) return claims.status();
  std::string signature;
  if (!Base64UrlDecode(parts->signature_b64, &signature)) {
    return Status::InvalidArgument("malformed JWT signature");
  }
  std::string kid = header->value("kid", "");
  bool verified = false;
  if (jwks.is_object() && jwks.contains("keys") && jwks["keys"].is_array()) {
    for (const auto& jwk : jwks["keys"]) {
      if (!jwk.is_object() || jwk.value("kty", "") != "RSA") continue;
      if (!kid.empty() && jwk.value("kid", "") != kid) continue;
      auto key = RsaKey(jwk.value("n", ""), jwk.value("e", ""));
      if (!key) continue;
      std::string_view signed_part =
          token.substr(0, parts->header_b64.size() + 1 + parts->payload_b64.size());
      if (VerifyRs256(key.get(), signed_part, signature)) {
        verified = true;
        break;
      }
    }
  }
  if (!verified) return Status::InvalidArgument("JWT signature does not verify");
  if (claims->value("iss", "") != issuer) return Status::InvalidArgument("JWT issuer mismatch");
  if (!audiences.empty()) {
    bool match = false;
    const json& aud = claims->contains("aud") ? (*claims)["aud"] : (*claims)["client_id"];
    for (const auto& want : audiences) {
      if (aud.is_string() && aud.get<std::string>() == want) match = true;
      if (aud.is_array()) {
        for (const auto& item : aud) match = match || (item.is_string() && item.get<std::string>() == want);
      }
    }
    if (!match) return Status::InvalidArgument("JWT audience mismatch");
  }
  if (!claims->contains("exp") || !(*claims)["exp"].is_number() ||
      (*claims)["exp"].get<double>() <= static_cast<double>(now_seconds)) {
    return Status::InvalidArgument("JWT expired");
  }
  if (claims->contains("nbf") && (*claims)["nbf"].is_number() &&
      (*claims)["nbf"].get<double>() > static_cast<double>(now_seconds)) {
    return Status::InvalidArgument("JWT not yet valid");
  }
  return *claims;
}

}  // namespace haneul::gateway
