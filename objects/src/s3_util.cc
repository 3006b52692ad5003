// Pure helpers of the object store (see s3_util.h). Stateless; thread-safe.
#include "s3_util.h"

#include <openssl/evp.h>
#include <time.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <pugixml.hpp>

#include "haneul/common/ids.h"

namespace haneul::objects {

// ---------------------------------------------------------------------------------------------
// Errors.

S3Error S3Error::NoSuchBucket(const std::string& bucket) {
  return {404, "NoSuchBucket", "The specified bucket does not exist", {{"BucketName", bucket}}};
}
S3Error S3Error::NoSuchKey(const std::string& key) {
  return {404, "NoSuchKey", "The specified key does not exist.", {{"Key", key}}};
}
S3Error S3Error::NoSuchUpload(const std::string& upload_id) {
  return {404,
          "NoSuchUpload",
          "The specified upload does not exist. The upload ID may be invalid, or the upload may "
          "have been aborted or completed.",
          {{"UploadId", upload_id}}};
}
S3Error S3Error::InvalidBucketName(const std::string& bucket) {
  return {400, "InvalidBucketName", "The specified bucket is not valid.", {{"BucketName", bucket}}};
}
S3Error S3Error::MalformedXml() {
  return {400,
          "MalformedXML",
          "The XML you provided was not well-formed or did not validate against our published "
          "schema",
          {}};
}
S3Error S3Error::InvalidArgument(const std::string& message, const std::string& name,
                                 const std::string& value) {
  S3Error error{400, "InvalidArgument", message, {}};
  if (!name.empty()) {
    error.extra.emplace_back("ArgumentName", name);
    error.extra.emplace_back("ArgumentValue", value);
  }
  return error;
}
S3Error S3Error::InvalidRequest(const std::string& message) {
  return {400, "InvalidRequest", message, {}};
}
S3Error S3Error::NotImplemented(const std::string& message) {
  return {501, "NotImplemented", message, {}};
}
S3Error S3Error::Internal(const std::string& detail) {
  (void)detail;  // logged by the caller; never shown to clients
  return {500, "InternalError", "We encountered an internal error. Please try again.", {}};
}

// ---------------------------------------------------------------------------------------------
// Names.

bool ValidBucketName(std::string_view name) {
  if (name.size() < 3 || name.size() > 63) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) return false;
  }
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(name.front()) || !alnum(name.back())) return false;
  if (name.find("..") != std::string_view::npos) return false;
  if (name.find(".-") != std::string_view::npos || name.find("-.") != std::string_view::npos) {
    return false;
  }
  if (name.starts_with("xn--") || name.starts_with("sthree-") || name.starts_with("amzn-s3-demo-"))
    return false;
  if (name.ends_with("-s3alias") || name.ends_with("--ol-s3") || name.ends_with(".mrap") ||
      name.ends_with("--x-s3")) {
    return false;
  }
  // Not formatted as an IPv4 address (four dot-separated groups of digits).
  int groups = 1;
  bool all_digits = true;
  for (char c : name) {
    if (c == '.') {
      ++groups;
    } else if (c < '0' || c > '9') {
      all_digits = false;
    }
  }
  if (all_digits && groups == 4) return false;
  return true;
}

