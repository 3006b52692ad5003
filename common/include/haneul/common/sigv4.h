// SigV4: checks AWS Signature Version 4 on incoming requests, the way every AWS service does,
// so that a server configured with credentials accepts what awscli, boto3 and the SDKs sign with
// them and refuses everything else.
//
// Both forms: the `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
// Signature=...` header, and presigned URLs (`X-Amz-Algorithm`, `X-Amz-Credential`,
// `X-Amz-Date`, `X-Amz-Expires`, `X-Amz-SignedHeaders`, `X-Amz-Signature` query parameters).
// The payload hash is `x-amz-content-sha256` when the request carries it (S3 always does; it
// may say UNSIGNED-PAYLOAD or STREAMING-*, whose seed signature is checked, not each chunk's),
// else the SHA-256 of the body. Canonical URIs are encoded twice except for S3, as AWS does.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "haneul/common/http.h"

namespace haneul {

enum class SigV4Failure {
  kNone,
  kMissing,           // no signature at all
  kMalformed,         // an Authorization header or query that cannot be parsed
  kUnknownAccessKey,  // the access key is not configured
  kExpired,           // the date is more than 15 minutes away (or a presigned URL expired)
  kMismatch,          // the signature does not match
};

struct SigV4Result {
  SigV4Failure failure = SigV4Failure::kNone;
  std::string message;       // AWS's wording for the failure
  std::string access_key;    // the key it was signed with (when parsed)
  std::string service;       // the credential scope's service ("lambda", "s3", ...)
  bool ok() const { return failure == SigV4Failure::kNone; }
};

// Verifies `request` against `secrets` (access key id -> secret key) at `now_unix_seconds`.
SigV4Result VerifySigV4(const HttpRequest& request,
                        const std::map<std::string, std::string>& secrets,
                        int64_t now_unix_seconds);

// Signs a request as the SDKs do (every header already set is signed; Host must be among them):
// sets X-Amz-Date, Authorization, and for S3 X-Amz-Content-SHA256. `path` is percent-encoded as
// sent, `query` raw.
void SignSigV4(const std::string& method, const std::string& path, const std::string& query,
               const std::string& body, const std::string& service, const std::string& region,
               const std::string& access_key, const std::string& secret_key,
               int64_t now_unix_seconds, Headers* headers);

// The credential scope's service of a signed request, without verifying ("" when unsigned).
std::string SigV4Service(const HttpRequest& request);

// The raw HMAC-SHA256 digest, for the signing-key chain (exposed for tests).
std::string HmacSha256(std::string_view key, std::string_view data);

}  // namespace haneul
