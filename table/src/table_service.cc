// TableService: the DynamoDB JSON 1.0 protocol over Storage; see table_service.h.
// Every operation validates its whole request before touching storage, then applies its
// writes as one WriteBatch (items and index entries together), so a malformed request never
// leaves a partial write.
#include "haneul/table/table_service.h"

#include <rocksdb/db.h>
#include <isa-l/crc.h>
#include <rocksdb/write_batch.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <functional>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#include "export_import.h"
#include "expression.h"
#include "haneul/common/fast_json.h"
#include "haneul/common/ids.h"
#include "number.h"
#include "storage.h"
#include "streams.h"

namespace haneul::table {

namespace {

constexpr std::string_view kTargetPrefix = "DynamoDB_20120810.";
constexpr std::string_view kStreamsTargetPrefix = "DynamoDBStreams_20120810.";
// Default-family keys of the stream metadata, the sequence counter and backups.
constexpr char kStreamMetaPrefix[] = "stream/";
constexpr char kSequenceKey[] = "counter/sequence";
constexpr char kBackupMetaPrefix[] = "backup/";
// How often (on the table clock) expired TTL items are swept and old stream records trimmed.
constexpr int64_t kMaintenanceIntervalMs = 30 * 1000;
// TTL deletions per sweep, so one sweep never stalls the loop for long.
constexpr size_t kTtlDeletesPerSweep = 10000;
constexpr size_t kMaxItemSize = 400 * 1024;
constexpr size_t kMaxHashKeySize = 2048;
constexpr size_t kMaxRangeKeySize = 1024;
constexpr size_t kPageLimitBytes = 1024 * 1024;
constexpr int64_t kIdempotencyWindowMs = 10 * 60 * 1000;

// CRC32 (IEEE, as zlib computes it) of the body: DynamoDB's x-amz-crc32 header, which the SDKs
// verify.
// ISA-L's folding CRC computes the same CRC-32 as zlib's crc32 about 20 times faster (zlib's took
// 4k instructions of a 1 KB answer, a twentieth of a GetItem).
uint32_t Crc32(std::string_view data) {
  return crc32_gzip_refl(0, reinterpret_cast<const unsigned char*>(data.data()), data.size());
}

std::string Dump(const json& value) { return DumpJson(value); }

HttpResponse MakeResponse(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.headers.Set("Content-Type", "application/x-amz-json-1.0");
  response.headers.Set("x-amzn-RequestId", NewUuid());
  response.headers.Set("x-amz-crc32", std::to_string(Crc32(body)));
  response.body = std::move(body);
  return response;
}

HttpResponse ErrorResponse(const ApiError& error) {
  json body = error.extra.is_object() ? error.extra : json::object();
  body["__type"] = "com.amazonaws.dynamodb.v20120810#" + error.type;
  body["message"] = error.message;
  return MakeResponse(error.http_status, Dump(body));
}

std::string Lower(std::string text) {
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return text;
}

MaybeError ValidateTableName(const std::string& name, const char* field = "TableName") {
  std::string member = Lower(field);
  if (name.empty()) {
    return ApiError::Validation("1 validation error detected: Value null at '" + member +
                                "' failed to satisfy constraint: Member must not be null");
  }
  if (name.size() < 3) {
    return ApiError::Validation("1 validation error detected: Value '" + name + "' at '" + member +
                                "' failed to satisfy constraint: Member must have length greater "
                                "than or equal to 3");
  }
  if (name.size() > 255) {
    return ApiError::Validation("1 validation error detected: Value '" + name + "' at '" + member +
                                "' failed to satisfy constraint: Member must have length less "
                                "than or equal to 255");
  }
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') {
      return ApiError::Validation("1 validation error detected: Value '" + name + "' at '" +
                                  member +
                                  "' failed to satisfy constraint: Member must satisfy "
                                  "regular expression pattern: [a-zA-Z0-9_.-]+");
    }
  }
  return std::nullopt;
}

ApiError TableNotFound() { return ApiError::NotFound("Requested resource not found"); }

json KeySchemaJson(const KeySchema& key) {
  json out = json::array({{{"AttributeName", key.hash}, {"KeyType", "HASH"}}});
  if (!key.range.empty()) out.push_back({{"AttributeName", key.range}, {"KeyType", "RANGE"}});
  return out;
}

// Writes and reads round up to capacity units.
double WriteUnits(size_t bytes) { return std::max<double>(1, std::ceil(bytes / 1024.0)); }
double ReadUnits(size_t bytes, bool consistent) {
  double units = std::max<double>(1, std::ceil(bytes / 4096.0));
  return consistent ? units : units / 2;
}

uint64_t Fnv1a(std::string_view data) {
  uint64_t hash = 1469598103934665603ull;
  for (unsigned char c : data) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return hash;
}

// Stored item values: 4 bytes little-endian item size (as DynamoDB counts it) then the item's
// wire JSON, so pages can be sized and answered without parsing the items.
std::string EncodeStored(const json& item) {
  std::string text = Dump(item);
  uint32_t size = static_cast<uint32_t>(ItemSize(item));
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((size >> (8 * i)) & 0xff);
  out += text;
  return out;
}

bool DecodeStored(std::string_view data, size_t* size, std::string_view* text) {
  if (data.size() < 4) return false;
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i)
    value |= static_cast<uint32_t>(static_cast<unsigned char>(data[i])) << (8 * i);
  *size = value;
  *text = data.substr(4);
  return true;
}

json ParseStored(std::string_view data) {
  size_t size = 0;
  std::string_view text;
  if (!DecodeStored(data, &size, &text)) return json();
  return ParseJson(text);
}

}  // namespace

struct TableService::Impl {
  TableOptions options;
  std::unique_ptr<Storage> storage;
  // Export/import jobs (export_import.h): after storage, so they stop before it closes.
  std::unique_ptr<ExportImport> export_import;
  // A GetItem answer built by splicing the stored item text (no parse and dump of the item).
  std::optional<std::string> raw_response;

  // Group commit (see TableOptions::loop). Loop thread: waiting, in_flight, sync_running.
  // The syncer thread only calls Storage::SyncWal and posts its outcome to the loop.
  using PendingAnswer = std::pair<std::shared_ptr<Responder>, HttpResponse>;
  std::vector<PendingAnswer> waiting;    // written, not yet covered by a started fsync
  std::vector<PendingAnswer> in_flight;  // covered by the fsync now running
  bool sync_running = false;
  std::thread syncer;
  std::mutex mutex;
  std::condition_variable wake;
  bool sync_requested = false;  // guarded by mutex
  bool stopping = false;        // guarded by mutex
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);

  ~Impl() {
    maintenance_timer.reset();
    {
      std::lock_guard<std::mutex> lock(mutex);
      stopping = true;
    }
    wake.notify_all();
    if (syncer.joinable()) syncer.join();
    *alive = false;
  }

  void SyncerLoop() {
    while (true) {
      {
        std::unique_lock<std::mutex> lock(mutex);
        wake.wait(lock, [&] { return sync_requested || stopping; });
        if (stopping) return;
        sync_requested = false;
      }
      MaybeError error = storage->SyncWal();
      std::weak_ptr<bool> token = alive;
      options.loop->Post([this, token, error] {
        if (token.expired() || !*token.lock()) return;
        FinishSync(error);
      });
    }
  }

  void StartSync() {
    in_flight.swap(waiting);
    in_flight_streams.swap(waiting_streams);
    sync_running = true;
    {
      std::lock_guard<std::mutex> lock(mutex);
      sync_requested = true;
    }
    wake.notify_one();
  }

  void FinishSync(const MaybeError& error) {
    std::vector<PendingAnswer> done;
    done.swap(in_flight);
    std::set<std::string> streams_done;
    streams_done.swap(in_flight_streams);
    sync_running = false;
    if (!waiting.empty() || !waiting_streams.empty()) StartSync();
    for (auto& [responder, response] : done) {
      if (responder) responder->Respond(error ? ErrorResponse(*error) : std::move(response));
    }
    if (!error) NotifyStreams(streams_done);
  }

  // Answers a request (responder may be null for the service's own writes: TTL sweeps) once
  // its writes are durable, then tells stream listeners about the streams those writes touched.
  void Answer(const std::shared_ptr<Responder>& responder, HttpResponse response) {
    std::set<std::string> streams_touched;
    streams_touched.swap(touched_streams);
    if (!storage->TakeDirty() || options.loop == nullptr || !options.sync) {
      if (responder) responder->Respond(std::move(response));
      NotifyStreams(streams_touched);
      return;
    }
    if (responder) waiting.emplace_back(responder, std::move(response));
    waiting_streams.insert(streams_touched.begin(), streams_touched.end());
    if (!sync_running) StartSync();
  }

  void NotifyStreams(const std::set<std::string>& arns) {
    for (const auto& arn : arns) {
      for (const auto& listener : listeners) listener(arn);
    }
  }

  // ---- streams, TTL, point-in-time recovery, backups (issue 11) -----------------------------
  std::map<std::string, StreamMeta> streams;  // by ARN
  uint64_t sequence = 0;  // the last sequence counter handed out (persisted at kSequenceKey)
  std::set<std::string> touched_streams;  // written since the last Answer
  std::set<std::string> waiting_streams;  // written, not yet covered by a started fsync
  std::set<std::string> in_flight_streams;
  std::vector<std::function<void(const std::string&)>> listeners;
  int64_t next_maintenance_ms = 0;
  std::unique_ptr<Timer> maintenance_timer;

  int64_t Now() const { return options.now_ms ? options.now_ms() : NowUnixMillis(); }

  // ---- read cache (see TableOptions::read_cache_ttl_ms) ----------------------------------------
  struct CacheEntry {
    std::optional<std::string> value;  // stored item (nullopt: known absent) or a whole answer
    int64_t expires_ms = 0;
  };
  // "i\0<table id>\0<item key>" for items, "q\0<table id>\0<generation>\0<op>\0<request>"
  // for Query / Scan answers.
  std::unordered_map<std::string, CacheEntry> cache;
  std::map<std::string, uint64_t> generations;  // table id -> writes so far (query entries)
  std::map<std::string, ReadCacheStats> cache_stats;  // by table id
  // The cache lifetime of a table in ms, 0 when its cache is off.
  int64_t CacheTtl(const TableMeta& table) const {
    auto it = table.tags.find("haneul:read-cache");
    if (it == table.tags.end() || !it->is_string()) return 0;
    const std::string& value = it->get_ref<const std::string&>();
    if (value == "on" || value == "true") return options.read_cache_ttl_ms;
    char* end = nullptr;
    double seconds = std::strtod(value.c_str(), &end);
    if (end == value.c_str() || *end != '\0' || !(seconds > 0) || seconds > 86400 * 365) return 0;
    return static_cast<int64_t>(seconds * 1000);
  }
  const CacheEntry* CacheFind(const TableMeta& table, const std::string& key) {
    auto it = cache.find(key);
    ReadCacheStats& stats = cache_stats[table.id];
    if (it == cache.end() || it->second.expires_ms <= Now()) {
      ++stats.misses;
      return nullptr;
    }
    ++stats.hits;
    return &it->second;
  }
  void CachePut(std::string key, std::optional<std::string> value, int64_t ttl) {
    if (cache.size() >= options.read_cache_entries) cache.clear();
    cache[std::move(key)] = CacheEntry{std::move(value), Now() + ttl};
  }
  static std::string ItemCacheKey(const TableMeta& table, const std::string& key) {
    return std::string("i") + '\0' + table.id + '\0' + key;
  }
  // Reads one stored item, through the cache when the read is eventually consistent.
  MaybeError GetStored(const TableMeta& table, const std::string& key, bool consistent,
                       std::optional<std::string>* out) {
    int64_t ttl = consistent ? 0 : CacheTtl(table);
    if (ttl == 0) return storage->Get(table.family, key, out);
    std::string cache_key = ItemCacheKey(table, key);
    if (const CacheEntry* hit = CacheFind(table, cache_key)) {
      *out = hit->value;
      return std::nullopt;
    }
    TABLE_TRY(storage->Get(table.family, key, out));
    CachePut(std::move(cache_key), *out, ttl);
    return std::nullopt;
  }
  // A write to the table: its item entry goes, and every cached Query / Scan of it.
  void Invalidate(const TableMeta& table, const std::string& key) {
    if (cache.empty()) return;
    cache.erase(ItemCacheKey(table, key));
    ++generations[table.id];
  }
  MaybeError LoadStreams();
  MaybeError SaveStream(const StreamMeta& stream, rocksdb::WriteBatch* batch);
  MaybeError EnableStream(TableMeta& table, const std::string& view_type);
  MaybeError DisableStream(TableMeta& table);
  // Applies an item change (AddWrite) and, when the item really changed, appends its stream
  // record and point-in-time log entry to the same batch.
  void AddChange(TableMeta& table, const std::string& key, const std::optional<json>& old_item,
                 const std::optional<json>& new_item, rocksdb::WriteBatch* batch,
                 bool by_ttl = false);
  void Maintain();
  void ScheduleMaintenance();
  MaybeError TrimStreams(int64_t now);
  MaybeError SweepTtl(int64_t now);
  MaybeError TrimPitr(int64_t now);
  StreamMeta* FindStream(const std::string& arn);
  struct RawRecord {
    uint64_t counter = 0;
    int64_t created_ms = 0;
    std::string json;
  };
  MaybeError ReadRecords(const StreamMeta& stream, uint64_t next, size_t limit, size_t byte_limit,
                         std::vector<RawRecord>* out, bool* at_end);

  MaybeError StreamsDispatch(const std::string& operation, json& request, json* response);
  MaybeError ListStreams(json& request, json* response);
  MaybeError DescribeStream(json& request, json* response);
  MaybeError GetShardIterator(json& request, json* response);
  MaybeError GetRecords(json& request, json* response);
  MaybeError UpdateTimeToLive(json& request, json* response);
  MaybeError DescribeTimeToLive(json& request, json* response);
  json ContinuousBackups(const TableMeta& table);
  MaybeError UpdateContinuousBackups(json& request, json* response);
  MaybeError DescribeContinuousBackups(json& request, json* response);
  MaybeError RestoreTableToPointInTime(json& request, json* response);
  MaybeError CreateBackup(json& request, json* response);
  MaybeError DescribeBackup(json& request, json* response);
  MaybeError ListBackups(json& request, json* response);
  MaybeError DeleteBackup(json& request, json* response);
  MaybeError RestoreTableFromBackup(json& request, json* response);
  MaybeError FindBackup(const json& request, json* meta, std::string* id);
  // Creates table `target` with the schema of `source` and fills it through `fill`, which
  // calls its argument once per (item key, item).
  MaybeError RestoreInto(const TableMeta& source, const std::string& target,
                         const std::function<MaybeError(
                             const std::function<MaybeError(const std::string&, const json&)>&)>&
                             fill,
                         TableMeta** out);
  std::string host = "localhost";
  // ClientRequestToken -> (request fingerprint, time) for TransactWriteItems idempotency.
  std::map<std::string, std::pair<std::string, int64_t>> transaction_tokens;

  // Provisioned capacity: a token bucket per table and direction, refilled at the provisioned
  // rate and holding up to 300 seconds of unused capacity (DynamoDB's burst capacity). A request
  // is refused while its bucket is empty; its actual cost is charged afterwards (the bucket may
  // go into debt, as DynamoDB lets one large request through). On-demand tables never throttle.
  struct Bucket {
    double tokens = 0;
    double rate = 0;
    std::chrono::steady_clock::time_point refilled;
    bool primed = false;
  };
  std::map<std::pair<std::string, bool>, Bucket> buckets;  // (table id, write?)

  Bucket* BucketFor(const TableMeta& table, bool write) {
    if (table.billing_mode != "PROVISIONED" || !table.provisioned.is_object()) return nullptr;
    double rate = table.provisioned.value(write ? "WriteCapacityUnits" : "ReadCapacityUnits", 0);
    if (rate <= 0) return nullptr;
    Bucket& bucket = buckets[{table.id, write}];
    auto now = std::chrono::steady_clock::now();
    if (!bucket.primed || bucket.rate != rate) {
      bucket = Bucket{rate * 300, rate, now, true};
    }
    double elapsed = std::chrono::duration<double>(now - bucket.refilled).count();
    bucket.tokens = std::min(rate * 300, bucket.tokens + elapsed * rate);
    bucket.refilled = now;
    return &bucket;
  }
  MaybeError CheckThroughput(const TableMeta& table, bool write) {
    Bucket* bucket = BucketFor(table, write);
    if (bucket != nullptr && bucket->tokens <= 0) {
      return ApiError{"ProvisionedThroughputExceededException",
                      "The level of configured provisioned throughput for the table was exceeded. "
                      "Consider increasing your provisioning level with the UpdateTable API."};
    }
    return std::nullopt;
  }
  void Charge(const TableMeta& table, bool write, double units) {
    if (Bucket* bucket = BucketFor(table, write)) bucket->tokens -= units;
  }

  std::string TableArn(const std::string& name) const {
    return "arn:aws:dynamodb:" + options.region + ":" + options.account + ":table/" + name;
  }

  MaybeError Dispatch(const std::string& operation, json& request, json* response);

  // --- control plane -------------------------------------------------------------------------
  json Describe(const TableMeta& table, const std::string& status, bool with_counts);
  MaybeError CreateTable(json& request, json* response);
  MaybeError DescribeTable(json& request, json* response);
  MaybeError ListTables(json& request, json* response);
  MaybeError DeleteTable(json& request, json* response);
  MaybeError UpdateTable(json& request, json* response);
  MaybeError TableFromArn(const json& request, TableMeta** out);
  MaybeError TagResource(json& request, json* response);
  MaybeError UntagResource(json& request, json* response);
  MaybeError ListTagsOfResource(json& request, json* response);
  MaybeError ParseIndex(const json& spec, bool global, const std::string& billing, TableMeta* table,
                        IndexMeta* out);
  MaybeError Backfill(TableMeta* table, IndexMeta* index);

  // --- data plane ----------------------------------------------------------------------------
  struct PreparedWrite {
    TableMeta* table = nullptr;
    std::string key;
    std::optional<json> old_item;  // parsed only when the write needs it (see PrepareWrite)
    size_t old_size = 0;           // the stored item's size, 0 when there was none
    std::optional<json> new_item;  // nullopt: delete (or no change for ConditionCheck)
    bool writes = true;
    bool condition_failed = false;
    std::string return_values = "NONE";
    std::string return_on_failure = "NONE";
    std::vector<Path> updated_paths;
    std::string capacity_mode = "NONE";
  };
  MaybeError FindTable(const json& request, TableMeta** out);
  MaybeError EncodeKey(const TableMeta& table, const json& key, bool from_item, std::string* out);
  MaybeError CheckIndexKeys(const TableMeta& table, const json& item);
  MaybeError ReadItem(TableMeta& table, const std::string& key, std::optional<json>* out);
  // The stored item's size, and the item itself when parse is set (0 and nullopt when absent).
  MaybeError ReadItemSize(TableMeta& table, const std::string& key, bool parse,
                          std::optional<json>* out, size_t* size);
  void AddWrite(TableMeta& table, const std::string& key, const std::optional<json>& old_item,
                const std::optional<json>& new_item, rocksdb::WriteBatch* batch);
  MaybeError PrepareWrite(const std::string& kind, json& request, PreparedWrite* out);
  json WriteResponse(const PreparedWrite& write);
  ApiError ConditionFailure(const PreparedWrite& write);
  json Capacity(const TableMeta& table, double units, const std::string& mode);

  MaybeError PutItem(json& request, json* response) {
    return SingleWrite("Put", request, response);
  }
  MaybeError DeleteItem(json& request, json* response) {
    return SingleWrite("Delete", request, response);
  }
  MaybeError UpdateItem(json& request, json* response) {
    return SingleWrite("Update", request, response);
  }
  MaybeError SingleWrite(const std::string& kind, json& request, json* response);
  MaybeError GetItem(json& request, json* response);
  MaybeError QueryOrScan(bool query, json& request, json* response);
  MaybeError BatchGetItem(json& request, json* response);
  MaybeError BatchWriteItem(json& request, json* response);
  MaybeError TransactWriteItems(json& request, json* response);
  MaybeError TransactGetItems(json& request, json* response);
};

// =============================================================================================
// Shared request helpers.

