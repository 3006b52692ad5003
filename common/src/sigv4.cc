// SigV4 verification: rebuilds the canonical request from what arrived, derives the signing key
// from the configured secret and compares signatures in constant time. The canonicalisation
// follows AWS's documentation and botocore (auth.py), the signer every test client here uses.
#include "haneul/common/sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <string_view>
#include <utility>
#include <vector>

#include "haneul/common/ids.h"

namespace haneul {

namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr int64_t kMaxSkewSeconds = 15 * 60;

std::string ToLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// AWS's URI encoding is PercentEncode's (everything but A-Z a-z 0-9 - _ . ~); a path keeps '/'.
std::string UriEncode(std::string_view text, bool keep_slash) {
  if (!keep_slash) return PercentEncode(text);
  std::string out;
  size_t start = 0;
  while (true) {
    size_t slash = text.find('/', start);
    out += PercentEncode(text.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) break;
    out.push_back('/');
    start = slash + 1;
  }
  return out;
}

// RFC 3986 dot-segment removal, also collapsing repeated slashes (botocore's normalize_url_path).
std::string NormalizePath(std::string_view path) {
  if (path.empty()) return "/";
  std::vector<std::string_view> output;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    std::string_view part =
        path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (!part.empty() && part != ".") {
      if (part == "..") {
        if (!output.empty()) output.pop_back();
      } else {
        output.push_back(part);
      }
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  std::string out = path.front() == '/' ? "/" : "";
  for (size_t i = 0; i < output.size(); ++i) {
    if (i > 0) out.push_back('/');
    out.append(output[i]);
  }
  if (path.back() == '/' && !output.empty()) out.push_back('/');
  return out;
}

std::vector<std::pair<std::string, std::string>> QueryPairs(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> pairs;
  size_t start = 0;
  while (start < query.size()) {
    size_t amp = query.find('&', start);
    std::string_view pair =
        query.substr(start, amp == std::string_view::npos ? std::string_view::npos : amp - start);
    if (!pair.empty()) {
      size_t equals = pair.find('=');
      std::string key = PercentDecode(pair.substr(0, equals));
      std::string value =
          equals == std::string_view::npos ? "" : PercentDecode(pair.substr(equals + 1));
      pairs.emplace_back(std::move(key), std::move(value));
    }
    if (amp == std::string_view::npos) break;
    start = amp + 1;
  }
  return pairs;
}

std::string CanonicalQuery(std::string_view query, bool drop_signature) {
  std::vector<std::pair<std::string, std::string>> encoded;
  for (auto& [key, value] : QueryPairs(query)) {
    if (drop_signature && key == "X-Amz-Signature") continue;
    encoded.emplace_back(UriEncode(key, false), UriEncode(value, false));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [key, value] : encoded) {
    if (!out.empty()) out.push_back('&');
    out += key + "=" + value;
  }
  return out;
}

// "a  b " -> "a b": trimmed, inner runs of spaces collapsed.
std::string TrimAll(std::string_view value) {
  std::string out;
  bool space = false;
  for (char c : Trim(value)) {
    if (c == ' ' || c == '\t') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

// "20261124T213000Z" -> seconds since the epoch; -1 when malformed.
int64_t ParseAmzDate(std::string_view text) {
  if (text.size() != 16 || text[8] != 'T' || text[15] != 'Z') return -1;
  std::tm tm{};
  auto number = [&](size_t at, size_t length) {
    int value = 0;
    for (size_t i = at; i < at + length; ++i) {
      if (text[i] < '0' || text[i] > '9') return -1;
      value = value * 10 + (text[i] - '0');
    }
    return value;
  };
  int parts[] = {number(0, 4), number(4, 2), number(6, 2), number(9, 2), number(11, 2),
                 number(13, 2)};
  for (int part : parts) {
    if (part < 0) return -1;
  }
  tm.tm_year = parts[0] - 1900;
  tm.tm_mon = parts[1] - 1;
  tm.tm_mday = parts[2];
  tm.tm_hour = parts[3];
  tm.tm_min = parts[4];
  tm.tm_sec = parts[5];
  return static_cast<int64_t>(timegm(&tm));
}

std::string FormatAmzDate(int64_t seconds) {
  std::time_t time = static_cast<std::time_t>(seconds);
  std::tm tm{};
  gmtime_r(&time, &tm);
  char buffer[20];
  std::strftime(buffer, sizeof(buffer), "%Y%m%dT%H%M%SZ", &tm);
  return buffer;
}

struct Parsed {
  std::string access_key, date, region, service;  // from the credential scope
  std::string amz_date;
  std::vector<std::string> signed_headers;
  std::string signature;
  bool presigned = false;
  int64_t expires = 0;
};

SigV4Result Fail(SigV4Failure failure, std::string message) {
  SigV4Result result;
  result.failure = failure;
  result.message = std::move(message);
  return result;
}

bool ParseCredential(std::string_view credential, Parsed* parsed) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t slash = credential.find('/', start);
    parts.emplace_back(credential.substr(start, slash == std::string_view::npos ? slash
                                                                                 : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (parts.size() != 5 || parts[4] != "aws4_request" || parts[0].empty()) return false;
  parsed->access_key = parts[0];
  parsed->date = parts[1];
  parsed->region = parts[2];
  parsed->service = parts[3];
  return true;
}

std::vector<std::string> SplitSemicolons(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t semicolon = text.find(';', start);
    std::string_view item = Trim(text.substr(
        start, semicolon == std::string_view::npos ? std::string_view::npos : semicolon - start));
    if (!item.empty()) out.push_back(ToLower(item));
    if (semicolon == std::string_view::npos) break;
    start = semicolon + 1;
  }
  return out;
}

// Parses the Authorization header or the presigned query. False: nothing SigV4 in the request.
// *error set: something SigV4 that is malformed.
bool Parse(const HttpRequest& request, Parsed* parsed, std::string* error) {
  std::string_view authorization = request.headers.Get("Authorization");
  if (!authorization.empty()) {
    if (!authorization.starts_with(kAlgorithm)) {
      *error = "Authorization header requires AWS4-HMAC-SHA256 (SigV4) signing";
      return true;
    }
    std::string_view rest = authorization.substr(kAlgorithm.size());
    size_t start = 0;
    while (start < rest.size()) {
      size_t comma = rest.find(',', start);
      std::string_view item = Trim(rest.substr(
          start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
      size_t equals = item.find('=');
      if (equals != std::string_view::npos) {
        std::string_view key = item.substr(0, equals);
        std::string_view value = item.substr(equals + 1);
        if (key == "Credential") {
          if (!ParseCredential(value, parsed)) *error = "Invalid Credential in Authorization";
        } else if (key == "SignedHeaders") {
          parsed->signed_headers = SplitSemicolons(value);
        } else if (key == "Signature") {
          parsed->signature = std::string(value);
        }
      }
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    parsed->amz_date = std::string(request.headers.Get("X-Amz-Date"));
    if (error->empty() && (parsed->access_key.empty() || parsed->signed_headers.empty() ||
                           parsed->signature.empty())) {
      *error = "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' "
               "parameters";
    }
    if (error->empty() && parsed->amz_date.empty()) {
      *error = "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
               "header.";
    }
    return true;
  }
  auto algorithm = request.QueryParam("X-Amz-Algorithm");
  if (!algorithm) return false;
  parsed->presigned = true;
  auto credential = request.QueryParam("X-Amz-Credential");
  auto date = request.QueryParam("X-Amz-Date");
  auto signed_headers = request.QueryParam("X-Amz-SignedHeaders");
  auto signature = request.QueryParam("X-Amz-Signature");
  auto expires = request.QueryParam("X-Amz-Expires");
  if (*algorithm != kAlgorithm || !credential || !date || !signed_headers || !signature ||
      !ParseCredential(*credential, parsed)) {
    *error = "Query-string authentication requires the X-Amz-Algorithm, X-Amz-Credential, "
             "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.";
    return true;
  }
  parsed->amz_date = *date;
  parsed->signed_headers = SplitSemicolons(*signed_headers);
  parsed->signature = *signature;
  parsed->expires = expires ? std::strtoll(expires->c_str(), nullptr, 10) : 0;
  return true;
}

// The hex signature of a request, as its signer computed it from what it signed.
std::string Signature(const std::string& method, const std::string& path, const std::string& query,
                      const Headers& headers, const std::vector<std::string>& signed_headers,
                      const std::string& payload_hash, const Parsed& parsed,
                      const std::string& secret) {
  bool s3 = parsed.service == "s3";
  std::string canonical_uri =
      s3 ? (path.empty() ? "/" : path) : UriEncode(NormalizePath(path), true);
  std::string canonical_headers;
  std::string signed_list;
  for (const std::string& name : signed_headers) {
    std::string value;
    bool first = true;
    for (const auto& [header, header_value] : headers.all()) {
      if (ToLower(header) != name) continue;
      if (!first) value.push_back(',');
      value += TrimAll(header_value);
      first = false;
    }
    canonical_headers += name + ":" + value + "\n";
    signed_list += (signed_list.empty() ? "" : ";") + name;
  }
  std::string canonical_request = method + "\n" + canonical_uri + "\n" +
                                  CanonicalQuery(query, parsed.presigned) + "\n" +
                                  canonical_headers + "\n" + signed_list + "\n" + payload_hash;
  std::string scope = parsed.date + "/" + parsed.region + "/" + parsed.service + "/aws4_request";
  std::string string_to_sign = std::string(kAlgorithm) + "\n" + parsed.amz_date + "\n" + scope +
                               "\n" + Sha256Hex(canonical_request);
  std::string key = HmacSha256("AWS4" + secret, parsed.date);
  key = HmacSha256(key, parsed.region);
  key = HmacSha256(key, parsed.service);
  key = HmacSha256(key, "aws4_request");
  return HexEncode(HmacSha256(key, string_to_sign));
}

}  // namespace

void SignSigV4(const std::string& method, const std::string& path, const std::string& query,
               const std::string& body, const std::string& service, const std::string& region,
               const std::string& access_key, const std::string& secret_key,
               int64_t now_unix_seconds, Headers* headers) {
  Parsed parsed;
  parsed.access_key = access_key;
  parsed.amz_date = FormatAmzDate(now_unix_seconds);
  parsed.date = parsed.amz_date.substr(0, 8);
  parsed.region = region;
  parsed.service = service;
  headers->Set("X-Amz-Date", parsed.amz_date);
  std::string payload_hash = Sha256Hex(body);
  if (service == "s3") headers->Set("X-Amz-Content-SHA256", payload_hash);
  std::vector<std::string> names;
  for (const auto& [name, value] : headers->all()) {
    std::string lower = ToLower(name);
    if (std::find(names.begin(), names.end(), lower) == names.end()) names.push_back(lower);
  }
  std::sort(names.begin(), names.end());
  std::string signature =
      Signature(method, path, query, *headers, names, payload_hash, parsed, secret_key);
  std::string signed_list;
  for (const std::string& name : names) signed_list += (signed_list.empty() ? "" : ";") + name;
  headers->Set("Authorization", std::string(kAlgorithm) + " Credential=" + access_key + "/" +
                                    parsed.date + "/" + region + "/" + service +
                                    "/aws4_request, SignedHeaders=" + signed_list +
                                    ", Signature=" + signature);
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &length);
  return std::string(reinterpret_cast<char*>(digest), length);
}


std::string SigV4Service(const HttpRequest& request) {
  // Only the scope's fourth part (KEY/DATE/REGION/SERVICE/aws4_request) is read, so that a
  // request with an otherwise malformed signature still goes to its service for the refusal.
  std::string query_credential;
  std::string_view credential;
  std::string_view authorization = request.headers.Get("Authorization");
  if (authorization.starts_with(kAlgorithm)) {
    size_t at = authorization.find("Credential=");
    if (at == std::string_view::npos) return "";
    credential = authorization.substr(at + 11);
    credential = credential.substr(0, credential.find(','));
  } else if (auto query = request.QueryParam("X-Amz-Credential")) {
    query_credential = std::move(*query);
    credential = query_credential;
  } else {
    return "";
  }
  size_t start = 0;
  for (int part = 0; part < 3; ++part) {
    size_t slash = credential.find('/', start);
    if (slash == std::string_view::npos) return "";
    start = slash + 1;
  }
  size_t end = credential.find('/', start);
  if (end == std::string_view::npos) return "";
  return std::string(credential.substr(start, end - start));
}

SigV4Result VerifySigV4(const HttpRequest& request,
                        const std::map<std::string, std::string>& secrets,
                        int64_t now_unix_seconds) {
  Parsed parsed;
  std::string error;
  if (!Parse(request, &parsed, &error)) {
    return Fail(SigV4Failure::kMissing, "Missing Authentication Token");
  }
  if (!error.empty()) return Fail(SigV4Failure::kMalformed, error);
  auto secret = secrets.find(parsed.access_key);
  if (secret == secrets.end()) {
    SigV4Result result = Fail(SigV4Failure::kUnknownAccessKey,
                              "The security token included in the request is invalid.");
    result.access_key = parsed.access_key;
    result.service = parsed.service;
    return result;
  }
  int64_t signed_at = ParseAmzDate(parsed.amz_date);
  if (signed_at < 0 || parsed.amz_date.substr(0, 8) != parsed.date) {
    return Fail(SigV4Failure::kMalformed, "Date in Credential scope does not match YYYYMMDD from "
                                          "ISO-8601 version of date from HTTP: '" +
                                              parsed.date + "' != '" +
                                              parsed.amz_date.substr(0, 8) + "', from '" +
                                              parsed.amz_date + "'.");
  }
  if (parsed.presigned) {
    if (parsed.expires <= 0 || parsed.expires > 604800) {
      return Fail(SigV4Failure::kMalformed,
                  "X-Amz-Expires must be less than a week (in seconds) that is 604800");
    }
    if (now_unix_seconds > signed_at + parsed.expires) {
      return Fail(SigV4Failure::kExpired, "Request has expired");
    }
  } else if (std::llabs(now_unix_seconds - signed_at) > kMaxSkewSeconds) {
    return Fail(SigV4Failure::kExpired,
                "Signature expired: " + parsed.amz_date + " is now earlier than " +
                    FormatAmzDate(now_unix_seconds - kMaxSkewSeconds) + " (" +
                    FormatAmzDate(now_unix_seconds) + " - 15 min.)");
  }

  std::string payload_hash(request.headers.Get("X-Amz-Content-SHA256"));
  if (payload_hash.empty()) {
    payload_hash = parsed.presigned && parsed.service == "s3" ? "UNSIGNED-PAYLOAD"
                                                              : Sha256Hex(request.body);
  } else if (payload_hash.size() == 64 && payload_hash != Sha256Hex(request.body)) {
    // A signed hash binds the body only if the body is checked against it: otherwise a captured
    // request could be replayed with another body (AWS: XAmzContentSHA256Mismatch).
    SigV4Result result = Fail(SigV4Failure::kMismatch,
                              "The provided 'x-amz-content-sha256' header does not match what "
                              "was computed.");
    result.access_key = parsed.access_key;
    result.service = parsed.service;
    return result;
  }
  std::string expected = Signature(request.method, request.path, request.query, request.headers,
                                   parsed.signed_headers, payload_hash, parsed, secret->second);
  SigV4Result result;
  result.access_key = parsed.access_key;
  result.service = parsed.service;
  if (expected.size() != parsed.signature.size() ||
      CRYPTO_memcmp(expected.data(), parsed.signature.data(), expected.size()) != 0) {
    result.failure = SigV4Failure::kMismatch;
    result.message =
        "The request signature we calculated does not match the signature you provided. Check "
        "your AWS Secret Access Key and signing method. Consult the service documentation for "
        "details.";
  }
  return result;
}

}  // namespace haneul