bool ValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    size_t extra;
    uint32_t code;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1;
      code = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      code = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      code = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= text.size()) return false;
    for (size_t k = 1; k <= extra; ++k) {
      auto d = static_cast<unsigned char>(text[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      code = (code << 6) | (d & 0x3F);
    }
    if ((extra == 1 && code < 0x80) || (extra == 2 && code < 0x800) ||
        (extra == 3 && (code < 0x10000 || code > 0x10FFFF)) || (code >= 0xD800 && code <= 0xDFFF)) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

bool ValidKeyLength(std::string_view key) { return !key.empty() && key.size() <= 1024; }

// ---------------------------------------------------------------------------------------------
// Text and time.

std::string XmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      case '\r':
        out += "&#13;";
        break;
      case '\n':
        out += "&#10;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string HttpDate(int64_t unix_millis) {
  time_t seconds = static_cast<time_t>(unix_millis / 1000);
  struct tm tm {};
  gmtime_r(&seconds, &tm);
  char buffer[64];
  strftime(buffer, sizeof(buffer), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buffer;
}

std::optional<int64_t> ParseHttpDate(std::string_view text) {
  std::string value(text);
  static const char* kFormats[] = {"%a, %d %b %Y %H:%M:%S", "%A, %d-%b-%y %H:%M:%S",
                                   "%a %b %d %H:%M:%S %Y", "%Y-%m-%dT%H:%M:%S"};
  for (const char* format : kFormats) {
    struct tm tm {};
    const char* end = strptime(value.c_str(), format, &tm);
    if (end != nullptr) return static_cast<int64_t>(timegm(&tm)) * 1000;
  }
  return std::nullopt;
}

std::string S3Timestamp(int64_t unix_millis) { return IsoTimestamp(unix_millis); }

namespace {

std::string Md5Raw(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, EVP_md5(), nullptr);
  return std::string(reinterpret_cast<char*>(digest), length);
}

std::string Hex(std::string_view raw) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char c : raw) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

bool Unreserved(unsigned char c) {
  return std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

}  // namespace

std::string Md5Hex(std::string_view data) { return Hex(Md5Raw(data)); }
std::string Md5Base64(std::string_view data) { return Base64Encode(Md5Raw(data)); }

std::string MultipartEtag(const std::vector<std::string>& part_md5_hex) {
  std::string concatenated;
  for (const auto& hex : part_md5_hex) {
    for (size_t i = 0; i + 1 < hex.size(); i += 2) {
      concatenated += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    }
  }
  return Md5Hex(concatenated) + "-" + std::to_string(part_md5_hex.size());
}

namespace {

// Reflected table-driven CRC (CRC-32C and CRC-64/NVME share the shape).
template <typename T>
T ReflectedCrc(std::string_view data, T polynomial) {
  static_assert(sizeof(T) == 4 || sizeof(T) == 8);
  T table[256];
  for (unsigned i = 0; i < 256; ++i) {
    T crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = (crc & 1) ? (crc >> 1) ^ polynomial : crc >> 1;
    table[i] = crc;
  }
  T crc = ~T{0};
  for (unsigned char c : data) crc = table[(crc ^ c) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

template <typename T>
std::string BigEndian(T value) {
  std::string out(sizeof(T), '\0');
  for (size_t i = 0; i < sizeof(T); ++i) {
    out[sizeof(T) - 1 - i] = static_cast<char>(value & 0xFF);
    value >>= 8;
  }
  return out;
}

std::string Digest(const EVP_MD* md, std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(data.data(), data.size(), digest, &length, md, nullptr);
  return std::string(reinterpret_cast<char*>(digest), length);
}

}  // namespace

std::optional<std::string> ComputeChecksum(std::string_view name, std::string_view data) {
  if (name == "crc32") {
    uLong crc = crc32(0L, Z_NULL, 0);
    // zlib takes uInt lengths: feed large bodies in pieces.
    for (size_t at = 0; at < data.size(); at += 1u << 30) {
      auto piece = data.substr(at, 1u << 30);
      crc =
          crc32(crc, reinterpret_cast<const Bytef*>(piece.data()), static_cast<uInt>(piece.size()));
    }
    return Base64Encode(BigEndian(static_cast<uint32_t>(crc)));
  }
  if (name == "crc32c") return Base64Encode(BigEndian(ReflectedCrc<uint32_t>(data, 0x82F63B78u)));
  if (name == "crc64nvme") {
    return Base64Encode(BigEndian(ReflectedCrc<uint64_t>(data, 0x9A6C9329AC4BC9B5ull)));
  }
  if (name == "sha1") return Base64Encode(Digest(EVP_sha1(), data));
  if (name == "sha256") return Base64Encode(Digest(EVP_sha256(), data));
  return std::nullopt;
}

std::string UrlEncodeKey(std::string_view key) {
  std::string out;
  char buffer[4];
  for (unsigned char c : key) {
    if (Unreserved(c) || c == '/') {
      out += static_cast<char>(c);
    } else {
      std::snprintf(buffer, sizeof(buffer), "%%%02X", c);
      out += buffer;
    }
  }
  return out;
}

std::string FormEncode(std::string_view text) {
  std::string out;
  char buffer[4];
  for (unsigned char c : text) {
    if (Unreserved(c) || c == '*' || c == '/') {
      out += static_cast<char>(c);
    } else if (c == ' ') {
      out += '+';
    } else {
      std::snprintf(buffer, sizeof(buffer), "%%%02X", c);
      out += buffer;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// aws-chunked.

bool DecodeAwsChunked(std::string_view body, std::string* out,
                      std::map<std::string, std::string>* trailers, std::string* error) {
  out->clear();
  size_t pos = 0;
  while (true) {
    size_t eol = body.find("\r\n", pos);
    if (eol == std::string_view::npos) {
      *error = "chunk header without CRLF";
      return false;
    }
    std::string_view header = body.substr(pos, eol - pos);
    std::string_view size_text = header.substr(0, header.find(';'));
    while (!size_text.empty() && size_text.back() == ' ') size_text.remove_suffix(1);
    if (size_text.empty() || size_text.size() > 15) {
      *error = "bad chunk size";
      return false;
    }
    uint64_t size = 0;
    for (char c : size_text) {
      int digit;
      if (c >= '0' && c <= '9')
        digit = c - '0';
      else if (c >= 'a' && c <= 'f')
        digit = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        digit = c - 'A' + 10;
      else {
        *error = "bad chunk size";
        return false;
      }
      size = size * 16 + static_cast<uint64_t>(digit);
    }
    pos = eol + 2;
    if (size == 0) break;
    if (size > body.size() - pos || body.size() - pos - size < 2 ||
        body.substr(pos + size, 2) != "\r\n") {
      *error = "chunk data shorter than its size or not followed by CRLF";
      return false;
    }
    out->append(body.data() + pos, size);
    pos += size + 2;
  }
  // Trailers: "name:value\r\n" lines up to an empty line (or the end of the body).
  while (pos < body.size()) {
    size_t eol = body.find("\r\n", pos);
    std::string_view line =
        body.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    pos = eol == std::string_view::npos ? body.size() : eol + 2;
    if (line.empty()) break;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      *error = "bad trailer line";
      return false;
    }
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\r')) value.remove_suffix(1);
    if (trailers != nullptr) (*trailers)[name] = std::string(value);
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// XML requests.

namespace {

// Element name without a namespace prefix.
std::string_view LocalName(const pugi::xml_node& node) {
  std::string_view name = node.name();
  size_t colon = name.find(':');
  return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

pugi::xml_node Child(const pugi::xml_node& node, std::string_view name) {
  for (auto child : node.children()) {
    if (child.type() == pugi::node_element && LocalName(child) == name) return child;
  }
  return {};
}

std::string Text(const pugi::xml_node& node) { return node.child_value(); }

bool Load(pugi::xml_document* doc, std::string_view xml) {
  // parse_default does not expand DTD entities beyond the predefined five: no entity attacks.
  auto result = doc->load_buffer(xml.data(), xml.size(), pugi::parse_default, pugi::encoding_utf8);
  return static_cast<bool>(result) && doc->document_element();
}

std::string Trim(std::string text) {
  size_t b = text.find_first_not_of(" \t\r\n");
  size_t e = text.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string() : text.substr(b, e - b + 1);
}

}  // namespace

bool ParseDeleteRequest(std::string_view xml, DeleteRequest* out, S3Error* error) {
  *out = {};
  pugi::xml_document doc;
  if (!Load(&doc, xml) || LocalName(doc.document_element()) != "Delete") {
    *error = S3Error::MalformedXml();
    return false;
  }
  for (auto child : doc.document_element().children()) {
    if (child.type() != pugi::node_element) continue;
    if (LocalName(child) == "Quiet") {
      out->quiet = Trim(Text(child)) == "true";
    } else if (LocalName(child) == "Object") {
      auto key = Child(child, "Key");
      if (!key) {
        *error = S3Error::MalformedXml();
        return false;
      }
      out->keys.push_back(Text(key));
    }
  }
  if (out->keys.empty() || out->keys.size() > 1000) {
    *error = S3Error::MalformedXml();
    return false;
  }
  return true;
}

bool ParseCompleteMultipart(std::string_view xml, std::vector<CompletedPart>* out, S3Error* error) {
  out->clear();
  pugi::xml_document doc;
  if (!Load(&doc, xml) || LocalName(doc.document_element()) != "CompleteMultipartUpload") {
    *error = S3Error::MalformedXml();
    return false;
  }
  for (auto child : doc.document_element().children()) {
    if (child.type() != pugi::node_element || LocalName(child) != "Part") continue;
    auto number = Child(child, "PartNumber");
    auto etag = Child(child, "ETag");
    std::string number_text = Trim(Text(number));
    if (!number || !etag || number_text.empty() || number_text.size() > 6 ||
        number_text.find_first_not_of("0123456789") != std::string::npos) {
      *error = S3Error::MalformedXml();
      return false;
    }
    CompletedPart part;
    part.part_number = std::stoi(number_text);
    part.etag = Trim(Text(etag));
    if (part.etag.size() >= 2 && part.etag.front() == '"' && part.etag.back() == '"') {
      part.etag = part.etag.substr(1, part.etag.size() - 2);
    }
    out->push_back(std::move(part));
  }
  if (out->empty()) {
    *error = S3Error::MalformedXml();
    return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Notifications.

bool SupportedEvent(std::string_view event) {
  static const char* kEvents[] = {"s3:ReducedRedundancyLostObject",
                                  "s3:ObjectCreated:*",
                                  "s3:ObjectCreated:Put",
                                  "s3:ObjectCreated:Post",
                                  "s3:ObjectCreated:Copy",
                                  "s3:ObjectCreated:CompleteMultipartUpload",
                                  "s3:ObjectRemoved:*",
                                  "s3:ObjectRemoved:Delete",
                                  "s3:ObjectRemoved:DeleteMarkerCreated",
                                  "s3:ObjectRestore:*",
                                  "s3:ObjectRestore:Post",
                                  "s3:ObjectRestore:Completed",
                                  "s3:ObjectRestore:Delete",
                                  "s3:Replication:*",
                                  "s3:Replication:OperationFailedReplication",
                                  "s3:Replication:OperationNotTracked",
                                  "s3:Replication:OperationMissedThreshold",
                                  "s3:Replication:OperationReplicatedAfterThreshold",
                                  "s3:LifecycleTransition",
                                  "s3:IntelligentTiering",
                                  "s3:ObjectAcl:Put",
                                  "s3:LifecycleExpiration:*",
                                  "s3:LifecycleExpiration:Delete",
                                  "s3:LifecycleExpiration:DeleteMarkerCreated",
                                  "s3:ObjectTagging:*",
                                  "s3:ObjectTagging:Put",
                                  "s3:ObjectTagging:Delete"};
  for (const char* known : kEvents) {
    if (event == known) return true;
  }
  return false;
}

namespace {

// "s3:ObjectCreated:*" covers "s3:ObjectCreated:Put" and every other event of its family.
bool EventCovers(std::string_view pattern, std::string_view event) {
  if (pattern == event) return true;
  if (pattern.ends_with(":*")) {
    std::string_view family = pattern.substr(0, pattern.size() - 1);  // "s3:ObjectCreated:"
    return event.starts_with(family);
  }
  return false;
}

}  // namespace

bool RulesOverlap(const NotificationRule& a, const NotificationRule& b) {
  bool shared_event = false;
  for (const auto& x : a.events) {
    for (const auto& y : b.events) {
      if (EventCovers(x, y) || EventCovers(y, x)) shared_event = true;
    }
  }
  if (!shared_event) return false;
  bool prefixes = a.prefix.starts_with(b.prefix) || b.prefix.starts_with(a.prefix);
  bool suffixes = a.suffix.ends_with(b.suffix) || b.suffix.ends_with(a.suffix);
  return prefixes && suffixes;
}

bool RuleMatches(const NotificationRule& rule, std::string_view event_name, std::string_view key) {
  std::string full = "s3:" + std::string(event_name);
  bool event = false;
  for (const auto& pattern : rule.events) {
    if (EventCovers(pattern, full)) event = true;
  }
  return event && key.starts_with(rule.prefix) && key.ends_with(rule.suffix);
}

bool ParseNotificationConfiguration(std::string_view xml, std::vector<NotificationRule>* out,
                                    S3Error* error) {
  out->clear();
  pugi::xml_document doc;
  if (!Load(&doc, xml) || LocalName(doc.document_element()) != "NotificationConfiguration") {
    *error = S3Error::MalformedXml();
    return false;
  }
  for (auto config : doc.document_element().children()) {
    if (config.type() != pugi::node_element) continue;
    std::string_view kind = LocalName(config);
    if (kind == "TopicConfiguration" || kind == "QueueConfiguration") {
      *error =
          S3Error::InvalidArgument("Unable to validate the following destination configurations");
      return false;
    }
    if (kind == "EventBridgeConfiguration") continue;
    if (kind != "CloudFunctionConfiguration") {
      *error = S3Error::MalformedXml();
      return false;
    }
    NotificationRule rule;
    for (auto field : config.children()) {
      if (field.type() != pugi::node_element) continue;
      std::string_view name = LocalName(field);
      if (name == "Id") {
        rule.id = Trim(Text(field));
      } else if (name == "CloudFunction") {
        rule.function_arn = Trim(Text(field));
      } else if (name == "Event") {
        std::string event = Trim(Text(field));
        if (!SupportedEvent(event)) {
          *error = S3Error::InvalidArgument("The event is not supported for notifications", "Event",
                                            event);
          return false;
        }
        rule.events.push_back(event);
      } else if (name == "Filter") {
        auto key = Child(field, "S3Key");
        for (auto filter_rule : key.children()) {
          if (filter_rule.type() != pugi::node_element || LocalName(filter_rule) != "FilterRule")
            continue;
          std::string rule_name = Trim(Text(Child(filter_rule, "Name")));
          std::transform(rule_name.begin(), rule_name.end(), rule_name.begin(),
                         [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
          std::string value = Text(Child(filter_rule, "Value"));
          if (rule_name == "prefix") {
            if (rule.has_prefix) {
              *error = S3Error::InvalidArgument(
                  "Cannot specify more than one prefix rule in a filter.", "FilterRule", "prefix");
              return false;
            }
            rule.has_prefix = true;
            rule.prefix = value;
          } else if (rule_name == "suffix") {
            if (rule.has_suffix) {
              *error = S3Error::InvalidArgument(
                  "Cannot specify more than one suffix rule in a filter.", "FilterRule", "suffix");
              return false;
            }
            rule.has_suffix = true;
            rule.suffix = value;
          } else {
            *error = S3Error::InvalidArgument("filter rule name must be either prefix or suffix",
                                              "FilterRule", rule_name);
            return false;
          }
        }
      }
    }
    if (rule.function_arn.empty() || rule.events.empty()) {
      *error = S3Error::MalformedXml();
      return false;
    }
    if (rule.id.empty()) rule.id = Base64Encode(RandomHex(24)).substr(0, 32);
    out->push_back(std::move(rule));
  }
  for (size_t i = 0; i < out->size(); ++i) {
    for (size_t j = i + 1; j < out->size(); ++j) {
      if (RulesOverlap((*out)[i], (*out)[j])) {
        *error = S3Error::InvalidArgument(
            "Configurations overlap. Configurations on the same bucket cannot share a common "
            "event type.",
            "Event", (*out)[i].events.front());
        return false;
      }
    }
  }
  return true;
}

std::string RenderNotificationConfiguration(const std::vector<NotificationRule>& rules) {
  std::string xml =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<NotificationConfiguration "
      "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
  for (const auto& rule : rules) {
    xml += "<CloudFunctionConfiguration><Id>" + XmlEscape(rule.id) + "</Id><CloudFunction>" +
           XmlEscape(rule.function_arn) + "</CloudFunction>";
    for (const auto& event : rule.events) xml += "<Event>" + XmlEscape(event) + "</Event>";
    if (rule.has_prefix || rule.has_suffix) {
      xml += "<Filter><S3Key>";
      if (rule.has_prefix) {
        xml += "<FilterRule><Name>Prefix</Name><Value>" + XmlEscape(rule.prefix) +
               "</Value></FilterRule>";
      }
      if (rule.has_suffix) {
        xml += "<FilterRule><Name>Suffix</Name><Value>" + XmlEscape(rule.suffix) +
               "</Value></FilterRule>";
      }
      xml += "</S3Key></Filter>";
    }
    xml += "</CloudFunctionConfiguration>";
  }
  xml += "</NotificationConfiguration>";
  return xml;
}

std::string RulesToJson(const std::vector<NotificationRule>& rules) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& rule : rules) {
    nlohmann::json item = {{"id", rule.id}, {"arn", rule.function_arn}, {"events", rule.events}};
    if (rule.has_prefix) item["prefix"] = rule.prefix;
    if (rule.has_suffix) item["suffix"] = rule.suffix;
    list.push_back(std::move(item));
  }
  return list.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::vector<NotificationRule> RulesFromJson(std::string_view json) {
  std::vector<NotificationRule> rules;
  auto list = nlohmann::json::parse(json, nullptr, false);
  if (!list.is_array()) return rules;
  for (const auto& item : list) {
    NotificationRule rule;
    rule.id = item.value("id", "");
    rule.function_arn = item.value("arn", "");
    rule.events = item.value("events", std::vector<std::string>{});
    if (item.contains("prefix")) {
      rule.has_prefix = true;
      rule.prefix = item["prefix"].get<std::string>();
    }
    if (item.contains("suffix")) {
      rule.has_suffix = true;
      rule.suffix = item["suffix"].get<std::string>();
    }
    rules.push_back(std::move(rule));
  }
  return rules;
}

std::string BuildEventJson(const EventInfo& info) {
  nlohmann::json object = {{"key", FormEncode(info.key)}};
  if (info.size >= 0) object["size"] = info.size;
  if (!info.etag.empty()) object["eTag"] = info.etag;
  object["sequencer"] = info.sequencer;
  nlohmann::json record = {
      {"eventVersion", "2.1"},
      {"eventSource", "aws:s3"},
      {"awsRegion", info.region},
      {"eventTime", IsoTimestamp(info.event_time_ms)},
      {"eventName", info.event_name},
      {"userIdentity", {{"principalId", info.principal}}},
      {"requestParameters", {{"sourceIPAddress", info.source_ip}}},
      {"responseElements", {{"x-amz-request-id", info.request_id}, {"x-amz-id-2", info.host_id}}},
      {"s3",
       {{"s3SchemaVersion", "1.0"},
        {"configurationId", info.configuration_id},
        {"bucket",
         {{"name", info.bucket},
          {"ownerIdentity", {{"principalId", info.principal}}},
          {"arn", "arn:aws:s3:::" + info.bucket}}},
        {"object", object}}}};
  nlohmann::json document = {{"Records", nlohmann::json::array({record})}};
  return document.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace haneul::objects