namespace {

// Validates ExpressionAttributeNames/Values and returns pointers for the ExpressionContext.
MaybeError ExpressionTables(json& request, bool uses_expressions, const json** names,
                            const json** values) {
  *names = Field(request, "ExpressionAttributeNames");
  *values = Field(request, "ExpressionAttributeValues");
  if (*names != nullptr) {
    if (!(*names)->is_object())
      return ApiError::Serialization("Unexpected ExpressionAttributeNames");
    if (!uses_expressions) {
      return ApiError::Validation(
          "ExpressionAttributeNames can only be specified when using expressions");
    }
    if ((*names)->empty())
      return ApiError::Validation("ExpressionAttributeNames must not be empty");
    for (const auto& [key, value] : (*names)->items()) {
      if (key.size() < 2 || key[0] != '#') {
        return ApiError::Validation(
            "ExpressionAttributeNames contains invalid key: Syntax error; "
            "key: \"" +
            key + "\"");
      }
      if (!value.is_string()) return ApiError::Serialization("Unexpected ExpressionAttributeNames");
    }
  }
  if (*values != nullptr) {
    if (!(*values)->is_object()) {
      return ApiError::Serialization("Unexpected ExpressionAttributeValues");
    }
    if (!uses_expressions) {
      return ApiError::Validation(
          "ExpressionAttributeValues can only be specified when using expressions");
    }
    if ((*values)->empty()) {
      return ApiError::Validation("ExpressionAttributeValues must not be empty");
    }
    json& mutable_values = request["ExpressionAttributeValues"];
    for (auto& [key, value] : mutable_values.items()) {
      if (key.size() < 2 || key[0] != ':') {
        return ApiError::Validation(
            "ExpressionAttributeValues contains invalid key: Syntax error; "
            "key: \"" +
            key + "\"");
      }
      if (auto error = ValidateValue(value)) {
        if (error->type != "ValidationException") return error;
        std::string message = error->message;
        return ApiError::Validation("ExpressionAttributeValues contains invalid value: " + message +
                                    " for key " + key);
      }
    }
    *values = &mutable_values;
  }
  return std::nullopt;
}

// Rejects legacy (non-expression) parameters mixed with expression ones.
MaybeError CheckLegacyMix(const json& request, std::initializer_list<const char*> legacy,
                          std::initializer_list<const char*> modern) {
  std::string old_names, new_names;
  for (const char* name : legacy) {
    if (Field(request, name)) old_names += (old_names.empty() ? "" : ", ") + std::string(name);
  }
  for (const char* name : modern) {
    if (Field(request, name)) new_names += (new_names.empty() ? "" : ", ") + std::string(name);
  }
  if (!old_names.empty() && !new_names.empty()) {
    return ApiError::Validation(
        "Can not use both expression and non-expression parameters in the same request: "
        "Non-expression parameters: {" +
        old_names + "} Expression parameters: {" + new_names + "}");
  }
  return std::nullopt;
}

Operand PathOperand(const std::string& name) {
  Operand operand;
  operand.kind = Operand::Kind::kPath;
  operand.path.push_back(PathElement{name});
  return operand;
}

Operand ValueOperand(const json& value) {
  Operand operand;
  operand.kind = Operand::Kind::kValue;
  operand.value = value;
  return operand;
}

// The legacy condition maps (Expected, KeyConditions, QueryFilter, ScanFilter) as a condition
// tree: {attribute: {ComparisonOperator, AttributeValueList} | {Value, Exists}}, joined by
// ConditionalOperator (AND unless OR).
MaybeError LegacyCondition(json& conditions, const json& request, std::optional<Condition>* out) {
  if (!conditions.is_object()) return ApiError::Serialization("Unexpected condition map");
  std::string joiner = "AND";
  TABLE_TRY(StringField(request, "ConditionalOperator", &joiner));
  if (joiner != "AND" && joiner != "OR") {
    return ApiError::Validation("1 validation error detected: Value '" + joiner +
                                "' at 'conditionalOperator' failed to satisfy constraint: Member "
                                "must satisfy enum value set: [AND, OR]");
  }
  for (auto& [name, spec] : conditions.items()) {
    if (!spec.is_object()) return ApiError::Serialization("Unexpected condition");
    Condition node;
    std::vector<json> values;
    if (spec.contains("AttributeValueList") && spec["AttributeValueList"].is_array()) {
      for (auto& value : spec["AttributeValueList"]) {
        TABLE_TRY(ValidateValue(value));
        values.push_back(value);
      }
    }
    std::string op;
    TABLE_TRY(StringField(spec, "ComparisonOperator", &op));
    if (op.empty()) {
      // Expected's older form: {Value} means EQ, {Exists: false} means NULL.
      const json* exists = Field(spec, "Exists");
      bool must_exist = exists == nullptr || (exists->is_boolean() && exists->get<bool>());
      if (spec.contains("Value") && !spec["Value"].is_null()) {
        if (!must_exist) {
          return ApiError::Validation(
              "One or more parameter values were invalid: Value cannot "
              "be used when Exists is false for Attribute: " +
              name);
        }
        TABLE_TRY(ValidateValue(spec["Value"]));
        values = {spec["Value"]};
        op = "EQ";
      } else if (!must_exist) {
        op = "NULL";
      } else {
        return ApiError::Validation(
            "One or more parameter values were invalid: Value must be "
            "provided when Exists is true for Attribute: " +
            name);
      }
    }
    size_t want = 1;
    if (op == "NULL" || op == "NOT_NULL")
      want = 0;
    else if (op == "BETWEEN")
      want = 2;
    else if (op == "IN")
      want = values.empty() ? 1 : values.size();
    if (values.size() != want) {
      return ApiError::Validation(
          "One or more parameter values were invalid: Invalid number of "
          "argument(s) for the " +
          op + " ComparisonOperator");
    }
    static const std::map<std::string, std::string> kComparators = {
        {"EQ", "="}, {"NE", "<>"}, {"LT", "<"}, {"LE", "<="}, {"GT", ">"}, {"GE", ">="}};
    if (auto it = kComparators.find(op); it != kComparators.end()) {
      node.kind = Condition::Kind::kCompare;
      node.op = it->second;
      node.operands = {PathOperand(name), ValueOperand(values[0])};
    } else if (op == "NULL" || op == "NOT_NULL") {
      node.kind = Condition::Kind::kFunction;
      node.op = op == "NULL" ? "attribute_not_exists" : "attribute_exists";
      node.operands = {PathOperand(name)};
    } else if (op == "BEGINS_WITH" || op == "CONTAINS" || op == "NOT_CONTAINS") {
      node.kind = Condition::Kind::kFunction;
      node.op = op == "BEGINS_WITH" ? "begins_with" : "contains";
      node.operands = {PathOperand(name), ValueOperand(values[0])};
      if (op == "NOT_CONTAINS") {
        Condition negated;
        negated.kind = Condition::Kind::kNot;
        negated.children.push_back(std::move(node));
        node = std::move(negated);
      }
    } else if (op == "BETWEEN") {
      node.kind = Condition::Kind::kBetween;
      node.op = "BETWEEN";
      node.operands = {PathOperand(name), ValueOperand(values[0]), ValueOperand(values[1])};
    } else if (op == "IN") {
      node.kind = Condition::Kind::kIn;
      node.op = "IN";
      node.operands.push_back(PathOperand(name));
      for (const auto& value : values) node.operands.push_back(ValueOperand(value));
    } else {
      return ApiError::Validation(
          "1 validation error detected: Value '" + op +
          "' at 'comparisonOperator' failed to satisfy constraint: Member "
          "must satisfy enum value set: [IN, NULL, BETWEEN, LT, "
          "NOT_CONTAINS, EQ, GT, NOT_NULL, NE, LE, BEGINS_WITH, GE, CONTAINS]");
    }
    if (!*out) {
      *out = std::move(node);
    } else {
      Condition joined;
      joined.kind = joiner == "OR" ? Condition::Kind::kOr : Condition::Kind::kAnd;
      joined.children.push_back(std::move(**out));
      joined.children.push_back(std::move(node));
      *out = std::move(joined);
    }
  }
  return std::nullopt;
}

// Legacy AttributeUpdates as update actions.
MaybeError LegacyUpdates(json& updates, std::vector<UpdateAction>* out) {
  if (!updates.is_object()) return ApiError::Serialization("Unexpected AttributeUpdates");
  for (auto& [name, spec] : updates.items()) {
    if (!spec.is_object()) return ApiError::Serialization("Unexpected AttributeUpdates");
    std::string action = "PUT";
    TABLE_TRY(StringField(spec, "Action", &action));
    bool has_value = spec.contains("Value") && !spec["Value"].is_null();
    if (has_value) TABLE_TRY(ValidateValue(spec["Value"]));
    UpdateAction update;
    update.path.push_back(PathElement{name});
    if (action == "PUT") {
      if (!has_value) {
        return ApiError::Validation(
            "One or more parameter values were invalid: Only DELETE action "
            "is allowed when no attribute value is specified");
      }
      update.kind = UpdateAction::Kind::kSet;
      update.value = ValueOperand(spec["Value"]);
    } else if (action == "DELETE") {
      update.kind = has_value ? UpdateAction::Kind::kDelete : UpdateAction::Kind::kRemove;
      if (has_value) update.value = ValueOperand(spec["Value"]);
    } else if (action == "ADD") {
      if (!has_value) {
        return ApiError::Validation(
            "One or more parameter values were invalid: Only DELETE action "
            "is allowed when no attribute value is specified");
      }
      update.kind = UpdateAction::Kind::kAdd;
      update.value = ValueOperand(spec["Value"]);
    } else {
      return ApiError::Validation("1 validation error detected: Value '" + action +
                                  "' at 'attributeUpdates." + name +
                                  ".member.action' failed to "
                                  "satisfy constraint: Member must satisfy enum value set: [ADD, "
                                  "PUT, DELETE]");
    }
    if (update.kind == UpdateAction::Kind::kAdd || update.kind == UpdateAction::Kind::kDelete) {
      const std::string& type = TypeOf(update.value.value);
      bool ok = type == "SS" || type == "NS" || type == "BS" ||
                (update.kind == UpdateAction::Kind::kAdd && type == "N");
      if (!ok) {
        return ApiError::Validation("One or more parameter values were invalid: " + action +
                                    " action is not supported for the type " + type);
      }
    }
    out->push_back(std::move(update));
  }
  return std::nullopt;
}

// ProjectionExpression or AttributesToGet into paths (empty: everything).
MaybeError ProjectionPaths(const json& request, ExpressionContext& context,
                           std::vector<Path>* out) {
  std::string projection;
  TABLE_TRY(StringField(request, "ProjectionExpression", &projection));
  if (Field(request, "ProjectionExpression")) {
    TABLE_TRY(ParseProjection(projection, context, out));
  } else if (const json* attributes = Field(request, "AttributesToGet")) {
    if (!attributes->is_array() || attributes->empty()) {
      return ApiError::Validation(
          "1 validation error detected: Value '[]' at 'attributesToGet' "
          "failed to satisfy constraint: Member must have length greater "
          "than or equal to 1");
    }
    std::set<std::string> seen;
    for (const auto& name : *attributes) {
      if (!name.is_string()) return ApiError::Serialization("Unexpected AttributesToGet");
      if (!seen.insert(name.get<std::string>()).second) {
        return ApiError::Validation(
            "One or more parameter values were invalid: Duplicate value "
            "in attribute name: " +
            name.get<std::string>());
      }
      out->push_back({PathElement{name.get<std::string>()}});
    }
  }
  return std::nullopt;
}

}  // namespace

MaybeError TableService::Impl::FindTable(const json& request, TableMeta** out) {
  std::string name;
  TABLE_TRY(StringField(request, "TableName", &name));
  TABLE_TRY(ValidateTableName(name));
  *out = storage->Find(name);
  if (*out == nullptr) return TableNotFound();
  return std::nullopt;
}

json TableService::Impl::Capacity(const TableMeta& table, double units, const std::string& mode) {
  json out = {{"TableName", table.name}, {"CapacityUnits", units}};
  if (mode == "INDEXES") out["Table"] = {{"CapacityUnits", units}};
  return out;
}

// =============================================================================================
// Control plane.

json TableService::Impl::Describe(const TableMeta& table, const std::string& status,
                                  bool with_counts) {
  json attributes = json::array();
  for (const auto& [name, type] : table.attribute_types) {
    attributes.push_back({{"AttributeName", name}, {"AttributeType", type}});
  }
  int64_t items = 0, bytes = 0;
  std::map<std::string, std::pair<int64_t, int64_t>> index_counts;
  // Exact counts for tables up to kExactCountLimit items (one scan); beyond, RocksDB's key
  // estimate and the average size of the first items, so DescribeTable never stalls the loop on
  // a large table (DynamoDB itself refreshes these figures only every ~6 hours).
  constexpr uint64_t kExactCountLimit = 200000;
  constexpr int64_t kSampleItems = 1000;
  if (with_counts && storage->EstimateKeys(table.family) > kExactCountLimit) {
    auto estimate = [&](rocksdb::ColumnFamilyHandle* family, int64_t* count, int64_t* size) {
      *count = static_cast<int64_t>(storage->EstimateKeys(family));
      int64_t sampled = 0, sampled_bytes = 0;
      auto it = storage->NewIterator(family);
      for (it->SeekToFirst(); it->Valid() && sampled < kSampleItems; it->Next(), ++sampled) {
        size_t item_size = 0;
        std::string_view text;
        if (DecodeStored(std::string_view(it->value().data(), it->value().size()), &item_size,
                         &text)) {
          sampled_bytes += static_cast<int64_t>(item_size);
        }
      }
      *size = sampled > 0 ? sampled_bytes / sampled * *count : 0;
    };
    estimate(table.family, &items, &bytes);
    for (const auto& index : table.indexes) {
      auto& counts = index_counts[index.name];
      estimate(index.family, &counts.first, &counts.second);
    }
    with_counts = false;
  }
  if (with_counts) {
    auto it = storage->NewIterator(table.family);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      ++items;
      size_t size = 0;
      std::string_view text;
      if (DecodeStored(std::string_view(it->value().data(), it->value().size()), &size, &text)) {
        bytes += static_cast<int64_t>(size);
      }
    }
    for (const auto& index : table.indexes) {
      auto& counts = index_counts[index.name];
      auto index_it = storage->NewIterator(index.family);
      for (index_it->SeekToFirst(); index_it->Valid(); index_it->Next()) {
        ++counts.first;
        size_t size = 0;
        std::string_view text;
        if (DecodeStored(std::string_view(index_it->value().data(), index_it->value().size()),
                         &size, &text)) {
          counts.second += static_cast<int64_t>(size);
        }
      }
    }
  }
  auto throughput = [&](const json& provisioned) {
    json out = {{"NumberOfDecreasesToday", 0}, {"ReadCapacityUnits", 0}, {"WriteCapacityUnits", 0}};
    if (provisioned.is_object()) {
      out["ReadCapacityUnits"] = provisioned.value("ReadCapacityUnits", 0);
      out["WriteCapacityUnits"] = provisioned.value("WriteCapacityUnits", 0);
    }
    return out;
  };
  json out = {{"TableName", table.name},
              {"TableId", table.id},
              {"TableArn", TableArn(table.name)},
              {"TableStatus", status},
              {"CreationDateTime", table.created},
              {"AttributeDefinitions", attributes},
              {"KeySchema", KeySchemaJson(table.key)},
              {"ProvisionedThroughput", throughput(table.provisioned)},
              {"TableSizeBytes", bytes},
              {"ItemCount", items},
              {"DeletionProtectionEnabled", false}};
  if (table.billing_mode == "PAY_PER_REQUEST") {
    out["BillingModeSummary"] = {{"BillingMode", "PAY_PER_REQUEST"},
                                 {"LastUpdateToPayPerRequestDateTime", table.created}};
  } else {
    out["BillingModeSummary"] = {{"BillingMode", "PROVISIONED"}};
  }
  json global = json::array(), local = json::array();
  for (const auto& index : table.indexes) {
    json projection = {{"ProjectionType", index.projection_type}};
    if (index.projection_type == "INCLUDE")
      projection["NonKeyAttributes"] = index.non_key_attributes;
    auto counts = index_counts[index.name];
    json entry = {
        {"IndexName", index.name},   {"KeySchema", KeySchemaJson(index.key)},
        {"Projection", projection},  {"IndexSizeBytes", counts.second},
        {"ItemCount", counts.first}, {"IndexArn", TableArn(table.name) + "/index/" + index.name}};
    if (index.global) {
      entry["IndexStatus"] = status == "ACTIVE" || status == "CREATING" ? "ACTIVE" : status;
      entry["ProvisionedThroughput"] = throughput(index.provisioned);
      global.push_back(std::move(entry));
    } else {
      local.push_back(std::move(entry));
    }
  }
  if (!global.empty()) out["GlobalSecondaryIndexes"] = global;
  if (!local.empty()) out["LocalSecondaryIndexes"] = local;
  if (table.stream_enabled) {
    out["StreamSpecification"] = {{"StreamEnabled", true},
                                  {"StreamViewType", table.stream_view_type}};
  }
  if (!table.latest_stream_arn.empty()) {
    out["LatestStreamArn"] = table.latest_stream_arn;
    out["LatestStreamLabel"] = table.latest_stream_label;
  }
  return out;
}

namespace {

MaybeError ParseKeySchema(const json* spec, const char* where, KeySchema* out) {
  if (spec == nullptr) {
    return ApiError::Validation(std::string("1 validation error detected: Value null at '") +
                                where + "' failed to satisfy constraint: Member must not be null");
  }
  if (!spec->is_array() || spec->empty() || spec->size() > 2) {
    return ApiError::Validation(std::string("1 validation error detected: Value at '") + where +
                                "' failed to satisfy constraint: Member must have length less "
                                "than or equal to 2");
  }
  for (size_t i = 0; i < spec->size(); ++i) {
    const json& element = (*spec)[i];
    if (!element.is_object()) return ApiError::Serialization("Unexpected KeySchema element");
    std::string name, type;
    TABLE_TRY(StringField(element, "AttributeName", &name));
    TABLE_TRY(StringField(element, "KeyType", &type));
    if (name.empty() || name.size() > 255) {
      return ApiError::Validation(
          "One or more parameter values were invalid: Invalid KeySchema "
          "AttributeName");
    }
    if (i == 0 && type != "HASH") {
      return ApiError::Validation(
          "Invalid KeySchema: The first KeySchemaElement is not a HASH key type");
    }
    if (i == 1 && type != "RANGE") {
      return ApiError::Validation(
          "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type");
    }
    (i == 0 ? out->hash : out->range) = name;
  }
  if (out->hash == out->range) {
    return ApiError::Validation(
        "Invalid KeySchema: Both the Hash Key and the Range Key element in "
        "the KeySchema have the same name");
  }
  return std::nullopt;
}

// StreamSpecification of CreateTable / UpdateTable.
MaybeError ParseStreamSpecification(const json& spec, bool* enabled, std::string* view_type) {
  if (!spec.is_object()) return ApiError::Serialization("Unexpected StreamSpecification");
  const json* flag = Field(spec, "StreamEnabled");
  if (flag == nullptr) {
    return ApiError::Validation(
        "1 validation error detected: Value null at 'streamSpecification.streamEnabled' failed "
        "to satisfy constraint: Member must not be null");
  }
  if (!flag->is_boolean()) return ApiError::Serialization("Unexpected StreamEnabled");
  *enabled = flag->get<bool>();
  view_type->clear();
  TABLE_TRY(StringField(spec, "StreamViewType", view_type));
  if (!view_type->empty() && *view_type != "NEW_IMAGE" && *view_type != "OLD_IMAGE" &&
      *view_type != "NEW_AND_OLD_IMAGES" && *view_type != "KEYS_ONLY") {
    return ApiError::Validation(
        "1 validation error detected: Value '" + *view_type +
        "' at 'streamSpecification.streamViewType' failed to satisfy constraint: Member must "
        "satisfy enum value set: [NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES, KEYS_ONLY]");
  }
  if (*enabled && view_type->empty()) {
    return ApiError::Validation(
        "One or more parameter values were invalid: StreamViewType must be specified when "
        "StreamEnabled is true");
  }
  if (!*enabled && !view_type->empty()) {
    return ApiError::Validation(
        "One or more parameter values were invalid: Stream view type can only be specified "
        "when stream is enabled");
  }
  return std::nullopt;
}

MaybeError ParseThroughput(const json* spec, json* out) {
  if (!spec->is_object()) return ApiError::Serialization("Unexpected ProvisionedThroughput");
  const json* read = Field(*spec, "ReadCapacityUnits");
  const json* write = Field(*spec, "WriteCapacityUnits");
  if (read == nullptr || write == nullptr) {
    return ApiError::Validation(
        "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must "
        "both be specified when BillingMode is PROVISIONED");
  }
  if (!read->is_number_integer() || !write->is_number_integer()) {
    return ApiError::Serialization("Unexpected ProvisionedThroughput value");
  }
  for (const json* units : {read, write}) {
    if (units->get<int64_t>() < 1) {
      return ApiError::Validation(
          "1 validation error detected: Value '" + std::to_string(units->get<int64_t>()) +
          "' at 'provisionedThroughput." +
          std::string(units == read ? "readCapacityUnits" : "writeCapacityUnits") +
          "' failed to satisfy constraint: Member must have value greater than or equal to 1");
    }
  }
  *out = {{"ReadCapacityUnits", *read}, {"WriteCapacityUnits", *write}};
  return std::nullopt;
}

}  // namespace

