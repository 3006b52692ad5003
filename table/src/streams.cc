// Stream records, sequence numbers and iterators; see streams.h.
#include "streams.h"

#include <cstdio>

#include "haneul/common/ids.h"

namespace haneul::table {

std::string FormatSequence(uint64_t counter) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "1%020llu", static_cast<unsigned long long>(counter));
  return buffer;
}

std::optional<uint64_t> ParseSequence(const std::string& text) {
  if (text.empty() || text.size() > 21) return std::nullopt;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  if (text.size() == 21) {
    if (text[0] != '1') return std::nullopt;
    uint64_t value = 0;
    for (size_t i = 1; i < text.size(); ++i) {
      uint64_t digit = static_cast<uint64_t>(text[i] - '0');
      if (value > (UINT64_MAX - digit) / 10) return std::nullopt;
      value = value * 10 + digit;
    }
    return value;
  }
  // Shorter strings are plain numbers below every sequence number this service hands out.
  return 0;
}

std::string StreamLabel(int64_t unix_millis) {
  std::string iso = IsoTimestamp(unix_millis);  // "...T23:45:00.000Z"
  if (!iso.empty() && iso.back() == 'Z') iso.pop_back();
  return iso;
}

std::string NewShardId(int64_t unix_millis) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "shardId-%020lld-", static_cast<long long>(unix_millis));
  return buffer + RandomHex(8);
}

ChangeRecord BuildChangeRecord(const KeySchema& key, const std::string& view_type,
                               const std::string& region, const std::optional<json>& old_item,
                               const std::optional<json>& new_item, const std::string& sequence,
                               int64_t unix_millis, bool by_ttl) {
  const json& any = new_item ? *new_item : *old_item;
  json keys = json::object();
  for (const std::string* name : {&key.hash, &key.range}) {
    if (name->empty()) continue;
    auto it = any.find(*name);
    if (it != any.end()) keys[*name] = *it;
  }
  json dynamodb = {{"ApproximateCreationDateTime", unix_millis / 1000}, {"Keys", keys}};
  int64_t size = static_cast<int64_t>(ItemSize(keys));
  bool new_image = view_type == "NEW_IMAGE" || view_type == "NEW_AND_OLD_IMAGES";
  bool old_image = view_type == "OLD_IMAGE" || view_type == "NEW_AND_OLD_IMAGES";
  if (new_image && new_item) {
    dynamodb["NewImage"] = *new_item;
    size += static_cast<int64_t>(ItemSize(*new_item));
  }
  if (old_image && old_item) {
    dynamodb["OldImage"] = *old_item;
    size += static_cast<int64_t>(ItemSize(*old_item));
  }
  dynamodb["SequenceNumber"] = sequence;
  dynamodb["SizeBytes"] = size;
  dynamodb["StreamViewType"] = view_type;
  const char* name = !old_item ? "INSERT" : !new_item ? "REMOVE" : "MODIFY";
  json record = {{"eventID", RandomHex(32)},
                 {"eventName", name},
                 {"eventVersion", "1.1"},
                 {"eventSource", "aws:dynamodb"},
                 {"awsRegion", region},
                 {"dynamodb", std::move(dynamodb)}};
  if (by_ttl) {
    record["userIdentity"] = {{"type", "Service"}, {"principalId", "dynamodb.amazonaws.com"}};
  }
  return {record.dump(-1, ' ', false, json::error_handler_t::replace), size};
}

json WireRecord(json record) {
  auto it = record.find("userIdentity");
  if (it != record.end() && it->is_object()) {
    json identity = {{"Type", it->value("type", "")}, {"PrincipalId", it->value("principalId", "")}};
    *it = std::move(identity);
  }
  return record;
}

std::string EncodeIterator(const ShardIterator& iterator) {
  std::string payload = iterator.shard_id + "\n" + std::to_string(iterator.next) + "\n" +
                        std::to_string(iterator.issued_ms);
  return iterator.stream_arn + "|1|" + Base64Encode(payload);
}

std::optional<ShardIterator> DecodeIterator(const std::string& text) {
  size_t bar = text.rfind("|1|");
  if (bar == std::string::npos) return std::nullopt;
  std::string payload;
  if (!Base64Decode(std::string_view(text).substr(bar + 3), &payload)) return std::nullopt;
  ShardIterator out;
  out.stream_arn = text.substr(0, bar);
  size_t first = payload.find('\n');
  size_t second = first == std::string::npos ? first : payload.find('\n', first + 1);
  if (second == std::string::npos) return std::nullopt;
  out.shard_id = payload.substr(0, first);
  try {
    out.next = std::stoull(payload.substr(first + 1, second - first - 1));
    out.issued_ms = std::stoll(payload.substr(second + 1));
  } catch (...) {
    return std::nullopt;
  }
  return out;
}

}  // namespace haneul::table