MaybeError TableService::Impl::ParseIndex(const json& spec, bool global, const std::string& billing,
                                          TableMeta* table, IndexMeta* out) {
  if (!spec.is_object()) return ApiError::Serialization("Unexpected index");
  out->global = global;
  TABLE_TRY(StringField(spec, "IndexName", &out->name));
  TABLE_TRY(ValidateTableName(out->name, "IndexName"));
  TABLE_TRY(ParseKeySchema(Field(spec, "KeySchema"), "keySchema", &out->key));
  const json* projection = Field(spec, "Projection");
  if (projection == nullptr || !projection->is_object()) {
    return ApiError::Validation(
        "1 validation error detected: Value null at 'projection' failed "
        "to satisfy constraint: Member must not be null");
  }
  std::string type = "";
  TABLE_TRY(StringField(*projection, "ProjectionType", &type));
  if (type.empty()) type = "INCLUDE";
  if (type != "ALL" && type != "KEYS_ONLY" && type != "INCLUDE") {
    return ApiError::Validation("1 validation error detected: Value '" + type +
                                "' at 'projection.projectionType' failed to satisfy constraint: "
                                "Member must satisfy enum value set: [ALL, INCLUDE, KEYS_ONLY]");
  }
  out->projection_type = type;
  if (const json* non_key = Field(*projection, "NonKeyAttributes")) {
    if (type != "INCLUDE") {
      return ApiError::Validation("One or more parameter values were invalid: ProjectionType is " +
                                  type + ", but NonKeyAttributes is specified");
    }
    if (!non_key->is_array()) return ApiError::Serialization("Unexpected NonKeyAttributes");
    for (const auto& name : *non_key) {
      if (!name.is_string()) return ApiError::Serialization("Unexpected NonKeyAttributes");
      out->non_key_attributes.push_back(name.get<std::string>());
    }
  } else if (type == "INCLUDE") {
    return ApiError::Validation(
        "One or more parameter values were invalid: NonKeyAttributes must "
        "be specified when ProjectionType is INCLUDE");
  }
  if (!global) {
    if (table->key.range.empty()) {
      return ApiError::Validation(
          "One or more parameter values were invalid: Table KeySchema "
          "does not have a range key, which is required when specifying "
          "a LocalSecondaryIndex");
    }
    if (out->key.hash != table->key.hash || out->key.range.empty()) {
      return ApiError::Validation(
          "One or more parameter values were invalid: Index KeySchema "
          "does not have the same leading hash key as table KeySchema "
          "for index: " +
          out->name + ". index hash key: " + out->key.hash +
          ", table hash key: " + table->key.hash);
    }
  }
  const json* throughput = Field(spec, "ProvisionedThroughput");
  if (global && billing == "PROVISIONED") {
    if (throughput == nullptr) {
      return ApiError::Validation(
          "One or more parameter values were invalid: ProvisionedThroughput "
          "must be specified for index: " +
          out->name);
    }
    TABLE_TRY(ParseThroughput(throughput, &out->provisioned));
  } else if (throughput != nullptr && billing == "PAY_PER_REQUEST") {
    return ApiError::Validation(
        "One or more parameter values were invalid: ProvisionedThroughput "
        "should not be specified for index: " +
        out->name + " when BillingMode is PAY_PER_REQUEST");
  }
  return std::nullopt;
}

MaybeError TableService::Impl::CreateTable(json& request, json* response) {
  auto table = std::make_unique<TableMeta>();
  TABLE_TRY(StringField(request, "TableName", &table->name));
  TABLE_TRY(ValidateTableName(table->name));
  const json* definitions = Field(request, "AttributeDefinitions");
  if (definitions == nullptr) {
    return ApiError::Validation(
        "1 validation error detected: Value null at 'attributeDefinitions' "
        "failed to satisfy constraint: Member must not be null");
  }
  TABLE_TRY(ParseKeySchema(Field(request, "KeySchema"), "keySchema", &table->key));
  if (!definitions->is_array()) return ApiError::Serialization("Unexpected AttributeDefinitions");
  for (const auto& definition : *definitions) {
    if (!definition.is_object()) return ApiError::Serialization("Unexpected AttributeDefinitions");
    std::string name, type;
    TABLE_TRY(StringField(definition, "AttributeName", &name));
    TABLE_TRY(StringField(definition, "AttributeType", &type));
    if (type != "S" && type != "N" && type != "B") {
      return ApiError::Validation(
          "1 validation error detected: Value '" + type +
          "' at 'attributeDefinitions.1.member.attributeType' failed to "
          "satisfy constraint: Member must satisfy enum value set: [B, N, S]");
    }
    if (table->attribute_types.count(name)) {
      return ApiError::Validation("Cannot have two attributes with the same name");
    }
    table->attribute_types[name] = type;
  }
  std::string billing = "PROVISIONED";
  TABLE_TRY(StringField(request, "BillingMode", &billing));
  if (billing != "PROVISIONED" && billing != "PAY_PER_REQUEST") {
    return ApiError::Validation("1 validation error detected: Value '" + billing +
                                "' at 'billingMode' failed to satisfy constraint: Member must "
                                "satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]");
  }
  table->billing_mode = billing;
  const json* throughput = Field(request, "ProvisionedThroughput");
  if (billing == "PROVISIONED") {
    if (throughput == nullptr) {
      return ApiError::Validation(
          "One or more parameter values were invalid: ReadCapacityUnits "
          "and WriteCapacityUnits must both be specified when BillingMode "
          "is PROVISIONED");
    }
    TABLE_TRY(ParseThroughput(throughput, &table->provisioned));
  } else if (throughput != nullptr) {
    return ApiError::Validation(
        "One or more parameter values were invalid: Neither "
        "ReadCapacityUnits nor WriteCapacityUnits can be specified when "
        "BillingMode is PAY_PER_REQUEST");
  }
  std::set<std::string> used = {table->key.hash};
  if (!table->key.range.empty()) used.insert(table->key.range);
  std::set<std::string> index_names;
  for (const char* which : {"LocalSecondaryIndexes", "GlobalSecondaryIndexes"}) {
    const json* specs = Field(request, which);
    if (specs == nullptr) continue;
    bool global = which[0] == 'G';
    if (!specs->is_array()) return ApiError::Serialization("Unexpected indexes");
    if (specs->empty()) {
      return ApiError::Validation(
          std::string("One or more parameter values were invalid: List of ") + which + " is empty");
    }
    size_t limit = global ? 20 : 5;
    if (specs->size() > limit) {
      return ApiError::Validation(
          std::string("One or more parameter values were invalid: Number of ") + which +
          " exceeds per-table limit of " + std::to_string(limit));
    }
    for (const auto& spec : *specs) {
      IndexMeta index;
      TABLE_TRY(ParseIndex(spec, global, billing, table.get(), &index));
      if (!index_names.insert(index.name).second) {
        return ApiError::Validation(
            "One or more parameter values were invalid: Duplicate index "
            "name: " +
            index.name);
      }
      used.insert(index.key.hash);
      if (!index.key.range.empty()) used.insert(index.key.range);
      table->indexes.push_back(std::move(index));
    }
  }
  std::vector<std::string> missing;
  for (const auto& name : used) {
    if (!table->attribute_types.count(name)) missing.push_back(name);
  }
  if (!missing.empty() || used.size() != table->attribute_types.size()) {
    if (missing.empty() && Field(request, "GlobalSecondaryIndexes") == nullptr &&
        Field(request, "LocalSecondaryIndexes") == nullptr) {
      return ApiError::Validation(
          "One or more parameter values were invalid: Number of attributes "
          "in KeySchema does not exactly match number of attributes "
          "defined in AttributeDefinitions");
    }
    std::string keys, defined;
    for (const auto& name : used) keys += (keys.empty() ? "" : ", ") + name;
    for (const auto& [name, type] : table->attribute_types) {
      defined += (defined.empty() ? "" : ", ") + name;
    }
    if (missing.empty()) {
      return ApiError::Validation(
          "One or more parameter values were invalid: Some AttributeDefinitions "
          "are not used. AttributeDefinitions: [" +
          defined + "], keys used: [" + keys + "]");
    }
    return ApiError::Validation(
        "One or more parameter values were invalid: Some index key "
        "attributes are not defined in AttributeDefinitions. Keys: [" +
        keys + "], AttributeDefinitions: [" + defined + "]");
  }
  if (const json* tags = Field(request, "Tags")) {
    if (!tags->is_array()) return ApiError::Serialization("Unexpected Tags");
    for (const auto& tag : *tags) {
      if (!tag.is_object() || !tag.contains("Key") || !tag["Key"].is_string()) {
        return ApiError::Serialization("Unexpected Tag");
      }
      table->tags[tag["Key"].get<std::string>()] = tag.value("Value", "");
    }
  }
  bool stream_enabled = false;
  std::string stream_view_type;
  if (const json* spec = Field(request, "StreamSpecification")) {
    TABLE_TRY(ParseStreamSpecification(*spec, &stream_enabled, &stream_view_type));
  }
  if (storage->Find(table->name) != nullptr) {
    return ApiError::InUse("Table already exists: " + table->name);
  }
  table->id = NewUuid();
  table->created = static_cast<double>(NowUnixMillis()) / 1000.0;
  TableMeta* created = table.get();
  TABLE_TRY(storage->Create(std::move(table)));
  if (stream_enabled) {
    TABLE_TRY(EnableStream(*created, stream_view_type));
    TABLE_TRY(storage->SaveMeta(*created));
  }
  *response = {{"TableDescription", Describe(*created, "CREATING", false)}};
  return std::nullopt;
}

MaybeError TableService::Impl::DescribeTable(json& request, json* response) {
  std::string name;
  TABLE_TRY(StringField(request, "TableName", &name));
  TABLE_TRY(ValidateTableName(name));
  TableMeta* table = storage->Find(name);
  if (table == nullptr) {
    return ApiError::NotFound("Requested resource not found: Table: " + name + " not found");
  }
  *response = {{"Table", Describe(*table, "ACTIVE", true)}};
  return std::nullopt;
}

MaybeError TableService::Impl::ListTables(json& request, json* response) {
  int64_t limit = 100;
  if (const json* value = Field(request, "Limit")) {
    if (!value->is_number_integer()) return ApiError::Serialization("Unexpected Limit");
    limit = value->get<int64_t>();
    if (limit < 1 || limit > 100) {
      return ApiError::Validation(
          "1 validation error detected: Value '" + std::to_string(limit) +
          "' at 'limit' failed to satisfy constraint: Member must have "
          "value " +
          (limit < 1 ? "greater than or equal to 1" : "less than or equal to 100"));
    }
  }
  std::string start;
  TABLE_TRY(StringField(request, "ExclusiveStartTableName", &start));
  json names = json::array();
  std::string last;
  bool more = false;
  for (auto it = storage->tables().upper_bound(start); it != storage->tables().end(); ++it) {
    if (static_cast<int64_t>(names.size()) == limit) {
      more = true;
      break;
    }
    names.push_back(it->first);
    last = it->first;
  }
  *response = {{"TableNames", names}};
  if (more) (*response)["LastEvaluatedTableName"] = last;
  return std::nullopt;
}

MaybeError TableService::Impl::DeleteTable(json& request, json* response) {
  std::string name;
  TABLE_TRY(StringField(request, "TableName", &name));
  TABLE_TRY(ValidateTableName(name));
  TableMeta* table = storage->Find(name);
  if (table == nullptr) {
    return ApiError::NotFound("Requested resource not found: Table: " + name + " not found");
  }
  json description = Describe(*table, "DELETING", true);
  if (table->stream_enabled) TABLE_TRY(DisableStream(*table));
  TABLE_TRY(storage->Drop(name));
  *response = {{"TableDescription", description}};
  return std::nullopt;
}

MaybeError TableService::Impl::Backfill(TableMeta* table, IndexMeta* index) {
  rocksdb::WriteBatch batch;
  auto it = storage->NewIterator(table->family);
  // A temporary table view with only the new index, so AddWrite touches nothing else.
  TableMeta view;
  view.key = table->key;
  view.family = nullptr;
  view.indexes.push_back(*index);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto item = ParseStored(std::string_view(it->value().data(), it->value().size()));
    if (!item.is_object()) continue;
    AddWrite(view, it->key().ToString(), std::nullopt, item, &batch);
  }
  return storage->Write(&batch);
}

MaybeError TableService::Impl::UpdateTable(json& request, json* response) {
  TableMeta* table = nullptr;
  TABLE_TRY(FindTable(request, &table));
  TableMeta updated = *table;
  std::string billing = table->billing_mode;
  TABLE_TRY(StringField(request, "BillingMode", &billing));
  if (billing != "PROVISIONED" && billing != "PAY_PER_REQUEST") {
    return ApiError::Validation("1 validation error detected: Value '" + billing +
                                "' at 'billingMode' failed to satisfy constraint: Member must "
                                "satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]");
  }
  const json* throughput = Field(request, "ProvisionedThroughput");
  if (throughput != nullptr) {
    if (billing == "PAY_PER_REQUEST") {
      return ApiError::Validation(
          "One or more parameter values were invalid: Neither "
          "ReadCapacityUnits nor WriteCapacityUnits can be specified when "
          "BillingMode is PAY_PER_REQUEST");
    }
    TABLE_TRY(ParseThroughput(throughput, &updated.provisioned));
  } else if (billing == "PROVISIONED" && table->billing_mode == "PAY_PER_REQUEST") {
    return ApiError::Validation(
        "One or more parameter values were invalid: ProvisionedThroughput "
        "must be specified when BillingMode is PROVISIONED");
  }
  updated.billing_mode = billing;
  if (const json* definitions = Field(request, "AttributeDefinitions")) {
    if (!definitions->is_array()) return ApiError::Serialization("Unexpected AttributeDefinitions");
    for (const auto& definition : *definitions) {
      if (!definition.is_object())
        return ApiError::Serialization("Unexpected AttributeDefinitions");
      std::string name, type;
      TABLE_TRY(StringField(definition, "AttributeName", &name));
      TABLE_TRY(StringField(definition, "AttributeType", &type));
      updated.attribute_types[name] = type;
    }
  }
  std::optional<std::pair<bool, std::string>> stream_change;
  if (const json* spec = Field(request, "StreamSpecification")) {
    bool enabled = false;
    std::string view_type;
    TABLE_TRY(ParseStreamSpecification(*spec, &enabled, &view_type));
    if (enabled && table->stream_enabled) {
      return ApiError::Validation("Table already has an enabled stream: TableName: " +
                                  table->name);
    }
    if (!enabled && !table->stream_enabled) {
      return ApiError::Validation("Table does not have a stream to disable: TableName: " +
                                  table->name);
    }
    stream_change.emplace(enabled, view_type);
  }
  std::vector<IndexMeta> created;
  std::vector<std::string> deleted;
  if (const json* updates = Field(request, "GlobalSecondaryIndexUpdates")) {
    if (!updates->is_array())
      return ApiError::Serialization("Unexpected GlobalSecondaryIndexUpdates");
    for (const auto& update : *updates) {
      if (!update.is_object()) return ApiError::Serialization("Unexpected index update");
      if (const json* create = Field(update, "Create")) {
        IndexMeta index;
        TABLE_TRY(ParseIndex(*create, true, billing, &updated, &index));
        if (updated.FindIndex(index.name) != nullptr) {
          return ApiError::Validation(
              "One or more parameter values were invalid: Index with name " + index.name +
              " already exists");
        }
        for (const auto& name : {index.key.hash, index.key.range}) {
          if (!name.empty() && !updated.attribute_types.count(name)) {
            return ApiError::Validation(
                "One or more parameter values were invalid: Some index key "
                "attributes are not defined in AttributeDefinitions. "
                "Keys: [" +
                name + "]");
          }
        }
        created.push_back(index);
        updated.indexes.push_back(std::move(index));
      } else if (const json* remove = Field(update, "Delete")) {
        std::string name;
        TABLE_TRY(StringField(*remove, "IndexName", &name));
        auto it = std::find_if(
            updated.indexes.begin(), updated.indexes.end(),
            [&](const IndexMeta& index) { return index.name == name && index.global; });
        if (it == updated.indexes.end()) {
          return ApiError::NotFound("Requested resource not found: Index: " + name + " not found");
        }
        deleted.push_back(name);
        updated.indexes.erase(it);
      } else if (const json* change = Field(update, "Update")) {
        std::string name;
        TABLE_TRY(StringField(*change, "IndexName", &name));
        auto it = std::find_if(
            updated.indexes.begin(), updated.indexes.end(),
            [&](const IndexMeta& index) { return index.name == name && index.global; });
        if (it == updated.indexes.end()) {
          return ApiError::NotFound("Requested resource not found: Index: " + name + " not found");
        }
        if (const json* units = Field(*change, "ProvisionedThroughput")) {
          TABLE_TRY(ParseThroughput(units, &it->provisioned));
        }
      }
    }
  }
  if (std::count_if(updated.indexes.begin(), updated.indexes.end(),
                    [](const IndexMeta& index) { return index.global; }) > 20) {
    return ApiError::Validation(
        "One or more parameter values were invalid: GlobalSecondaryIndex "
        "count exceeds the per-table limit of 20");
  }
  // Apply: drop deleted index families, create and backfill new ones, then save.
  for (const auto& name : deleted) {
    for (auto& index : table->indexes) {
      if (index.name == name) TABLE_TRY(storage->DropIndexFamily(&index));
    }
  }
  for (auto& index : updated.indexes) {
    for (const auto& fresh : created) {
      if (fresh.name == index.name) {
        TABLE_TRY(storage->CreateIndexFamily(updated, &index));
        TABLE_TRY(Backfill(&updated, &index));
      }
    }
  }
  updated.family = table->family;
  *table = std::move(updated);
  ++generations[table->id];  // cached Query pages may name an index that changed
  if (stream_change) {
    if (stream_change->first) {
      TABLE_TRY(EnableStream(*table, stream_change->second));
    } else {
      TABLE_TRY(DisableStream(*table));
    }
  }
  TABLE_TRY(storage->SaveMeta(*table));
  *response = {{"TableDescription", Describe(*table, "ACTIVE", false)}};
  return std::nullopt;
}

MaybeError TableService::Impl::TableFromArn(const json& request, TableMeta** out) {
  std::string arn;
  TABLE_TRY(StringField(request, "ResourceArn", &arn));
  std::string prefix = "arn:aws:dynamodb:" + options.region + ":" + options.account + ":table/";
  if (!arn.starts_with("arn:aws:dynamodb:")) {
    return ApiError::Validation("Invalid TableArn: Invalid ResourceArn provided as input " + arn);
  }
  std::string name = arn.starts_with(prefix) ? arn.substr(prefix.size()) : "";
  *out = storage->Find(name);
  if (*out == nullptr) {
    return ApiError::NotFound("Requested resource not found: ResourcArn: " + arn + " not found");
  }
  return std::nullopt;
}

MaybeError TableService::Impl::TagResource(json& request, json* response) {
  TableMeta* table = nullptr;
  TABLE_TRY(TableFromArn(request, &table));
  const json* tags = Field(request, "Tags");
  if (tags == nullptr || !tags->is_array()) {
    return ApiError::Validation(
        "1 validation error detected: Value null at 'tags' failed to "
        "satisfy constraint: Member must not be null");
  }
  for (const auto& tag : *tags) {
    if (!tag.is_object() || !tag.contains("Key") || !tag["Key"].is_string()) {
      return ApiError::Serialization("Unexpected Tag");
    }
  }
  for (const auto& tag : *tags) table->tags[tag["Key"].get<std::string>()] = tag.value("Value", "");
  if (table->tags.size() > 50) {
    return ApiError::Validation(
        "One or more parameter values were invalid: The number of tags "
        "exceeds the limit of 50");
  }
  TABLE_TRY(storage->SaveMeta(*table));
  *response = json::object();
  return std::nullopt;
}

MaybeError TableService::Impl::UntagResource(json& request, json* response) {
  TableMeta* table = nullptr;
  TABLE_TRY(TableFromArn(request, &table));
  const json* keys = Field(request, "TagKeys");
  if (keys == nullptr || !keys->is_array()) {
    return ApiError::Validation(
        "1 validation error detected: Value null at 'tagKeys' failed to "
        "satisfy constraint: Member must not be null");
  }
  for (const auto& key : *keys) {
    if (key.is_string()) table->tags.erase(key.get<std::string>());
  }
  TABLE_TRY(storage->SaveMeta(*table));
  *response = json::object();
  return std::nullopt;
}

MaybeError TableService::Impl::ListTagsOfResource(json& request, json* response) {
  TableMeta* table = nullptr;
  TABLE_TRY(TableFromArn(request, &table));
  json tags = json::array();
  for (const auto& [key, value] : table->tags.items())
    tags.push_back({{"Key", key}, {"Value", value}});
  *response = {{"Tags", tags}};
  return std::nullopt;
}

// =============================================================================================
// Data plane.

namespace {

ApiError SchemaMismatch() {
  return ApiError::Validation("The provided key element does not match the schema");
}

std::optional<std::string> IndexKey(const IndexMeta& index, const std::optional<json>& item,
                                    const std::string& base_key) {
  if (!item) return std::nullopt;
  std::string out;
  for (const std::string* name : {&index.key.hash, &index.key.range}) {
    if (name->empty()) continue;
    auto it = item->find(*name);
    if (it == item->end()) return std::nullopt;
    const std::string& type = TypeOf(*it);
    if (type != "S" && type != "N" && type != "B") return std::nullopt;
    out += EncodeKeyValue(*it);
  }
  return out + base_key;
}

json IndexProjection(const TableMeta& table, const IndexMeta& index, const json& item) {
  if (index.projection_type == "ALL") return item;
  json out = json::object();
  auto copy = [&](const std::string& name) {
    if (name.empty()) return;
    auto it = item.find(name);
    if (it != item.end()) out[name] = *it;
  };
  copy(table.key.hash);
  copy(table.key.range);
  copy(index.key.hash);
  copy(index.key.range);
  for (const auto& name : index.non_key_attributes) copy(name);
  return out;
}

}  // namespace

MaybeError TableService::Impl::EncodeKey(const TableMeta& table, const json& key, bool from_item,
                                         std::string* out) {
  if (!key.is_object()) return ApiError::Serialization("Unexpected key");
  if (!from_item && key.size() != (table.key.range.empty() ? 1u : 2u)) return SchemaMismatch();
  out->clear();
  for (const std::string* name : {&table.key.hash, &table.key.range}) {
    if (name->empty()) continue;
    auto it = key.find(*name);
    if (it == key.end()) {
      if (from_item) {
        return ApiError::Validation("One or more parameter values were invalid: Missing the key " +
                                    *name + " in the item");
      }
      return SchemaMismatch();
    }
    const std::string& type = TypeOf(*it);
    const std::string& want = table.attribute_types.at(*name);
    if (type != want) {
      if (from_item) {
        return ApiError::Validation(
            "One or more parameter values were invalid: Type mismatch for "
            "key " +
            *name + " expected: " + want + " actual: " + type);
      }
      return SchemaMismatch();
    }
    size_t size = ValueSize(*it);
    if (size == 0 && type != "N") {
      return ApiError::Validation(
          "One or more parameter values are not valid. The AttributeValue for a key attribute "
          "cannot contain an empty " +
          std::string(type == "S" ? "string" : "binary") + " value. Key: " + *name);
    }
    if (name == &table.key.hash && size > kMaxHashKeySize) {
      return ApiError::Validation(
          "One or more parameter values were invalid: Size of hashkey has "
          "exceeded the maximum size limit of2048 bytes");
    }
    if (name == &table.key.range && size > kMaxRangeKeySize) {
      return ApiError::Validation(
          "One or more parameter values were invalid: Aggregated size of "
          "all range keys has exceeded the size limit of 1024 bytes");
    }
    *out += EncodeKeyValue(*it);
  }
  return std::nullopt;
}

MaybeError TableService::Impl::CheckIndexKeys(const TableMeta& table, const json& item) {
  for (const auto& index : table.indexes) {
    for (const std::string* name : {&index.key.hash, &index.key.range}) {
      if (name->empty() || *name == table.key.hash || *name == table.key.range) continue;
      auto it = item.find(*name);
      if (it == item.end()) continue;
      const std::string& type = TypeOf(*it);
      const std::string& want = table.attribute_types.at(*name);
      if (type != want) {
        return ApiError::Validation(
            "One or more parameter values were invalid: Type mismatch for "
            "Index Key " +
            *name + " Expected: " + want + " Actual: " + type + " IndexName: " + index.name);
      }
      if (ValueSize(*it) == 0 && type != "N") {
        return ApiError::Validation(
            "One or more parameter values are not valid. A value specified for a secondary index "
            "key is not supported. The AttributeValue for a key attribute cannot contain an "
            "empty " +
            std::string(type == "S" ? "string" : "binary") + " value. IndexName: " + index.name +
            ", IndexKey: " + *name);
      }
    }
  }
  return std::nullopt;
}

MaybeError TableService::Impl::ReadItem(TableMeta& table, const std::string& key,
                                        std::optional<json>* out) {
  size_t size = 0;
  return ReadItemSize(table, key, true, out, &size);
}

MaybeError TableService::Impl::ReadItemSize(TableMeta& table, const std::string& key, bool parse,
                                            std::optional<json>* out, size_t* size) {
  out->reset();
  *size = 0;
  std::optional<std::string> data;
  TABLE_TRY(storage->Get(table.family, key, &data));
  if (!data) return std::nullopt;
  std::string_view text;
  if (!DecodeStored(*data, size, &text)) return ApiError::Internal("Internal server error: corrupt item");
  if (!parse) return std::nullopt;
  auto item = ParseJson(text);
  if (!item.is_object()) return ApiError::Internal("Internal server error: corrupt item");
  *out = std::move(item);
  return std::nullopt;
}

void TableService::Impl::AddWrite(TableMeta& table, const std::string& key,
                                  const std::optional<json>& old_item,
                                  const std::optional<json>& new_item, rocksdb::WriteBatch* batch) {
  Invalidate(table, key);
  if (table.family != nullptr) {
    if (new_item) {
      batch->Put(table.family, key, EncodeStored(*new_item));
    } else if (old_item) {
      batch->Delete(table.family, key);
    }
  }
  for (const auto& index : table.indexes) {
    auto old_key = IndexKey(index, old_item, key);
    auto new_key = IndexKey(index, new_item, key);
    if (old_key && (!new_key || *old_key != *new_key)) batch->Delete(index.family, *old_key);
    if (new_key) {
      batch->Put(index.family, *new_key, EncodeStored(IndexProjection(table, index, *new_item)));
    }
  }
}

MaybeError TableService::Impl::PrepareWrite(const std::string& kind, json& request,
                                            PreparedWrite* out) {
  if (!request.is_object()) return ApiError::Serialization("Unexpected request");
  TABLE_TRY(FindTable(request, &out->table));
  TableMeta& table = *out->table;
  TABLE_TRY(CheckLegacyMix(request, {"Expected", "ConditionalOperator", "AttributeUpdates"},
                           {"ConditionExpression", "UpdateExpression"}));
  json item_or_key;
  if (kind == "Put") {
    json* item = request.contains("Item") ? &request["Item"] : nullptr;
    if (item == nullptr || item->is_null()) {
      return ApiError::Validation(
          "1 validation error detected: Value null at 'item' failed to "
          "satisfy constraint: Member must not be null");
    }
    TABLE_TRY(ValidateItem(*item));
    TABLE_TRY(EncodeKey(table, *item, true, &out->key));
    TABLE_TRY(CheckIndexKeys(table, *item));
    if (ItemSize(*item) > kMaxItemSize) {
      return ApiError::Validation("Item size has exceeded the maximum allowed size");
    }
    out->new_item = *item;
  } else {
    json* key = request.contains("Key") ? &request["Key"] : nullptr;
    if (key == nullptr || key->is_null()) {
      return ApiError::Validation(
          "1 validation error detected: Value null at 'key' failed to "
          "satisfy constraint: Member must not be null");
    }
    TABLE_TRY(ValidateItem(*key));
    TABLE_TRY(EncodeKey(table, *key, false, &out->key));
    item_or_key = *key;
  }
  const json* condition_text = Field(request, "ConditionExpression");
  const json* update_text = kind == "Update" ? Field(request, "UpdateExpression") : nullptr;
  if (kind == "ConditionCheck" && condition_text == nullptr) {
    return ApiError::Validation(
        "1 validation error detected: Value null at 'conditionExpression' "
        "failed to satisfy constraint: Member must not be null");
  }
  const json* names = nullptr;
  const json* values = nullptr;
  TABLE_TRY(ExpressionTables(request, condition_text || update_text, &names, &values));
  ExpressionContext context(names, values);
  std::optional<Condition> condition;
  if (condition_text) {
    if (!condition_text->is_string())
      return ApiError::Serialization("Unexpected ConditionExpression");
    condition.emplace();
    TABLE_TRY(ParseCondition(condition_text->get<std::string>(), "ConditionExpression", context,
                             &*condition));
  }
  std::vector<UpdateAction> actions;
  if (update_text) {
    if (!update_text->is_string()) return ApiError::Serialization("Unexpected UpdateExpression");
    TABLE_TRY(ParseUpdate(update_text->get<std::string>(), context, &actions));
    for (const auto& action : actions) {
      const std::string& top = action.path[0].name;
      if (top == table.key.hash || top == table.key.range) {
        return ApiError::Validation(
            "One or more parameter values were invalid: Cannot update "
            "attribute " +
            top + ". This attribute is part of the key");
      }
      out->updated_paths.push_back(action.path);
    }
  }
  TABLE_TRY(context.CheckUnused());
  if (request.contains("Expected") && !request["Expected"].is_null()) {
    TABLE_TRY(LegacyCondition(request["Expected"], request, &condition));
  }
  if (kind == "Update" && request.contains("AttributeUpdates") &&
      !request["AttributeUpdates"].is_null()) {
    TABLE_TRY(LegacyUpdates(request["AttributeUpdates"], &actions));
    for (const auto& action : actions) {
      const std::string& top = action.path[0].name;
      if (top == table.key.hash || top == table.key.range) {
        return ApiError::Validation(
            "One or more parameter values were invalid: Cannot update "
            "attribute " +
            top + ". This attribute is part of the key");
      }
      out->updated_paths.push_back(action.path);
    }
  }
  TABLE_TRY(StringField(request, "ReturnValues", &out->return_values));
  if (kind == "Update") {
    static const std::set<std::string> kAll = {"NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW",
                                               "UPDATED_NEW"};
    if (!kAll.count(out->return_values)) {
      return ApiError::Validation("1 validation error detected: Value '" + out->return_values +
                                  "' at 'returnValues' failed to satisfy constraint: Member must "
                                  "satisfy enum value set: [ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, "
                                  "UPDATED_NEW]");
    }
  } else if (out->return_values != "NONE" && out->return_values != "ALL_OLD") {
    return ApiError::Validation("ReturnValues can only be ALL_OLD or NONE");
  }
  TABLE_TRY(StringField(request, "ReturnValuesOnConditionCheckFailure", &out->return_on_failure));
  if (out->return_on_failure != "NONE" && out->return_on_failure != "ALL_OLD") {
    return ApiError::Validation("1 validation error detected: Value '" + out->return_on_failure +
                                "' at 'returnValuesOnConditionCheckFailure' failed to satisfy "
                                "constraint: Member must satisfy enum value set: [ALL_OLD, NONE]");
  }
  TABLE_TRY(StringField(request, "ReturnConsumedCapacity", &out->capacity_mode));
  // A plain PutItem (no condition, no old values asked back, no index, stream or point-in-time
  // log to maintain) needs only the old item's size, for the capacity it consumes: the item
  // itself is not parsed.
  bool need_old = kind != "Put" || condition || out->return_values != "NONE" ||
                  !table.indexes.empty() || table.stream_enabled || table.pitr_since_ms != 0;
  TABLE_TRY(ReadItemSize(table, out->key, need_old, &out->old_item, &out->old_size));
  if (condition) {
    static const json kEmpty = json::object();
    if (!EvaluateCondition(*condition, out->old_item ? *out->old_item : kEmpty)) {
      out->condition_failed = true;
      return std::nullopt;
    }
  }
  if (kind == "Delete") {
    out->new_item.reset();
  } else if (kind == "ConditionCheck") {
    out->writes = false;
  } else if (kind == "Update") {
    json item = out->old_item ? *out->old_item : item_or_key;
    TABLE_TRY(ApplyUpdate(actions, &item));
    if (ItemSize(item) > kMaxItemSize) {
      return ApiError::Validation("Item size to update has exceeded the maximum allowed size");
    }
    TABLE_TRY(CheckIndexKeys(table, item));
    out->new_item = std::move(item);
  }
  return std::nullopt;
}

ApiError TableService::Impl::ConditionFailure(const PreparedWrite& write) {
  ApiError error = ApiError::ConditionFailed();
  if (write.return_on_failure == "ALL_OLD" && write.old_item) error.extra["Item"] = *write.old_item;
  return error;
}

json TableService::Impl::WriteResponse(const PreparedWrite& write) {
  json response = json::object();
  const std::string& mode = write.return_values;
  if (mode == "ALL_OLD" && write.old_item) {
    response["Attributes"] = *write.old_item;
  } else if (mode == "ALL_NEW" && write.new_item) {
    response["Attributes"] = *write.new_item;
  } else if ((mode == "UPDATED_OLD" && write.old_item) ||
             (mode == "UPDATED_NEW" && write.new_item)) {
    json attributes =
        ProjectItem(mode == "UPDATED_OLD" ? *write.old_item : *write.new_item, write.updated_paths);
    if (!attributes.empty()) response["Attributes"] = std::move(attributes);
  }
  if (write.capacity_mode == "TOTAL" || write.capacity_mode == "INDEXES") {
    size_t bytes = std::max(write.old_size,
                            write.new_item ? ItemSize(*write.new_item) : 0);
    double table_units = WriteUnits(bytes);
    json capacity = Capacity(*write.table, table_units, write.capacity_mode);
    if (write.capacity_mode == "INDEXES") {
      // Each index entry written or removed costs its own units, as on DynamoDB; a changed
      // index key costs a delete and a put.
      double total = table_units;
      for (const auto& index : write.table->indexes) {
        auto old_key = IndexKey(index, write.old_item, write.key);
        auto new_key = IndexKey(index, write.new_item, write.key);
        if (!old_key && !new_key) continue;
        double old_units =
            old_key ? WriteUnits(ItemSize(IndexProjection(*write.table, index, *write.old_item)))
                    : 0;
        double new_units =
            new_key ? WriteUnits(ItemSize(IndexProjection(*write.table, index, *write.new_item)))
                    : 0;
        double units = old_key && new_key && *old_key == *new_key ? std::max(old_units, new_units)
                                                                  : old_units + new_units;
        total += units;
        capacity[index.global ? "GlobalSecondaryIndexes" : "LocalSecondaryIndexes"][index.name] = {
            {"CapacityUnits", units}};
      }
      capacity["CapacityUnits"] = total;
    }
    response["ConsumedCapacity"] = capacity;
  }
  return response;
}

MaybeError TableService::Impl::SingleWrite(const std::string& kind, json& request, json* response) {
  PreparedWrite write;
  TABLE_TRY(PrepareWrite(kind, request, &write));
  TABLE_TRY(CheckThroughput(*write.table, true));
  size_t bytes = std::max(write.old_size,
                          write.new_item ? ItemSize(*write.new_item) : 0);
  // A failed condition still consumes write capacity, as on DynamoDB.
  Charge(*write.table, true, WriteUnits(bytes));
  if (write.condition_failed) return ConditionFailure(write);
  rocksdb::WriteBatch batch;
  AddChange(*write.table, write.key, write.old_item, write.new_item, &batch);
  TABLE_TRY(storage->Write(&batch));
  *response = WriteResponse(write);
  return std::nullopt;
}

MaybeError TableService::Impl::GetItem(json& request, json* response) {
  TableMeta* table = nullptr;
  TABLE_TRY(FindTable(request, &table));
  TABLE_TRY(CheckLegacyMix(request, {"AttributesToGet"}, {"ProjectionExpression"}));
  json* key = request.contains("Key") ? &request["Key"] : nullptr;
  if (key == nullptr || key->is_null()) {
    return ApiError::Validation(
        "1 validation error detected: Value null at 'key' failed to "
        "satisfy constraint: Member must not be null");
  }
  TABLE_TRY(ValidateItem(*key));
  std::string encoded;
  TABLE_TRY(EncodeKey(*table, *key, false, &encoded));
  const json* names = nullptr;
  const json* values = nullptr;
  TABLE_TRY(ExpressionTables(request, Field(request, "ProjectionExpression") != nullptr, &names,
                             &values));
  if (values != nullptr) {
    return ApiError::Validation(
        "ExpressionAttributeValues can only be specified when using "
        "expressions: ProjectionExpression");
  }
  ExpressionContext context(names, values);
  std::vector<Path> paths;
  TABLE_TRY(ProjectionPaths(request, context, &paths));
  TABLE_TRY(context.CheckUnused());
  bool consistent = false;
  if (const json* value = Field(request, "ConsistentRead")) {
    if (!value->is_boolean()) return ApiError::Serialization("Unexpected ConsistentRead");
    consistent = value->get<bool>();
  }
  std::string capacity_mode = "NONE";
  TABLE_TRY(StringField(request, "ReturnConsumedCapacity", &capacity_mode));
  TABLE_TRY(CheckThroughput(*table, false));
  if (paths.empty() && capacity_mode == "NONE") {
    std::optional<std::string> data;
    TABLE_TRY(GetStored(*table, encoded, consistent, &data));
    size_t size = 0;
    std::string_view text;
    if (data && !DecodeStored(*data, &size, &text)) {
      return ApiError::Internal("Internal server error: corrupt item");
    }
    Charge(*table, false, ReadUnits(size, consistent));
    raw_response = data ? "{\"Item\":" + std::string(text) + "}" : "{}";
    return std::nullopt;
  }
  std::optional<json> item;
  {
    std::optional<std::string> data;
    TABLE_TRY(GetStored(*table, encoded, consistent, &data));
    if (data) {
      item = ParseStored(*data);
      if (!item->is_object()) return ApiError::Internal("Internal server error: corrupt item");
    }
  }
  *response = json::object();
  if (item) (*response)["Item"] = paths.empty() ? *item : ProjectItem(*item, paths);
  Charge(*table, false, ReadUnits(item ? ItemSize(*item) : 0, consistent));
  if (capacity_mode == "TOTAL" || capacity_mode == "INDEXES") {
    (*response)["ConsumedCapacity"] =
        Capacity(*table, ReadUnits(item ? ItemSize(*item) : 0, consistent), capacity_mode);
  }
  return std::nullopt;
}

namespace {

struct KeyRange {
  std::string lower;  // inclusive
  std::string upper;  // exclusive; empty: no bound
};

// Turns a parsed KeyConditionExpression into a range over encoded keys.
MaybeError KeyConditionRange(const Condition& condition, const KeySchema& key,
                             const std::map<std::string, std::string>& types, KeyRange* out) {
  std::vector<const Condition*> parts;
  std::function<MaybeError(const Condition&)> flatten = [&](const Condition& node) -> MaybeError {
    if (node.kind == Condition::Kind::kAnd) {
      TABLE_TRY(flatten(node.children[0]));
      return flatten(node.children[1]);
    }
    if (node.kind == Condition::Kind::kOr || node.kind == Condition::Kind::kNot ||
        node.kind == Condition::Kind::kIn) {
      std::string op = node.kind == Condition::Kind::kOr    ? "OR"
                       : node.kind == Condition::Kind::kNot ? "NOT"
                                                            : "IN";
      return ApiError::Validation("Invalid operator used in KeyConditionExpression: " + op);
    }
    if (node.kind == Condition::Kind::kFunction && node.op != "begins_with") {
      return ApiError::Validation("Invalid operator used in KeyConditionExpression: " + node.op);
    }
    if (node.kind == Condition::Kind::kCompare && node.op == "<>") {
      return ApiError::Validation("Invalid operator used in KeyConditionExpression: <>");
    }
    parts.push_back(&node);
    return std::nullopt;
  };
  TABLE_TRY(flatten(condition));
  if (parts.size() > 2) return ApiError::Validation("Conditions can be of length 1 or 2 only");
  const Condition* hash = nullptr;
  const Condition* range = nullptr;
  for (const Condition* part : parts) {
    const Operand& subject = part->operands[0];
    if (subject.kind != Operand::Kind::kPath || subject.path.size() != 1 ||
        subject.path[0].index >= 0) {
      return ApiError::Validation("Invalid condition in KeyConditionExpression: " +
                                  std::string("the left operand must be a key attribute name"));
    }
    for (size_t i = 1; i < part->operands.size(); ++i) {
      if (part->operands[i].kind != Operand::Kind::kValue) {
        return ApiError::Validation(
            "Invalid condition in KeyConditionExpression: " +
            std::string("comparisons must be with expression attribute values"));
      }
    }
    const std::string& name = subject.path[0].name;
    if (name == key.hash) {
      if (part->kind != Condition::Kind::kCompare || part->op != "=") {
        return ApiError::Validation("Query key condition not supported");
      }
      if (hash)
        return ApiError::Validation(
            "KeyConditionExpressions must only contain one condition per key");
      hash = part;
    } else if (!key.range.empty() && name == key.range) {
      if (range)
        return ApiError::Validation(
            "KeyConditionExpressions must only contain one condition per key");
      range = part;
    } else {
      return ApiError::Validation("Query condition missed key schema element: " +
                                  (hash || name == key.range ? key.range : key.hash));
    }
    const std::string& want = types.at(name);
    for (size_t i = 1; i < part->operands.size(); ++i) {
      if (TypeOf(part->operands[i].value) != want) {
        return ApiError::Validation(
            "One or more parameter values were invalid: Condition "
            "parameter type does not match schema type");
      }
    }
  }
  if (hash == nullptr) {
    return ApiError::Validation("Query condition missed key schema element: " + key.hash);
  }
  std::string prefix = EncodeKeyValue(hash->operands[1].value);
  out->lower = prefix;
  out->upper = PrefixSuccessor(prefix);
  if (range != nullptr) {
    const json& v = range->operands[1].value;
    std::string at = prefix + EncodeKeyValue(v);
    if (range->kind == Condition::Kind::kBetween) {
      out->lower = at;
      out->upper = PrefixSuccessor(prefix + EncodeKeyValue(range->operands[2].value));
    } else if (range->kind == Condition::Kind::kFunction) {
      if (TypeOf(v) == "N") {
        return ApiError::Validation(
            "Invalid KeyConditionExpression: Incorrect operand type for "
            "operator or function; operator or function: begins_with, "
            "operand type: N");
      }
      out->lower = prefix + EncodeKeyPrefix(v);
      out->upper = PrefixSuccessor(out->lower);
    } else if (range->op == "=") {
      out->lower = at;
      out->upper = PrefixSuccessor(at);
    } else if (range->op == "<") {
      out->upper = at;
    } else if (range->op == "<=") {
      out->upper = PrefixSuccessor(at);
    } else if (range->op == ">") {
      out->lower = PrefixSuccessor(at);
    } else if (range->op == ">=") {
      out->lower = at;
    }
  }
  return std::nullopt;
}

}  // namespace

MaybeError TableService::Impl::QueryOrScan(bool query, json& request, json* response) {
  TableMeta* table = nullptr;
  TABLE_TRY(FindTable(request, &table));
  TABLE_TRY(CheckLegacyMix(
      request,
      {"KeyConditions", "QueryFilter", "ScanFilter", "ConditionalOperator", "AttributesToGet"},
      {"KeyConditionExpression", "FilterExpression", "ProjectionExpression"}));
  const IndexMeta* index = nullptr;
  std::string index_name;
  TABLE_TRY(StringField(request, "IndexName", &index_name));
  if (Field(request, "IndexName")) {
    index = table->FindIndex(index_name);
    if (index == nullptr) {
      return ApiError::Validation("The table does not have the specified index: " + index_name);
    }
  }
  const KeySchema& key = index ? index->key : table->key;
  rocksdb::ColumnFamilyHandle* family = index ? index->family : table->family;
  bool consistent = false;
  if (const json* value = Field(request, "ConsistentRead")) {
    if (!value->is_boolean()) return ApiError::Serialization("Unexpected ConsistentRead");
    consistent = value->get<bool>();
    if (consistent && index && index->global) {
      return ApiError::Validation("Consistent reads are not supported on global secondary indexes");
    }
  }
  const json* key_text = query ? Field(request, "KeyConditionExpression") : nullptr;
  const json* filter_text = Field(request, "FilterExpression");
  const json* projection_text = Field(request, "ProjectionExpression");
  bool legacy_keys =
      query && request.contains("KeyConditions") && !request["KeyConditions"].is_null();
  if (query && key_text == nullptr && !legacy_keys) {
    return ApiError::Validation(
        "Either the KeyConditions or KeyConditionExpression parameter "
        "must be specified in the request.");
  }
  const json* names = nullptr;
  const json* values = nullptr;
  TABLE_TRY(ExpressionTables(request, key_text || filter_text || projection_text, &names, &values));
  ExpressionContext context(names, values);
  KeyRange range;
  if (key_text) {
    if (!key_text->is_string()) return ApiError::Serialization("Unexpected KeyConditionExpression");
    Condition condition;
    TABLE_TRY(ParseCondition(key_text->get<std::string>(), "KeyConditionExpression", context,
                             &condition));
    TABLE_TRY(KeyConditionRange(condition, key, table->attribute_types, &range));
  }
  std::optional<Condition> filter;
  if (filter_text) {
    if (!filter_text->is_string()) return ApiError::Serialization("Unexpected FilterExpression");
    filter.emplace();
    TABLE_TRY(
        ParseCondition(filter_text->get<std::string>(), "FilterExpression", context, &*filter));
    std::function<MaybeError(const Condition&)> no_keys = [&](const Condition& node) -> MaybeError {
      if (query && node.kind != Condition::Kind::kAnd && node.kind != Condition::Kind::kOr &&
          node.kind != Condition::Kind::kNot) {
        for (const auto& operand : node.operands) {
          if (operand.kind == Operand::Kind::kPath && operand.path.size() == 1 &&
              (operand.path[0].name == key.hash || operand.path[0].name == key.range)) {
            return ApiError::Validation(
                "Filter Expression can only contain non-primary key "
                "attributes: Primary key attribute: " +
                operand.path[0].name);
          }
        }
      }
      for (const auto& child : node.children) TABLE_TRY(no_keys(child));
      return std::nullopt;
    };
    TABLE_TRY(no_keys(*filter));
  }
  std::vector<Path> paths;
  TABLE_TRY(ProjectionPaths(request, context, &paths));
  TABLE_TRY(context.CheckUnused());
  if (legacy_keys) {
    std::optional<Condition> condition;
    json no_joiner = json::object();  // KeyConditions are always ANDed
    TABLE_TRY(LegacyCondition(request["KeyConditions"], no_joiner, &condition));
    if (!condition) {
      return ApiError::Validation("Query condition missed key schema element: " + key.hash);
    }
    TABLE_TRY(KeyConditionRange(*condition, key, table->attribute_types, &range));
  }
  const char* legacy_filter = query ? "QueryFilter" : "ScanFilter";
  if (request.contains(legacy_filter) && !request[legacy_filter].is_null()) {
    TABLE_TRY(LegacyCondition(request[legacy_filter], request, &filter));
  }

  std::string select;
  TABLE_TRY(StringField(request, "Select", &select));
  bool has_projection = !paths.empty();
  if (select.empty()) {
    select = has_projection ? "SPECIFIC_ATTRIBUTES"
             : index        ? "ALL_PROJECTED_ATTRIBUTES"
                            : "ALL_ATTRIBUTES";
  } else if (select != "ALL_ATTRIBUTES" && select != "ALL_PROJECTED_ATTRIBUTES" &&
             select != "SPECIFIC_ATTRIBUTES" && select != "COUNT") {
    return ApiError::Validation("1 validation error detected: Value '" + select +
                                "' at 'select' failed to satisfy constraint: Member must satisfy "
                                "enum value set: [SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, "
                                "ALL_PROJECTED_ATTRIBUTES]");
  } else if (has_projection && select != "SPECIFIC_ATTRIBUTES") {
    return ApiError::Validation(
        "One or more parameter values were invalid: Cannot specify the "
        "AttributesToGet or ProjectionExpression when choosing to get " +
        select);
  } else if (select == "SPECIFIC_ATTRIBUTES" && !has_projection) {
    return ApiError::Validation(
        "One or more parameter values were invalid: SPECIFIC_ATTRIBUTES "
        "requires AttributesToGet or ProjectionExpression");
  }
  if (select == "ALL_PROJECTED_ATTRIBUTES" && index == nullptr) {
    return ApiError::Validation(
        "One or more parameter values were invalid: "
        "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an "
        "IndexName");
  }
  if (select == "ALL_ATTRIBUTES" && index && index->global && index->projection_type != "ALL") {
    return ApiError::Validation(
        "One or more parameter values were invalid: Select type "
        "ALL_ATTRIBUTES is not supported for global secondary index " +
        index->name + " because its projection type is not ALL");
  }
  // An LSI answers attributes outside its projection by reading the table, as DynamoDB does.
  bool fetch_base = index && !index->global && index->projection_type != "ALL" &&
                    (select == "ALL_ATTRIBUTES" || has_projection);

  int64_t limit = 0;
  if (const json* value = Field(request, "Limit")) {
    if (!value->is_number_integer()) return ApiError::Serialization("Unexpected Limit");
    limit = value->get<int64_t>();
    if (limit < 1) {
      return ApiError::Validation("1 validation error detected: Value '" + std::to_string(limit) +
                                  "' at 'limit' failed to satisfy constraint: Member must have "
                                  "value greater than or equal to 1");
    }
  }
  bool forward = true;
  if (const json* value = Field(request, "ScanIndexForward")) {
    if (!value->is_boolean()) return ApiError::Serialization("Unexpected ScanIndexForward");
    forward = value->get<bool>();
  }
  int64_t segment = -1, total_segments = -1;
  if (!query) {
    const json* s = Field(request, "Segment");
    const json* t = Field(request, "TotalSegments");
    if ((s && !s->is_number_integer()) || (t && !t->is_number_integer())) {
      return ApiError::Serialization("Unexpected Segment");
    }
    if (s && !t) {
      return ApiError::Validation(
          "The TotalSegments parameter is required but was not present in "
          "the request when Segment parameter is present");
    }
    if (t && !s) {
      return ApiError::Validation(
          "The Segment parameter is required but was not present in the "
          "request when parameter TotalSegments is present");
    }
    if (s && t) {
      segment = s->get<int64_t>();
      total_segments = t->get<int64_t>();
      if (total_segments < 1 || total_segments > 1000000) {
        return ApiError::Validation("1 validation error detected: Value '" +
                                    std::to_string(total_segments) +
                                    "' at 'totalSegments' failed "
                                    "to satisfy constraint: Member must have value less than or "
                                    "equal to 1000000");
      }
      if (segment < 0 || segment >= total_segments) {
        return ApiError::Validation(
            "The Segment parameter is zero-based and must be less than "
            "parameter TotalSegments: Segment: " +
            std::to_string(segment) +
            " is not less than TotalSegments: " + std::to_string(total_segments));
      }
    }
  }
  std::optional<std::string> start;
  if (request.contains("ExclusiveStartKey") && !request["ExclusiveStartKey"].is_null()) {
    json& start_key = request["ExclusiveStartKey"];
    TABLE_TRY(ValidateItem(start_key));
    std::string base;
    auto invalid = ApiError::Validation(
        "The provided starting key is invalid: The provided key "
        "element does not match the schema");
    size_t expected = 0;
    std::set<std::string> key_names = {table->key.hash};
    if (!table->key.range.empty()) key_names.insert(table->key.range);
    if (index) {
      key_names.insert(index->key.hash);
      if (!index->key.range.empty()) key_names.insert(index->key.range);
    }
    expected = key_names.size();
    if (start_key.size() != expected) return invalid;
    json table_key = json::object();
    for (const std::string* name : {&table->key.hash, &table->key.range}) {
      if (!name->empty() && start_key.contains(*name)) table_key[*name] = start_key[*name];
    }
    if (EncodeKey(*table, table_key, false, &base)) return invalid;
    if (index) {
      auto full = IndexKey(*index, start_key, base);
      if (!full) return invalid;
      start = *full;
    } else {
      start = base;
    }
    if (query && (start->compare(range.lower) < 0 ||
                  (!range.upper.empty() && start->compare(range.upper) >= 0))) {
      return ApiError::Validation(
          "The provided starting key is outside query boundaries based "
          "on provided conditions");
    }
  }
  std::string capacity_mode = "NONE";
  TABLE_TRY(StringField(request, "ReturnConsumedCapacity", &capacity_mode));
  TABLE_TRY(CheckThroughput(*table, false));

  auto it = storage->NewIterator(family);
  auto in_range = [&] {
    if (!it->Valid()) return false;
    rocksdb::Slice k = it->key();
    if (k.compare(rocksdb::Slice(range.lower)) < 0) return false;
    if (!range.upper.empty() && k.compare(rocksdb::Slice(range.upper)) >= 0) return false;
    return true;
  };
  if (forward) {
    if (start) {
      it->Seek(*start);
      if (it->Valid() && it->key() == rocksdb::Slice(*start)) it->Next();
    } else {
      it->Seek(range.lower);
    }
  } else {
    if (start) {
      it->SeekForPrev(*start);
      if (it->Valid() && it->key() == rocksdb::Slice(*start)) it->Prev();
    } else if (range.upper.empty()) {
      it->SeekToLast();
    } else {
      it->SeekForPrev(range.upper);
      if (it->Valid() && it->key().compare(rocksdb::Slice(range.upper)) >= 0) it->Prev();
    }
  }
  json items = json::array();
  // Without filter, projection, segments or base-table reads, items go to the answer as stored
  // text, unparsed.
  bool splice = !filter && paths.empty() && !fetch_base && total_segments < 0;
  std::string spliced;
  std::string last_text;
  int64_t count = 0, scanned = 0;
  size_t bytes = 0;
  std::optional<json> last;
  bool more = false;
  for (; in_range(); forward ? it->Next() : it->Prev()) {
    if (limit > 0 && scanned >= limit) {
      more = true;
      break;
    }
    if (bytes >= kPageLimitBytes) {
      more = true;
      break;
    }
    size_t item_size = 0;
    std::string_view text;
    if (!DecodeStored(std::string_view(it->value().data(), it->value().size()), &item_size,
                      &text)) {
      continue;
    }
    if (splice) {
      ++scanned;
      ++count;
      bytes += item_size;
      last_text.assign(text.data(), text.size());
      if (select != "COUNT") {
        if (!spliced.empty()) spliced.push_back(',');
        spliced.append(text.data(), text.size());
      }
      continue;
    }
    auto item = json::parse(text, nullptr, false);
    if (!item.is_object()) continue;
    if (total_segments > 0) {
      auto h = item.find(key.hash);
      if (h == item.end()) continue;
      if (static_cast<int64_t>(Fnv1a(EncodeKeyValue(*h)) % static_cast<uint64_t>(total_segments)) !=
          segment) {
        continue;
      }
    }
    ++scanned;
    bytes += item_size;
    last = item;
    if (fetch_base) {
      std::string base;
      json table_key = json::object();
      for (const std::string* name : {&table->key.hash, &table->key.range}) {
        if (!name->empty() && item.contains(*name)) table_key[*name] = item[*name];
      }
      std::optional<json> full;
      if (!EncodeKey(*table, table_key, false, &base)) TABLE_TRY(ReadItem(*table, base, &full));
      if (full) item = std::move(*full);
    }
    if (filter && !EvaluateCondition(*filter, item)) continue;
    ++count;
    if (select != "COUNT")
      items.push_back(paths.empty() ? std::move(item) : ProjectItem(item, paths));
  }
  Charge(*table, false, ReadUnits(bytes, consistent));
  if (splice && !last_text.empty()) last = json::parse(last_text, nullptr, false);
  // DynamoDB reports a LastEvaluatedKey whenever it stopped at the Limit or the page size.
  if (!more && limit > 0 && scanned >= limit && last) more = true;
  *response = {{"Count", count}, {"ScannedCount", scanned}};
  if (select != "COUNT") (*response)["Items"] = std::move(items);
  if (more && last) {
    json last_key = json::object();
    for (const std::string* name : std::initializer_list<const std::string*>{
             &table->key.hash, &table->key.range, &key.hash, &key.range}) {
      if (!name->empty() && last->contains(*name)) last_key[*name] = (*last)[*name];
    }
    (*response)["LastEvaluatedKey"] = last_key;
  }
  if (capacity_mode == "TOTAL" || capacity_mode == "INDEXES") {
    json capacity = Capacity(*table, ReadUnits(bytes, consistent), capacity_mode);
    if (capacity_mode == "INDEXES" && index) {
      capacity.erase("Table");
      capacity["Table"] = {{"CapacityUnits", 0.0}};
      capacity[index->global ? "GlobalSecondaryIndexes" : "LocalSecondaryIndexes"] = {
          {index->name, {{"CapacityUnits", ReadUnits(bytes, consistent)}}}};
    }
    (*response)["ConsumedCapacity"] = capacity;
  }
  if (splice && select != "COUNT") {
    response->erase("Items");
    std::string rest = Dump(*response);  // "{...}", never empty: Count is always there
    raw_response = "{\"Items\":[" + spliced + "]," + rest.substr(1);
  }
  return std::nullopt;
}

MaybeError TableService::Impl::BatchGetItem(json& request, json* response) {
  const json* items = Field(request, "RequestItems");
  if (items == nullptr || !items->is_object() || items->empty()) {
    return ApiError::Validation(
        "1 validation error detected: Value null at 'requestItems' failed "
        "to satisfy constraint: Member must not be null");
  }
  size_t total = 0;
  for (const auto& [name, spec] : items->items()) {
    if (!spec.is_object() || !spec.contains("Keys") || !spec["Keys"].is_array()) {
      return ApiError::Serialization("Unexpected RequestItems");
    }
    total += spec["Keys"].size();
  }
  if (total > 100)
    return ApiError::Validation("Too many items requested for the BatchGetItem call");
  json responses = json::object();
  std::string capacity_mode = "NONE";
  TABLE_TRY(StringField(request, "ReturnConsumedCapacity", &capacity_mode));
  json capacities = json::array();
  // Validate everything first, then read.
  struct Plan {
    TableMeta* table;
    std::vector<std::string> keys;
    std::vector<Path> paths;
    bool consistent = false;
    std::string name;
    json spec;
  };
  std::vector<Plan> plans;
  json& mutable_items = request["RequestItems"];
  for (auto& [name, spec] : mutable_items.items()) {
    Plan plan;
    json lookup = {{"TableName", name}};
    TABLE_TRY(FindTable(lookup, &plan.table));
    TABLE_TRY(CheckLegacyMix(spec, {"AttributesToGet"}, {"ProjectionExpression"}));
    if (spec["Keys"].empty()) {
      return ApiError::Validation(
          "1 validation error detected: Value '[]' at "
          "'requestItems." +
          name +
          ".member.keys' failed to satisfy "
          "constraint: Member must have length greater than or equal to 1");
    }
    std::set<std::string> seen;
    for (auto& key : spec["Keys"]) {
      TABLE_TRY(ValidateItem(key));
      std::string encoded;
      TABLE_TRY(EncodeKey(*plan.table, key, false, &encoded));
      if (!seen.insert(encoded).second) {
        return ApiError::Validation("Provided list of item keys contains duplicates");
      }
      plan.keys.push_back(std::move(encoded));
    }
    const json* names = nullptr;
    const json* values = nullptr;
    TABLE_TRY(
        ExpressionTables(spec, Field(spec, "ProjectionExpression") != nullptr, &names, &values));
    ExpressionContext context(names, values);
    TABLE_TRY(ProjectionPaths(spec, context, &plan.paths));
    TABLE_TRY(context.CheckUnused());
    if (const json* value = Field(spec, "ConsistentRead")) {
      plan.consistent = value->is_boolean() && value->get<bool>();
    }
    plan.name = name;
    plan.spec = spec;
    plans.push_back(std::move(plan));
  }
  for (auto& plan : plans) TABLE_TRY(CheckThroughput(*plan.table, false));
  // One answer holds at most 16 MB of items; the keys left over come back as UnprocessedKeys.
  constexpr size_t kBatchGetLimitBytes = 16 * 1024 * 1024;
  size_t answer_bytes = 0;
  json unprocessed = json::object();
  for (auto& plan : plans) {
    json found = json::array();
    size_t bytes = 0;
    for (size_t k = 0; k < plan.keys.size(); ++k) {
      if (answer_bytes >= kBatchGetLimitBytes) {
        json& left = unprocessed[plan.name];
        if (left.is_null()) {
          left = plan.spec;
          left["Keys"] = json::array();
        }
        left["Keys"].push_back(plan.spec["Keys"][k]);
        continue;
      }
      std::optional<json> item;
      TABLE_TRY(ReadItem(*plan.table, plan.keys[k], &item));
      if (!item) continue;
      bytes += ItemSize(*item);
      answer_bytes += ItemSize(*item);
      found.push_back(plan.paths.empty() ? std::move(*item) : ProjectItem(*item, plan.paths));
    }
    Charge(*plan.table, false, ReadUnits(bytes, plan.consistent));
    responses[plan.table->name] = std::move(found);
    if (capacity_mode == "TOTAL" || capacity_mode == "INDEXES") {
      capacities.push_back(Capacity(*plan.table, ReadUnits(bytes, plan.consistent), capacity_mode));
    }
  }
  *response = {{"Responses", responses}, {"UnprocessedKeys", unprocessed}};
  if (!capacities.empty()) (*response)["ConsumedCapacity"] = capacities;
  return std::nullopt;
}

MaybeError TableService::Impl::BatchWriteItem(json& request, json* response) {
  json* items = request.contains("RequestItems") ? &request["RequestItems"] : nullptr;
  if (items == nullptr || !items->is_object() || items->empty()) {
    return ApiError::Validation(
        "1 validation error detected: Value null at 'requestItems' failed "
        "to satisfy constraint: Member must not be null");
  }
  size_t total = 0;
  for (const auto& [name, list] : items->items()) {
    if (!list.is_array()) return ApiError::Serialization("Unexpected RequestItems");
    total += list.size();
  }
  if (total > 25) {
    return ApiError::Validation(
        "1 validation error detected: Value at 'requestItems' failed to "
        "satisfy constraint: Map value must satisfy constraint: [Member "
        "must have length less than or equal to 25, Member must have "
        "length greater than or equal to 1]");
  }
  std::string capacity_mode = "NONE";
  TABLE_TRY(StringField(request, "ReturnConsumedCapacity", &capacity_mode));
  std::vector<PreparedWrite> writes;
  std::set<std::pair<std::string, std::string>> seen;
  for (auto& [name, list] : items->items()) {
    if (list.empty()) {
      return ApiError::Validation(
          "1 validation error detected: Value at 'requestItems' failed to "
          "satisfy constraint: Map value must satisfy constraint: [Member "
          "must have length greater than or equal to 1]");
    }
    for (auto& entry : list) {
      if (!entry.is_object() || entry.size() != 1 ||
          !(entry.contains("PutRequest") || entry.contains("DeleteRequest"))) {
        return ApiError::Validation(
            "Supplied AttributeValue has more than one datatypes set, must "
            "contain exactly one of the supported datatypes");
      }
      bool put = entry.contains("PutRequest");
      json& body = entry[put ? "PutRequest" : "DeleteRequest"];
      if (!body.is_object()) return ApiError::Serialization("Unexpected WriteRequest");
      json single = {{"TableName", name}};
      if (put)
        single["Item"] = body.contains("Item") ? body["Item"] : json();
      else
        single["Key"] = body.contains("Key") ? body["Key"] : json();
      PreparedWrite write;
      TABLE_TRY(PrepareWrite(put ? "Put" : "Delete", single, &write));
      if (!seen.insert({name, write.key}).second) {
        return ApiError::Validation("Provided list of item keys contains duplicates");
      }
      writes.push_back(std::move(write));
    }
  }
  for (auto& write : writes) TABLE_TRY(CheckThroughput(*write.table, true));
  rocksdb::WriteBatch batch;
  std::map<std::string, double> units;
  for (auto& write : writes) {
    AddChange(*write.table, write.key, write.old_item, write.new_item, &batch);
    size_t bytes = std::max(write.old_size,
                            write.new_item ? ItemSize(*write.new_item) : 0);
    units[write.table->name] += WriteUnits(bytes);
    Charge(*write.table, true, WriteUnits(bytes));
  }
  TABLE_TRY(storage->Write(&batch));
  *response = {{"UnprocessedItems", json::object()}};
  if (capacity_mode == "TOTAL" || capacity_mode == "INDEXES") {
    json capacities = json::array();
    for (const auto& [name, total_units] : units) {
      capacities.push_back(Capacity(*storage->Find(name), total_units, capacity_mode));
    }
    (*response)["ConsumedCapacity"] = capacities;
  }
  return std::nullopt;
}

MaybeError TableService::Impl::TransactWriteItems(json& request, json* response) {
  json* items = request.contains("TransactItems") ? &request["TransactItems"] : nullptr;
  if (items == nullptr || !items->is_array() || items->empty() || items->size() > 100) {
    return ApiError::Validation(
        "1 validation error detected: Value at 'transactItems' failed to "
        "satisfy constraint: Member must have length less than or equal "
        "to 100, Member must have length greater than or equal to 1");
  }
  std::string token;
  TABLE_TRY(StringField(request, "ClientRequestToken", &token));
  std::string fingerprint = Dump(*items);
  int64_t now = NowUnixMillis();
  for (auto it = transaction_tokens.begin(); it != transaction_tokens.end();) {
    it = now - it->second.second > kIdempotencyWindowMs ? transaction_tokens.erase(it)
                                                        : std::next(it);
  }
  if (!token.empty()) {
    auto it = transaction_tokens.find(token);
    if (it != transaction_tokens.end()) {
      if (it->second.first != fingerprint) {
        return ApiError{"IdempotentParameterMismatchException",
                        "The request uses the same client token as a previous, but non-identical "
                        "request."};
      }
      *response = json::object();
      return std::nullopt;
    }
  }
  if (fingerprint.size() > 4 * 1024 * 1024) {
    return ApiError::Validation("Transaction request size exceeds the limit of 4 MB");
  }
  std::vector<PreparedWrite> writes;
  std::set<std::pair<std::string, std::string>> seen;
  for (auto& entry : *items) {
    if (!entry.is_object() || entry.size() != 1) {
      return ApiError::Validation(
          "TransactItems can only contain one of Check, Put, Update or Delete");
    }
    std::string kind = entry.begin().key();
    if (kind != "ConditionCheck" && kind != "Put" && kind != "Delete" && kind != "Update") {
      return ApiError::Validation(
          "TransactItems can only contain one of Check, Put, Update or Delete");
    }
    PreparedWrite write;
    TABLE_TRY(PrepareWrite(kind, entry.begin().value(), &write));
    if (!seen.insert({write.table->name, write.key}).second) {
      return ApiError::Validation(
          "Transaction request cannot include multiple operations on one item");
    }
    writes.push_back(std::move(write));
  }
  bool failed = false;
  for (const auto& write : writes) failed = failed || write.condition_failed;
  if (failed) {
    json reasons = json::array();
    std::string codes;
    for (const auto& write : writes) {
      json reason;
      if (write.condition_failed) {
        reason = {{"Code", "ConditionalCheckFailed"},
                  {"Message", "The conditional request failed"}};
        if (write.return_on_failure == "ALL_OLD" && write.old_item)
          reason["Item"] = *write.old_item;
      } else {
        reason = {{"Code", "None"}};
      }
      codes += (codes.empty() ? "" : ", ") + reason["Code"].get<std::string>();
      reasons.push_back(std::move(reason));
    }
    ApiError error{
        "TransactionCanceledException",
        "Transaction cancelled, please refer cancellation reasons for specific reasons [" + codes +
            "]"};
    error.extra["CancellationReasons"] = reasons;
    return error;
  }
  for (auto& write : writes) TABLE_TRY(CheckThroughput(*write.table, true));
  rocksdb::WriteBatch batch;
  for (auto& write : writes) {
    if (write.writes) AddChange(*write.table, write.key, write.old_item, write.new_item, &batch);
    // Transactional writes cost twice the units of plain ones.
    size_t bytes = std::max(write.old_size,
                            write.new_item ? ItemSize(*write.new_item) : 0);
    Charge(*write.table, true, 2 * WriteUnits(bytes));
  }
  TABLE_TRY(storage->Write(&batch));
  if (!token.empty()) transaction_tokens[token] = {fingerprint, now};
  *response = json::object();
  return std::nullopt;
}

MaybeError TableService::Impl::TransactGetItems(json& request, json* response) {
  json* items = request.contains("TransactItems") ? &request["TransactItems"] : nullptr;
  if (items == nullptr || !items->is_array() || items->empty() || items->size() > 100) {
    return ApiError::Validation(
        "1 validation error detected: Value at 'transactItems' failed to "
        "satisfy constraint: Member must have length less than or equal "
        "to 100, Member must have length greater than or equal to 1");
  }
  json results = json::array();
  std::vector<std::pair<TableMeta*, std::string>> keys;
  std::vector<std::vector<Path>> projections;
  for (auto& entry : *items) {
    if (!entry.is_object() || !entry.contains("Get") || !entry["Get"].is_object()) {
      return ApiError::Validation("TransactItems can only contain Get");
    }
    json& get = entry["Get"];
    TableMeta* table = nullptr;
    TABLE_TRY(FindTable(get, &table));
    json* key = get.contains("Key") ? &get["Key"] : nullptr;
    if (key == nullptr || key->is_null()) return SchemaMismatch();
    TABLE_TRY(ValidateItem(*key));
    std::string encoded;
    TABLE_TRY(EncodeKey(*table, *key, false, &encoded));
    const json* names = nullptr;
    const json* values = nullptr;
    TABLE_TRY(
        ExpressionTables(get, Field(get, "ProjectionExpression") != nullptr, &names, &values));
    ExpressionContext context(names, values);
    std::vector<Path> paths;
    TABLE_TRY(ProjectionPaths(get, context, &paths));
    TABLE_TRY(context.CheckUnused());
    keys.emplace_back(table, std::move(encoded));
    projections.push_back(std::move(paths));
  }
  for (size_t i = 0; i < keys.size(); ++i) {
    std::optional<json> item;
    TABLE_TRY(ReadItem(*keys[i].first, keys[i].second, &item));
    json result = json::object();
    if (item) result["Item"] = projections[i].empty() ? *item : ProjectItem(*item, projections[i]);
    results.push_back(std::move(result));
  }
  *response = {{"Responses", results}};
  return std::nullopt;
}

// =============================================================================================
// Streams, TTL, point-in-time recovery and backups (issue 11).

namespace {

std::string RecordKey(const std::string& shard_id, uint64_t counter) {
  return shard_id + "/" + FormatSequence(counter);
}

std::string Pad16(int64_t value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%016lld", static_cast<long long>(std::max<int64_t>(0, value)));
  return buffer;
}

// PITR log keys: table id, change time, sequence counter, so a table's log is in time order.
std::string PitrKey(const std::string& table_id, int64_t unix_millis, uint64_t counter) {
  return table_id + "/" + Pad16(unix_millis) + "/" + FormatSequence(counter);
}

// Stream record values: "<unix ms> <record json>".
bool SplitRecordValue(std::string_view value, int64_t* unix_millis, std::string_view* record) {
  size_t space = value.find(' ');
  if (space == std::string_view::npos) return false;
  int64_t ms = 0;
  for (char c : value.substr(0, space)) {
    if (c < '0' || c > '9') return false;
    ms = ms * 10 + (c - '0');
  }
  *unix_millis = ms;
  *record = value.substr(space + 1);
  return true;
}

double Seconds(int64_t unix_millis) { return static_cast<double>(unix_millis) / 1000.0; }

ApiError StreamNotFound(const std::string& arn) {
  return ApiError::NotFound("Requested resource not found: Stream: " + arn + " not found");
}

ApiError TableNotFoundNamed(const std::string& name) {
  return {"TableNotFoundException", "Table not found: " + name};
}

MaybeError LimitField(const json& request, int64_t max, int64_t* out) {
  if (const json* value = Field(request, "Limit")) {
    if (!value->is_number_integer()) return ApiError::Serialization("Unexpected Limit");
    int64_t limit = value->get<int64_t>();
    if (limit < 1 || limit > max) {
      return ApiError::Validation(
          "1 validation error detected: Value '" + std::to_string(limit) +
          "' at 'limit' failed to satisfy constraint: Member must have value " +
          (limit < 1 ? "greater than or equal to 1" : "less than or equal to " +
                                                          std::to_string(max)));
    }
    *out = limit;
  }
  return std::nullopt;
}

// An epoch-seconds timestamp field (JSON 1.0 sends numbers) as unix ms.
MaybeError TimeField(const json& request, const char* name, std::optional<int64_t>* out) {
  const json* value = Field(request, name);
  if (value == nullptr) return std::nullopt;
  if (!value->is_number()) return ApiError::Serialization(std::string("Unexpected ") + name);
  double seconds = value->get<double>();
  if (!std::isfinite(seconds) || std::fabs(seconds) > 1e12) {
    return ApiError::Validation(std::string("Invalid value for ") + name);
  }
  *out = std::llround(seconds * 1000.0);
  return std::nullopt;
}

}  // namespace

std::function<int64_t()> ClockFromFile(std::string path) {
  return [path = std::move(path)]() -> int64_t {
    std::ifstream file(path);
    long long value = 0;
    if (file && (file >> value) && value > 0) return value;
    return NowUnixMillis();
  };
}

MaybeError TableService::Impl::LoadStreams() {
  std::optional<std::string> counter;
  TABLE_TRY(storage->Get(storage->default_family(), kSequenceKey, &counter));
  if (counter) sequence = std::strtoull(counter->c_str(), nullptr, 10);
  auto it = storage->NewIterator(storage->default_family());
  for (it->Seek(kStreamMetaPrefix); it->Valid() && it->key().starts_with(kStreamMetaPrefix);
       it->Next()) {
    auto meta = StreamMeta::FromJson(json::parse(it->value().ToString(), nullptr, false));
    if (!meta) return ApiError::Internal("corrupt stream metadata: " + it->key().ToString());
    // The newest record of the shard (its key is the largest below "<shard>/2").
    auto records = storage->NewIterator(storage->stream_family());
    records->SeekForPrev(meta->shard_id + "/2");
    if (records->Valid() && records->key().starts_with(meta->shard_id + "/")) {
      std::string key = records->key().ToString();
      meta->last = ParseSequence(key.substr(meta->shard_id.size() + 1)).value_or(0);
    }
    sequence = std::max(sequence, meta->last);
    streams[meta->arn] = std::move(*meta);
  }
  return std::nullopt;
}

MaybeError TableService::Impl::SaveStream(const StreamMeta& stream, rocksdb::WriteBatch* batch) {
  if (batch != nullptr) {
    batch->Put(storage->default_family(), kStreamMetaPrefix + stream.arn, Dump(stream.ToJson()));
    return std::nullopt;
  }
  rocksdb::WriteBatch own;
  own.Put(storage->default_family(), kStreamMetaPrefix + stream.arn, Dump(stream.ToJson()));
  return storage->Write(&own);
}

MaybeError TableService::Impl::EnableStream(TableMeta& table, const std::string& view_type) {
  int64_t now = Now();
  std::string label = StreamLabel(now);
  // Labels of one table's streams must differ (they name the stream in its ARN).
  while (label <= table.latest_stream_label) label = StreamLabel(++now);
  StreamMeta stream;
  stream.arn = TableArn(table.name) + "/stream/" + label;
  stream.label = label;
  stream.table_name = table.name;
  stream.table_id = table.id;
  stream.view_type = view_type;
  stream.shard_id = NewShardId(now);
  stream.key = table.key;
  stream.created_ms = now;
  stream.starting = sequence + 1;
  TABLE_TRY(SaveStream(stream, nullptr));
  table.stream_enabled = true;
  table.stream_view_type = view_type;
  table.latest_stream_arn = stream.arn;
  table.latest_stream_label = label;
  streams[stream.arn] = std::move(stream);
  return std::nullopt;
}

MaybeError TableService::Impl::DisableStream(TableMeta& table) {
  table.stream_enabled = false;
  table.stream_view_type.clear();
  StreamMeta* stream = FindStream(table.latest_stream_arn);
  if (stream == nullptr || !stream->enabled) return std::nullopt;
  stream->enabled = false;
  stream->disabled_ms = Now();
  stream->ending = std::max(stream->last, stream->starting);
  return SaveStream(*stream, nullptr);
}

StreamMeta* TableService::Impl::FindStream(const std::string& arn) {
  auto it = streams.find(arn);
  return it == streams.end() ? nullptr : &it->second;
}

void TableService::Impl::AddChange(TableMeta& table, const std::string& key,
                                   const std::optional<json>& old_item,
                                   const std::optional<json>& new_item,
                                   rocksdb::WriteBatch* batch, bool by_ttl) {
  AddWrite(table, key, old_item, new_item, batch);
  StreamMeta* stream = table.stream_enabled ? FindStream(table.latest_stream_arn) : nullptr;
  if (stream != nullptr && !stream->enabled) stream = nullptr;
  if (stream == nullptr && table.pitr_since_ms == 0) return;
  // A write that changed nothing leaves no trace, as on DynamoDB.
  if (!old_item && !new_item) return;
  if (old_item && new_item && ValuesEqual(json{{"M", *old_item}}, json{{"M", *new_item}})) return;
  uint64_t counter = ++sequence;
  batch->Put(storage->default_family(), kSequenceKey, std::to_string(sequence));
  int64_t now = Now();
  if (stream != nullptr) {
    ChangeRecord record = BuildChangeRecord(table.key, stream->view_type, options.region,
                                            old_item, new_item, FormatSequence(counter), now,
                                            by_ttl);
    batch->Put(storage->stream_family(), RecordKey(stream->shard_id, counter),
               std::to_string(now) + " " + record.json);
    stream->last = counter;
    touched_streams.insert(stream->arn);
  }
  if (table.pitr_since_ms != 0) {
    json entry = {{"k", Base64Encode(key)}, {"o", old_item ? *old_item : json()}};
    batch->Put(storage->pitr_family(), PitrKey(table.id, now, counter), Dump(entry));
  }
}

void TableService::Impl::Maintain() {
  int64_t now = Now();
  next_maintenance_ms = now + kMaintenanceIntervalMs;
  using Step = MaybeError (Impl::*)(int64_t);
  for (Step step : {&Impl::TrimStreams, &Impl::SweepTtl, &Impl::TrimPitr}) {
    if (auto error = (this->*step)(now)) {
      std::fprintf(stderr, "haneul: table maintenance: %s\n", error->message.c_str());
    }
  }
}

void TableService::Impl::ScheduleMaintenance() {
  if (options.loop == nullptr) return;
  if (!maintenance_timer) maintenance_timer = std::make_unique<Timer>(*options.loop);
  maintenance_timer->Start(std::chrono::milliseconds(kMaintenanceIntervalMs), [this] {
    if (Now() >= next_maintenance_ms) {
      Maintain();
      Answer(nullptr, HttpResponse{});
    }
    ScheduleMaintenance();
  });
}

MaybeError TableService::Impl::TrimStreams(int64_t now) {
  rocksdb::WriteBatch batch;
  std::vector<std::string> forgotten;
  for (auto& [arn, stream] : streams) {
    auto it = storage->NewIterator(storage->stream_family());
    std::string prefix = stream.shard_id + "/";
    bool trimmed = false, empty = true;
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      int64_t created = 0;
      std::string_view record;
      std::string_view value(it->value().data(), it->value().size());
      if (SplitRecordValue(value, &created, &record) && created >= now - kStreamRetentionMs) {
        empty = false;
        break;
      }
      std::string key = it->key().ToString();
      stream.trimmed_through =
          std::max(stream.trimmed_through, ParseSequence(key.substr(prefix.size())).value_or(0));
      batch.Delete(storage->stream_family(), key);
      trimmed = true;
    }
    // A closed stream is forgotten once its records are gone and a day has passed.
    if (!stream.enabled && empty && now - stream.disabled_ms > kStreamRetentionMs) {
      batch.Delete(storage->default_family(), kStreamMetaPrefix + arn);
      forgotten.push_back(arn);
    } else if (trimmed) {
      TABLE_TRY(SaveStream(stream, &batch));
    }
  }
  for (const auto& arn : forgotten) streams.erase(arn);
  if (batch.Count() == 0) return std::nullopt;
  return storage->Write(&batch);
}

MaybeError TableService::Impl::SweepTtl(int64_t now) {
  // DynamoDB deletes items whose TTL (epoch seconds, type N) is in the past, but not ones more
  // than five years in the past (taken to be a unit mistake).
  constexpr double kFiveYears = 5 * 365 * 24 * 3600.0;
  double now_seconds = Seconds(now);
  rocksdb::WriteBatch batch;
  size_t deleted = 0;
  for (const auto& [name, table] : storage->tables()) {
    if (table->ttl_attribute.empty()) continue;
    auto it = storage->NewIterator(table->family);
    for (it->SeekToFirst(); it->Valid() && deleted < kTtlDeletesPerSweep; it->Next()) {
      std::string_view value(it->value().data(), it->value().size());
      // Cheap test before parsing: the attribute name must appear in the item text.
      if (value.find("\"" + table->ttl_attribute + "\"") == std::string_view::npos) continue;
      json item = ParseStored(value);
      if (!item.is_object()) continue;
      auto attribute = item.find(table->ttl_attribute);
      if (attribute == item.end() || TypeOf(*attribute) != "N") continue;
      double expires = std::strtod((*attribute)["N"].get<std::string>().c_str(), nullptr);
      if (expires >= now_seconds || expires < now_seconds - kFiveYears) continue;
      AddChange(*table, it->key().ToString(), item, std::nullopt, &batch, true);
      ++deleted;
    }
  }
  if (batch.Count() == 0) return std::nullopt;
  return storage->Write(&batch);
}

MaybeError TableService::Impl::TrimPitr(int64_t now) {
  rocksdb::WriteBatch batch;
  for (const auto& [name, table] : storage->tables()) {
    if (table->pitr_since_ms == 0) continue;
    batch.DeleteRange(storage->pitr_family(), table->id + "/",
                      table->id + "/" + Pad16(now - kPitrWindowMs));
  }
  if (batch.Count() == 0) return std::nullopt;
  return storage->Write(&batch);
}

MaybeError TableService::Impl::ReadRecords(const StreamMeta& stream, uint64_t next, size_t limit,
                                           size_t byte_limit,
                                           std::vector<RawRecord>* out,
                                           bool* at_end) {
  std::string prefix = stream.shard_id + "/";
  auto it = storage->NewIterator(storage->stream_family());
  size_t bytes = 0;
  *at_end = true;
  for (it->Seek(RecordKey(stream.shard_id, next)); it->Valid() && it->key().starts_with(prefix);
       it->Next()) {
    if (out->size() >= limit || bytes >= byte_limit) {
      *at_end = false;
      break;
    }
    int64_t created = 0;
    std::string_view record;
    std::string_view value(it->value().data(), it->value().size());
    if (!SplitRecordValue(value, &created, &record)) {
      return ApiError::Internal("Internal server error: corrupt stream record");
    }
    std::string key = it->key().ToString();
    out->push_back(RawRecord{ParseSequence(key.substr(prefix.size())).value_or(0), created,
                             std::string(record)});
    bytes += record.size();
  }
  return std::nullopt;
}

MaybeError TableService::Impl::ListStreams(json& request, json* response) {
  int64_t limit = 100;
  TABLE_TRY(LimitField(request, 100, &limit));
  std::string table_name, start;
  TABLE_TRY(StringField(request, "TableName", &table_name));
  TABLE_TRY(StringField(request, "ExclusiveStartStreamArn", &start));
  if (!table_name.empty()) TABLE_TRY(ValidateTableName(table_name));
  json list = json::array();
  std::string last;
  bool more = false;
  for (auto it = start.empty() ? streams.begin() : streams.upper_bound(start);
       it != streams.end(); ++it) {
    if (!table_name.empty() && it->second.table_name != table_name) continue;
    if (static_cast<int64_t>(list.size()) == limit) {
      more = true;
      break;
    }
    list.push_back({{"StreamArn", it->first},
                    {"TableName", it->second.table_name},
                    {"StreamLabel", it->second.label}});
    last = it->first;
  }
  *response = {{"Streams", list}};
  if (more) (*response)["LastEvaluatedStreamArn"] = last;
  return std::nullopt;
}

MaybeError TableService::Impl::DescribeStream(json& request, json* response) {
  std::string arn, start;
  TABLE_TRY(StringField(request, "StreamArn", &arn));
  TABLE_TRY(StringField(request, "ExclusiveStartShardId", &start));
  int64_t limit = 100;
  TABLE_TRY(LimitField(request, 100, &limit));
  StreamMeta* stream = FindStream(arn);
  if (stream == nullptr) return StreamNotFound(arn);
  json range = {{"StartingSequenceNumber", FormatSequence(stream->starting)}};
  if (!stream->enabled) range["EndingSequenceNumber"] = FormatSequence(stream->ending);
  json shards = json::array();
  if (start.empty() || start < stream->shard_id) {
    shards.push_back({{"ShardId", stream->shard_id}, {"SequenceNumberRange", range}});
  }
  *response = {{"StreamDescription",
                {{"StreamArn", stream->arn},
                 {"StreamLabel", stream->label},
                 {"StreamStatus", stream->enabled ? "ENABLED" : "DISABLED"},
                 {"StreamViewType", stream->view_type},
                 {"CreationRequestDateTime", Seconds(stream->created_ms)},
                 {"TableName", stream->table_name},
                 {"KeySchema", KeySchemaJson(stream->key)},
                 {"Shards", shards}}}};
  return std::nullopt;
}

MaybeError TableService::Impl::GetShardIterator(json& request, json* response) {
  std::string arn, shard_id, type, sequence_text;
  TABLE_TRY(StringField(request, "StreamArn", &arn));
  TABLE_TRY(StringField(request, "ShardId", &shard_id));
  TABLE_TRY(StringField(request, "ShardIteratorType", &type));
  TABLE_TRY(StringField(request, "SequenceNumber", &sequence_text));
  if (type != "TRIM_HORIZON" && type != "LATEST" && type != "AT_SEQUENCE_NUMBER" &&
      type != "AFTER_SEQUENCE_NUMBER") {
    return ApiError::Validation(
        "1 validation error detected: Value '" + type +
        "' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value "
        "set: [AFTER_SEQUENCE_NUMBER, LATEST, AT_SEQUENCE_NUMBER, TRIM_HORIZON]");
  }
  StreamMeta* stream = FindStream(arn);
  if (stream == nullptr) return StreamNotFound(arn);
  if (shard_id != stream->shard_id) {
    return ApiError::NotFound("Requested resource not found: Shard does not exist");
  }
  ShardIterator iterator{arn, shard_id, 0, Now()};
  if (type == "TRIM_HORIZON") {
    iterator.next = std::max(stream->trimmed_through + 1, stream->starting);
  } else if (type == "LATEST") {
    iterator.next = stream->enabled ? sequence + 1 : stream->ending + 1;
  } else {
    if (sequence_text.empty()) {
      return ApiError::Validation("A sequence number must be specified for " + type);
    }
    auto counter = ParseSequence(sequence_text);
    if (!counter) {
      return ApiError::Validation("Invalid SequenceNumber: " + sequence_text);
    }
    if ((!stream->enabled && *counter > stream->ending) || *counter > sequence) {
      return ApiError::Validation("Invalid SequenceNumber: " + sequence_text +
                                  " is beyond the end of the shard");
    }
    iterator.next = type == "AT_SEQUENCE_NUMBER" ? *counter : *counter + 1;
    if (iterator.next <= stream->trimmed_through) {
      return ApiError{"TrimmedDataAccessException",
                      "The operation attempted to access data that has been trimmed: sequence "
                      "number " +
                          sequence_text + " is older than the stream's 24-hour retention"};
    }
  }
  *response = {{"ShardIterator", EncodeIterator(iterator)}};
  return std::nullopt;
}

MaybeError TableService::Impl::GetRecords(json& request, json* response) {
  std::string text;
  TABLE_TRY(StringField(request, "ShardIterator", &text));
  if (text.empty()) {
    return ApiError::Validation(
        "1 validation error detected: Value null at 'shardIterator' failed to satisfy "
        "constraint: Member must not be null");
  }
  int64_t limit = 1000;
  TABLE_TRY(LimitField(request, 1000, &limit));
  auto iterator = DecodeIterator(text);
  if (!iterator) return ApiError::Validation("Invalid ShardIterator");
  StreamMeta* stream = FindStream(iterator->stream_arn);
  if (stream == nullptr) return StreamNotFound(iterator->stream_arn);
  if (iterator->shard_id != stream->shard_id) {
    return ApiError::NotFound("Requested resource not found: Shard does not exist");
  }
  int64_t now = Now();
  if (now - iterator->issued_ms > kIteratorLifetimeMs) {
    return ApiError{"ExpiredIteratorException",
                    "Iterator expired. The iterator was created at time " +
                        IsoTimestamp(iterator->issued_ms) + " while right now it is " +
                        IsoTimestamp(now) +
                        " which is further in the future than the tolerated delay of 900000 "
                        "milliseconds."};
  }
  if (iterator->next <= stream->trimmed_through) {
    return ApiError{"TrimmedDataAccessException",
                    "The operation attempted to access data that has been trimmed: the iterator "
                    "points to records older than the stream's 24-hour retention"};
  }
  std::vector<RawRecord> records;
  bool at_end = false;
  TABLE_TRY(ReadRecords(*stream, iterator->next, static_cast<size_t>(limit), 1024 * 1024,
                        &records, &at_end));
  json list = json::array();
  for (const auto& record : records) {
    json parsed = json::parse(record.json, nullptr, false);
    if (parsed.is_discarded()) return ApiError::Internal("Internal server error: corrupt record");
    list.push_back(WireRecord(std::move(parsed)));
  }
  *response = {{"Records", list}};
  ShardIterator next = *iterator;
  if (!records.empty()) next.next = records.back().counter + 1;
  next.issued_ms = now;
  // A closed shard read to its end has no next iterator.
  if (!(!stream->enabled && at_end)) (*response)["NextShardIterator"] = EncodeIterator(next);
  return std::nullopt;
}

MaybeError TableService::Impl::StreamsDispatch(const std::string& operation, json& request,
                                               json* response) {
  if (operation == "ListStreams") return ListStreams(request, response);
  if (operation == "DescribeStream") return DescribeStream(request, response);
  if (operation == "GetShardIterator") return GetShardIterator(request, response);
  if (operation == "GetRecords") return GetRecords(request, response);
  return ApiError{"UnknownOperationException", "", 400};
}

// ---- TTL ------------------------------------------------------------------------------------

MaybeError TableService::Impl::UpdateTimeToLive(json& request, json* response) {
  TableMeta* table = nullptr;
  TABLE_TRY(FindTable(request, &table));
  const json* spec = Field(request, "TimeToLiveSpecification");
  if (spec == nullptr) {
    return ApiError::Validation(
        "1 validation error detected: Value null at 'timeToLiveSpecification' failed to satisfy "
        "constraint: Member must not be null");
  }
  if (!spec->is_object()) return ApiError::Serialization("Unexpected TimeToLiveSpecification");
  const json* enabled = Field(*spec, "Enabled");
  std::string attribute;
  TABLE_TRY(StringField(*spec, "AttributeName", &attribute));
  if (enabled == nullptr) {
    return ApiError::Validation(
        "1 validation error detected: Value null at 'timeToLiveSpecification.enabled' failed to "
        "satisfy constraint: Member must not be null");
  }
  if (!enabled->is_boolean()) return ApiError::Serialization("Unexpected Enabled");
  if (attribute.empty()) {
    return ApiError::Validation(
        "1 validation error detected: Value null at 'timeToLiveSpecification.attributeName' "
        "failed to satisfy constraint: Member must not be null");
  }
  if (attribute.size() > 255) {
    return ApiError::Validation(
        "1 validation error detected: Value '" + attribute +
        "' at 'timeToLiveSpecification.attributeName' failed to satisfy constraint: Member must "
        "have length less than or equal to 255");
  }
  if (enabled->get<bool>()) {
    if (!table->ttl_attribute.empty()) {
      return ApiError::Validation("TimeToLive is already enabled");
    }
    table->ttl_attribute = attribute;
  } else {
    if (table->ttl_attribute.empty()) {
      return ApiError::Validation("TimeToLive is already disabled");
    }
    if (table->ttl_attribute != attribute) {
      return ApiError::Validation(
          "TimeToLive is active on a different AttributeName: current AttributeName is " +
          table->ttl_attribute);
    }
    table->ttl_attribute.clear();
  }
  TABLE_TRY(storage->SaveMeta(*table));
  *response = {{"TimeToLiveSpecification",
                {{"Enabled", enabled->get<bool>()}, {"AttributeName", attribute}}}};
  return std::nullopt;
}

MaybeError TableService::Impl::DescribeTimeToLive(json& request, json* response) {
  TableMeta* table = nullptr;
  TABLE_TRY(FindTable(request, &table));
  json description = {{"TimeToLiveStatus", table->ttl_attribute.empty() ? "DISABLED" : "ENABLED"}};
  if (!table->ttl_attribute.empty()) description["AttributeName"] = table->ttl_attribute;
  *response = {{"TimeToLiveDescription", description}};
  return std::nullopt;
}

// ---- point-in-time recovery -----------------------------------------------------------------

json TableService::Impl::ContinuousBackups(const TableMeta& table) {
  json pitr = {{"PointInTimeRecoveryStatus", table.pitr_since_ms ? "ENABLED" : "DISABLED"}};
  if (table.pitr_since_ms) {
    int64_t now = Now();
    pitr["EarliestRestorableDateTime"] =
        Seconds(std::max(table.pitr_since_ms, now - kPitrWindowMs));
    pitr["LatestRestorableDateTime"] = Seconds(now);
  }
  return {{"ContinuousBackupsStatus", "ENABLED"}, {"PointInTimeRecoveryDescription", pitr}};
}

MaybeError TableService::Impl::UpdateContinuousBackups(json& request, json* response) {
  std::string name;
  TABLE_TRY(StringField(request, "TableName", &name));
  TABLE_TRY(ValidateTableName(name));
  const json* spec = Field(request, "PointInTimeRecoverySpecification");
  if (spec == nullptr) {
    return ApiError::Validation(
        "1 validation error detected: Value null at 'pointInTimeRecoverySpecification' failed "
        "to satisfy constraint: Member must not be null");
  }
  if (!spec->is_object()) return ApiError::Serialization("Unexpected specification");
  const json* enabled = Field(*spec, "PointInTimeRecoveryEnabled");
  if (enabled == nullptr) {
    return ApiError::Validation(
        "1 validation error detected: Value null at "
        "'pointInTimeRecoverySpecification.pointInTimeRecoveryEnabled' failed to satisfy "
        "constraint: Member must not be null");
  }
  if (!enabled->is_boolean()) return ApiError::Serialization("Unexpected Enabled");
  TableMeta* table = storage->Find(name);
  if (table == nullptr) return TableNotFoundNamed(name);
  if (enabled->get<bool>() && table->pitr_since_ms == 0) {
    table->pitr_since_ms = Now();
    TABLE_TRY(storage->SaveMeta(*table));
  } else if (!enabled->get<bool>() && table->pitr_since_ms != 0) {
    // Disabling forgets the history, as on DynamoDB.
    table->pitr_since_ms = 0;
    rocksdb::WriteBatch batch;
    batch.DeleteRange(storage->pitr_family(), table->id + "/", table->id + "0");
    TABLE_TRY(storage->Write(&batch));
    TABLE_TRY(storage->SaveMeta(*table));
  }
  *response = {{"ContinuousBackupsDescription", ContinuousBackups(*table)}};
  return std::nullopt;
}

MaybeError TableService::Impl::DescribeContinuousBackups(json& request, json* response) {
  std::string name;
  TABLE_TRY(StringField(request, "TableName", &name));
  TABLE_TRY(ValidateTableName(name));
  TableMeta* table = storage->Find(name);
  if (table == nullptr) return TableNotFoundNamed(name);
  *response = {{"ContinuousBackupsDescription", ContinuousBackups(*table)}};
  return std::nullopt;
}

MaybeError TableService::Impl::RestoreInto(
    const TableMeta& source, const std::string& target,
    const std::function<
        MaybeError(const std::function<MaybeError(const std::string&, const json&)>&)>& fill,
    TableMeta** out) {
  auto table = std::make_unique<TableMeta>();
  table->name = target;
  table->id = NewUuid();
  table->created = Seconds(NowUnixMillis());
  table->key = source.key;
  table->attribute_types = source.attribute_types;
  table->billing_mode = source.billing_mode;
  table->provisioned = source.provisioned;
  for (const auto& index : source.indexes) {
    IndexMeta copy = index;
    copy.family = nullptr;
    table->indexes.push_back(std::move(copy));
  }
  TableMeta* created = table.get();
  TABLE_TRY(storage->Create(std::move(table)));
  rocksdb::WriteBatch batch;
  MaybeError error = fill([&](const std::string& key, const json& item) -> MaybeError {
    AddWrite(*created, key, std::nullopt, item, &batch);
    if (batch.Count() >= 4096) {
      TABLE_TRY(storage->Write(&batch));
      batch.Clear();
    }
    return std::nullopt;
  });
  if (!error && batch.Count() > 0) error = storage->Write(&batch);
  if (error) {
    (void)storage->Drop(target);
    return error;
  }
  *out = created;
  return std::nullopt;
}

MaybeError TableService::Impl::RestoreTableToPointInTime(json& request, json* response) {
  std::string source_name, source_arn, target;
  TABLE_TRY(StringField(request, "SourceTableName", &source_name));
  TABLE_TRY(StringField(request, "SourceTableArn", &source_arn));
  TABLE_TRY(StringField(request, "TargetTableName", &target));
  TABLE_TRY(ValidateTableName(target, "TargetTableName"));
  if (source_name.empty() && !source_arn.empty()) {
    std::string prefix = TableArn("");
    if (source_arn.starts_with(prefix)) source_name = source_arn.substr(prefix.size());
    if (source_name.empty()) return TableNotFoundNamed(source_arn);
  }
  if (source_name.empty()) {
    return ApiError::Validation("Either SourceTableName or SourceTableArn must be specified");
  }
  bool use_latest = false;
  if (const json* latest = Field(request, "UseLatestRestorableTime")) {
    if (!latest->is_boolean()) return ApiError::Serialization("Unexpected UseLatestRestorableTime");
    use_latest = latest->get<bool>();
  }
  std::optional<int64_t> at;
  TABLE_TRY(TimeField(request, "RestoreDateTime", &at));
  if (use_latest && at) {
    return ApiError::Validation(
        "Only one of RestoreDateTime or UseLatestRestorableTime can be specified");
  }
  if (!use_latest && !at) {
    return ApiError::Validation(
        "Either RestoreDateTime or UseLatestRestorableTime must be specified");
  }
  TableMeta* source = storage->Find(source_name);
  if (source == nullptr) return TableNotFoundNamed(source_name);
  if (storage->Find(target) != nullptr) {
    return ApiError{"TableAlreadyExistsException", "Table already exists: " + target};
  }
  if (source->pitr_since_ms == 0) {
    return ApiError{"PointInTimeRecoveryUnavailableException",
                    "Point in time recovery is not enabled for table '" + source_name + "'"};
  }
  int64_t now = Now();
  int64_t earliest = std::max(source->pitr_since_ms, now - kPitrWindowMs);
  int64_t when = use_latest ? now : *at;
  if (when < earliest || when > now) {
    return ApiError{"InvalidRestoreTimeException",
                    "RestoreDateTime must be between EarliestRestorableDateTime and "
                    "LatestRestorableDateTime"};
  }
  // The state at `when`: the current items, except that every item changed after `when` takes
  // the old image of its first change after `when` (absent: it did not exist then).
  std::map<std::string, std::optional<json>> undo;
  {
    auto it = storage->NewIterator(storage->pitr_family());
    std::string prefix = source->id + "/";
    for (it->Seek(prefix + Pad16(when + 1)); it->Valid() && it->key().starts_with(prefix);
         it->Next()) {
      json entry = json::parse(it->value().ToString(), nullptr, false);
      std::string key;
      if (!entry.is_object() || !Base64Decode(entry.value("k", ""), &key)) {
        return ApiError::Internal("Internal server error: corrupt recovery log");
      }
      if (undo.count(key)) continue;
      undo[key] = entry["o"].is_object() ? std::optional<json>(entry["o"]) : std::nullopt;
    }
  }
  TableMeta* created = nullptr;
  TableMeta source_copy = *source;
  TABLE_TRY(RestoreInto(
      source_copy, target,
      [&](const std::function<MaybeError(const std::string&, const json&)>& add) -> MaybeError {
        auto it = storage->NewIterator(source_copy.family);
        for (it->SeekToFirst(); it->Valid(); it->Next()) {
          std::string key = it->key().ToString();
          if (undo.count(key)) continue;
          json item = ParseStored(std::string_view(it->value().data(), it->value().size()));
          if (item.is_object()) TABLE_TRY(add(key, item));
        }
        for (const auto& [key, item] : undo) {
          if (item) TABLE_TRY(add(key, *item));
        }
        return std::nullopt;
      },
      &created));
  json description = Describe(*created, "CREATING", false);
  description["RestoreSummary"] = {{"SourceTableArn", TableArn(source_name)},
                                   {"RestoreDateTime", Seconds(when)},
                                   {"RestoreInProgress", false}};
  *response = {{"TableDescription", description}};
  return std::nullopt;
}

// ---- on-demand backups ------------------------------------------------------------------------
// A backup copies the table's items (at one moment: the loop runs nothing else meanwhile) into
// the "backups" family under "<backup id>/<item key>"; its metadata (details and the table's
// schema) sits in the default family under "backup/<backup id>".

MaybeError TableService::Impl::CreateBackup(json& request, json* response) {
  std::string name, backup_name;
  TABLE_TRY(StringField(request, "TableName", &name));
  TABLE_TRY(ValidateTableName(name));
  TABLE_TRY(StringField(request, "BackupName", &backup_name));
  TABLE_TRY(ValidateTableName(backup_name, "BackupName"));
  TableMeta* table = storage->Find(name);
  if (table == nullptr) return TableNotFoundNamed(name);
  int64_t now = Now();
  std::string id = std::string("0") + std::to_string(now) + "-" + RandomHex(8);
  rocksdb::WriteBatch batch;
  int64_t bytes = 0, count = 0;
  auto it = storage->NewIterator(table->family);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    batch.Put(storage->backup_family(), id + "/" + it->key().ToString(), it->value());
    size_t size = 0;
    std::string_view text;
    if (DecodeStored(std::string_view(it->value().data(), it->value().size()), &size, &text)) {
      bytes += static_cast<int64_t>(size);
    }
    ++count;
  }
  std::string arn = TableArn(name) + "/backup/" + id;
  json details = {{"BackupArn", arn},
                  {"BackupName", backup_name},
                  {"BackupSizeBytes", bytes},
                  {"BackupStatus", "AVAILABLE"},
                  {"BackupType", "USER"},
                  {"BackupCreationDateTime", Seconds(now)}};
  json meta = {{"magic", "haneul-backup"},
               {"version", 1},
               {"Details", details},
               {"ItemCount", count},
               {"Table", table->ToJson()},
               {"TableArn", TableArn(name)},
               {"Description", Describe(*table, "ACTIVE", false)}};
  batch.Put(storage->default_family(), kBackupMetaPrefix + id, Dump(meta));
  TABLE_TRY(storage->Write(&batch));
  *response = {{"BackupDetails", details}};
  return std::nullopt;
}

MaybeError TableService::Impl::FindBackup(const json& request, json* meta, std::string* id) {
  std::string arn;
  TABLE_TRY(StringField(request, "BackupArn", &arn));
  if (arn.empty()) {
    return ApiError::Validation(
        "1 validation error detected: Value null at 'backupArn' failed to satisfy constraint: "
        "Member must not be null");
  }
  size_t at = arn.rfind("/backup/");
  *id = at == std::string::npos ? "" : arn.substr(at + 8);
  std::optional<std::string> data;
  if (!id->empty() && id->find('/') == std::string::npos) {
    TABLE_TRY(storage->Get(storage->default_family(), kBackupMetaPrefix + *id, &data));
  }
  if (data) *meta = json::parse(*data, nullptr, false);
  if (!data || !meta->is_object() || (*meta)["Details"].value("BackupArn", "") != arn) {
    return ApiError{"BackupNotFoundException", "Backup not found: " + arn};
  }
  return std::nullopt;
}

namespace {

json BackupDescription(const json& meta) {
  const json& table = meta["Description"];
  json source = {{"TableName", table["TableName"]},
                 {"TableId", table["TableId"]},
                 {"TableArn", table["TableArn"]},
                 {"TableSizeBytes", meta["Details"]["BackupSizeBytes"]},
                 {"KeySchema", table["KeySchema"]},
                 {"TableCreationDateTime", table["CreationDateTime"]},
                 {"ProvisionedThroughput", table["ProvisionedThroughput"]},
                 {"ItemCount", meta["ItemCount"]},
                 {"BillingMode", table["BillingModeSummary"]["BillingMode"]}};
  json features = json::object();
  for (const char* which : {"GlobalSecondaryIndexes", "LocalSecondaryIndexes"}) {
    if (!table.contains(which)) continue;
    json list = json::array();
    for (const auto& index : table[which]) {
      json entry = {{"IndexName", index["IndexName"]},
                    {"KeySchema", index["KeySchema"]},
                    {"Projection", index["Projection"]}};
      if (index.contains("ProvisionedThroughput")) {
        entry["ProvisionedThroughput"] = {
            {"ReadCapacityUnits", index["ProvisionedThroughput"]["ReadCapacityUnits"]},
            {"WriteCapacityUnits", index["ProvisionedThroughput"]["WriteCapacityUnits"]}};
      }
      list.push_back(std::move(entry));
    }
    features[which] = list;
  }
  return {{"BackupDetails", meta["Details"]},
          {"SourceTableDetails", source},
          {"SourceTableFeatureDetails", features}};
}

}  // namespace

MaybeError TableService::Impl::DescribeBackup(json& request, json* response) {
  json meta;
  std::string id;
  TABLE_TRY(FindBackup(request, &meta, &id));
  *response = {{"BackupDescription", BackupDescription(meta)}};
  return std::nullopt;
}

MaybeError TableService::Impl::ListBackups(json& request, json* response) {
  int64_t limit = 100;
  TABLE_TRY(LimitField(request, 100, &limit));
  std::string table_name, start, type = "USER";
  TABLE_TRY(StringField(request, "TableName", &table_name));
  TABLE_TRY(StringField(request, "ExclusiveStartBackupArn", &start));
  TABLE_TRY(StringField(request, "BackupType", &type));
  if (type != "USER" && type != "SYSTEM" && type != "AWS_BACKUP" && type != "ALL") {
    return ApiError::Validation(
        "1 validation error detected: Value '" + type +
        "' at 'backupType' failed to satisfy constraint: Member must satisfy enum value set: "
        "[USER, SYSTEM, AWS_BACKUP, ALL]");
  }
  std::optional<int64_t> lower, upper;
  TABLE_TRY(TimeField(request, "TimeRangeLowerBound", &lower));
  TABLE_TRY(TimeField(request, "TimeRangeUpperBound", &upper));
  json summaries = json::array();
  std::string last;
  bool more = false, started = start.empty();
  auto it = storage->NewIterator(storage->default_family());
  for (it->Seek(kBackupMetaPrefix); it->Valid() && it->key().starts_with(kBackupMetaPrefix);
       it->Next()) {
    json meta = json::parse(it->value().ToString(), nullptr, false);
    if (!meta.is_object()) continue;
    const json& details = meta["Details"];
    std::string arn = details.value("BackupArn", "");
    if (!started) {
      started = arn == start;
      continue;
    }
    if (type == "SYSTEM" || type == "AWS_BACKUP") continue;
    const json& table = meta["Description"];
    if (!table_name.empty() && table.value("TableName", "") != table_name) continue;
    int64_t created = std::llround(details.value("BackupCreationDateTime", 0.0) * 1000.0);
    if ((lower && created < *lower) || (upper && created > *upper)) continue;
    if (static_cast<int64_t>(summaries.size()) == limit) {
      more = true;
      break;
    }
    json summary = details;
    summary["TableName"] = table["TableName"];
    summary["TableId"] = table["TableId"];
    summary["TableArn"] = table["TableArn"];
    summaries.push_back(std::move(summary));
    last = arn;
  }
  *response = {{"BackupSummaries", summaries}};
  if (more) (*response)["LastEvaluatedBackupArn"] = last;
  return std::nullopt;
}

MaybeError TableService::Impl::DeleteBackup(json& request, json* response) {
  json meta;
  std::string id;
  TABLE_TRY(FindBackup(request, &meta, &id));
  rocksdb::WriteBatch batch;
  batch.DeleteRange(storage->backup_family(), id + "/", id + "0");
  batch.Delete(storage->default_family(), kBackupMetaPrefix + id);
  TABLE_TRY(storage->Write(&batch));
  meta["Details"]["BackupStatus"] = "DELETED";
  *response = {{"BackupDescription", BackupDescription(meta)}};
  return std::nullopt;
}

MaybeError TableService::Impl::RestoreTableFromBackup(json& request, json* response) {
  std::string target;
  TABLE_TRY(StringField(request, "TargetTableName", &target));
  TABLE_TRY(ValidateTableName(target, "TargetTableName"));
  json meta;
  std::string id;
  TABLE_TRY(FindBackup(request, &meta, &id));
  if (storage->Find(target) != nullptr) {
    return ApiError{"TableAlreadyExistsException", "Table already exists: " + target};
  }
  auto source = TableMeta::FromJson(meta["Table"]);
  if (!source) return ApiError::Internal("Internal server error: corrupt backup metadata");
  TableMeta* created = nullptr;
  TABLE_TRY(RestoreInto(
      *source, target,
      [&](const std::function<MaybeError(const std::string&, const json&)>& add) -> MaybeError {
        auto it = storage->NewIterator(storage->backup_family());
        std::string prefix = id + "/";
        for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
          json item = ParseStored(std::string_view(it->value().data(), it->value().size()));
          if (item.is_object()) TABLE_TRY(add(it->key().ToString().substr(prefix.size()), item));
        }
        return std::nullopt;
      },
      &created));
  json description = Describe(*created, "CREATING", false);
  description["RestoreSummary"] = {{"SourceBackupArn", meta["Details"]["BackupArn"]},
                                   {"SourceTableArn", meta["TableArn"]},
                                   {"RestoreDateTime", Seconds(Now())},
                                   {"RestoreInProgress", false}};
  *response = {{"TableDescription", description}};
  return std::nullopt;
}

// =============================================================================================
// Dispatch.

MaybeError TableService::Impl::Dispatch(const std::string& operation, json& request,
                                        json* response) {
  using Handler = MaybeError (Impl::*)(json&, json*);
  static const std::map<std::string, Handler> kOperations = {
      {"CreateTable", &Impl::CreateTable},
      {"DescribeTable", &Impl::DescribeTable},
      {"ListTables", &Impl::ListTables},
      {"DeleteTable", &Impl::DeleteTable},
      {"UpdateTable", &Impl::UpdateTable},
      {"TagResource", &Impl::TagResource},
      {"UntagResource", &Impl::UntagResource},
      {"ListTagsOfResource", &Impl::ListTagsOfResource},
      {"PutItem", &Impl::PutItem},
      {"GetItem", &Impl::GetItem},
      {"DeleteItem", &Impl::DeleteItem},
      {"UpdateItem", &Impl::UpdateItem},
      {"BatchGetItem", &Impl::BatchGetItem},
      {"BatchWriteItem", &Impl::BatchWriteItem},
      {"TransactWriteItems", &Impl::TransactWriteItems},
      {"TransactGetItems", &Impl::TransactGetItems},
      {"UpdateTimeToLive", &Impl::UpdateTimeToLive},
      {"DescribeTimeToLive", &Impl::DescribeTimeToLive},
      {"UpdateContinuousBackups", &Impl::UpdateContinuousBackups},
      {"DescribeContinuousBackups", &Impl::DescribeContinuousBackups},
      {"RestoreTableToPointInTime", &Impl::RestoreTableToPointInTime},
      {"CreateBackup", &Impl::CreateBackup},
      {"DescribeBackup", &Impl::DescribeBackup},
      {"ListBackups", &Impl::ListBackups},
      {"DeleteBackup", &Impl::DeleteBackup},
      {"RestoreTableFromBackup", &Impl::RestoreTableFromBackup},
  };
  if (operation.starts_with(kStreamsTargetPrefix)) {
    return StreamsDispatch(operation.substr(kStreamsTargetPrefix.size()), request, response);
  }
  if (operation == "Query" || operation == "Scan") {
    bool query = operation == "Query";
    // Eventually consistent pages of a cached table are answered from the cache while no
    // write to the table happened since (the generation is part of the key).
    TableMeta* table = nullptr;
    if (request.is_object() && request.contains("TableName") && request["TableName"].is_string()) {
      table = storage->Find(request["TableName"].get<std::string>());
    }
    const json* consistent = table ? Field(request, "ConsistentRead") : nullptr;
    int64_t ttl = table && !(consistent && consistent->is_boolean() && consistent->get<bool>())
                      ? CacheTtl(*table)
                      : 0;
    if (ttl == 0) return QueryOrScan(query, request, response);
    std::string key = std::string("q") + '\0' + table->id + '\0' +
                      std::to_string(generations[table->id]) + '\0' + operation + '\0' +
                      Dump(request);
    if (const CacheEntry* hit = CacheFind(*table, key)) {
      raw_response = *hit->value;
      return std::nullopt;
    }
    TABLE_TRY(QueryOrScan(query, request, response));
    CachePut(std::move(key), raw_response ? *raw_response : Dump(*response), ttl);
    return std::nullopt;
  }
  if (operation == "DescribeEndpoints") {
    *response = {{"Endpoints", json::array({{{"Address", host}, {"CachePeriodInMinutes", 1440}}})}};
    return std::nullopt;
  }
  if (operation == "DescribeLimits") {
    *response = {{"AccountMaxReadCapacityUnits", 80000},
                 {"AccountMaxWriteCapacityUnits", 80000},
                 {"TableMaxReadCapacityUnits", 40000},
                 {"TableMaxWriteCapacityUnits", 40000}};
    return std::nullopt;
  }
  if (export_import && ExportImport::Handles(operation)) {
    return export_import->Dispatch(operation, request, response);
  }
  auto it = kOperations.find(operation);
  if (it == kOperations.end()) {
    return ApiError{"UnknownOperationException", "", 400};
  }
  return (this->*(it->second))(request, response);
}

TableService::TableService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TableService::~TableService() = default;

Result<std::unique_ptr<TableService>> TableService::Open(const std::string& directory,
                                                         TableOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  bool group_commit = impl->options.sync && impl->options.loop != nullptr;
  if (auto error = Storage::Open(directory, impl->options.sync && !group_commit, &impl->storage)) {
    return Status::IoError("table storage at " + directory + ": " + error->message);
  }
  if (auto error = impl->LoadStreams()) {
    return Status::IoError("table storage at " + directory + ": " + error->message);
  }
  if (group_commit) impl->syncer = std::thread([raw = impl.get()] { raw->SyncerLoop(); });
  impl->ScheduleMaintenance();
  Impl* raw = impl.get();
  auto service = std::unique_ptr<TableService>(new TableService(std::move(impl)));
  ExportImportHost host{raw->storage.get(), raw->options.loop, raw->options.region,
                        raw->options.account, raw->options.now_ms, raw->options.objects,
                        [service = service.get()](const std::string& operation,
                                                  const std::string& body) {
                          return service->Execute(operation, body);
                        },
                        [raw] { raw->Answer(nullptr, HttpResponse{}); }};
  raw->export_import = std::make_unique<ExportImport>(std::move(host));
  return service;
}

HttpResponse TableService::Execute(const std::string& operation, const std::string& body) {
  try {
    json request = ParseJson(body.empty() ? std::string_view("{}") : std::string_view(body));
    if (request.is_discarded() || !request.is_object()) {
      return ErrorResponse(
          ApiError::Serialization("Start of structure or map found where not expected."));
    }
    json response;
    impl_->raw_response.reset();
    // TTL sweeps and stream trimming also run here when due, so a test that moves the
    // injected clock sees their effect on its next request without waiting for the timer.
    if (impl_->Now() >= impl_->next_maintenance_ms) impl_->Maintain();
    if (auto error = impl_->Dispatch(operation, request, &response)) return ErrorResponse(*error);
    if (impl_->raw_response) return MakeResponse(200, std::move(*impl_->raw_response));
    return MakeResponse(200, Dump(response));
  } catch (const std::exception& e) {
    // Not expected (request paths do not throw); a malformed request must never end the server.
    return ErrorResponse(ApiError::Internal(std::string("Internal server error: ") + e.what()));
  }
}

bool TableService::Handle(HttpRequest& request, const std::shared_ptr<Responder>& responder) {
  std::string_view target = request.headers.Get("X-Amz-Target");
  bool streams = target.starts_with(kStreamsTargetPrefix);
  if (!target.starts_with(kTargetPrefix) && !streams) return false;
  std::string_view host = request.headers.Get("Host");
  if (!host.empty()) impl_->host = std::string(host);
  impl_->storage->TakeDirty();
  // dynamodbstreams operations go through Execute with their full target as the name.
  std::string operation(streams ? target : target.substr(kTargetPrefix.size()));
  impl_->Answer(responder, Execute(operation, request.body));
  return true;
}

// Streams for in-process consumers.
Result<std::vector<StreamShardInfo>> TableService::StreamShards(const std::string& stream_arn) {
  StreamMeta* stream = impl_->FindStream(stream_arn);
  if (stream == nullptr) {
    return Status::NotFound("Requested resource not found: Stream: " + stream_arn + " not found");
  }
  StreamShardInfo shard;
  shard.shard_id = stream->shard_id;
  shard.starting_sequence_number = FormatSequence(stream->starting);
  if (!stream->enabled) shard.ending_sequence_number = FormatSequence(stream->ending);
  return std::vector<StreamShardInfo>{shard};
}

Result<std::vector<StreamRecord>> TableService::ReadStream(const std::string& stream_arn,
                                                           const std::string& shard_id,
                                                           const std::string& after_sequence,
                                                           size_t limit) {
  StreamMeta* stream = impl_->FindStream(stream_arn);
  if (stream == nullptr) {
    return Status::NotFound("Requested resource not found: Stream: " + stream_arn + " not found");
  }
  if (shard_id != stream->shard_id) {
    return Status::NotFound("Requested resource not found: Shard does not exist");
  }
  uint64_t next = std::max(stream->trimmed_through + 1, stream->starting);
  if (!after_sequence.empty()) {
    auto after = ParseSequence(after_sequence);
    if (!after) return Status::InvalidArgument("invalid sequence number: " + after_sequence);
    if (*after < stream->trimmed_through) {
      return Status::Unavailable("records after " + after_sequence + " of " + stream_arn +
                                 " were trimmed (older than 24 hours)");
    }
    next = std::max(next, *after + 1);
  }
  std::vector<Impl::RawRecord> records;
  bool at_end = false;
  if (auto error = impl_->ReadRecords(*stream, next, limit, SIZE_MAX, &records, &at_end)) {
    return Status::Internal(error->message);
  }
  std::vector<StreamRecord> out;
  for (auto& raw : records) {
    StreamRecord record;
    record.sequence_number = FormatSequence(raw.counter);
    record.approximate_creation_ms = raw.created_ms;
    json parsed = json::parse(raw.json, nullptr, false);
    if (parsed.is_object()) record.size_bytes = parsed["dynamodb"].value("SizeBytes", int64_t{0});
    record.json = std::move(raw.json);
    out.push_back(std::move(record));
  }
  return out;
}

Result<std::string> TableService::LatestSequenceNumber(const std::string& stream_arn,
                                                       const std::string& shard_id) {
  StreamMeta* stream = impl_->FindStream(stream_arn);
  if (stream == nullptr) {
    return Status::NotFound("Requested resource not found: Stream: " + stream_arn + " not found");
  }
  if (shard_id != stream->shard_id) {
    return Status::NotFound("Requested resource not found: Shard does not exist");
  }
  if (stream->last == 0 || stream->last <= stream->trimmed_through) return std::string();
  return FormatSequence(stream->last);
}

Result<ReadCacheStats> TableService::ReadCacheStatsOf(const std::string& table_name) {
  TableMeta* table = impl_->storage->Find(table_name);
  if (table == nullptr) return Status::NotFound("table not found: " + table_name);
  auto it = impl_->cache_stats.find(table->id);
  return it == impl_->cache_stats.end() ? ReadCacheStats{} : it->second;
}

void TableService::AddStreamListener(std::function<void(const std::string&)> listener) {
  impl_->listeners.push_back(std::move(listener));
}

std::string TableService::ReadCacheMetricsText() {
  std::string out =
      "# HELP haneul_table_read_cache_hits_total Eventually consistent reads answered from the "
      "table's read cache.\n# TYPE haneul_table_read_cache_hits_total counter\n";
  std::string misses =
      "# HELP haneul_table_read_cache_misses_total Eventually consistent reads of a cached table "
      "that went to storage.\n# TYPE haneul_table_read_cache_misses_total counter\n";
  for (const auto& [name, table] : impl_->storage->tables()) {
    auto it = impl_->cache_stats.find(table->id);
    if (it == impl_->cache_stats.end() && impl_->CacheTtl(*table) == 0) continue;
    ReadCacheStats stats = it == impl_->cache_stats.end() ? ReadCacheStats{} : it->second;
    // Table names are [a-zA-Z0-9_.-]+: nothing to escape in the label.
    out += "haneul_table_read_cache_hits_total{table=\"" + name + "\"} " +
           std::to_string(stats.hits) + "\n";
    misses += "haneul_table_read_cache_misses_total{table=\"" + name + "\"} " +
              std::to_string(stats.misses) + "\n";
  }
  return out + misses;
}

}  // namespace haneul::table
