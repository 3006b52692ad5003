// Table exports to and imports from the object store; see export_import.h.
#include "export_import.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <cctype>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <optional>

#include "haneul/common/ids.h"
#include "import_parsers.h"

namespace haneul::table {

namespace {

constexpr char kExportMetaPrefix[] = "export/";
constexpr char kImportMetaPrefix[] = "import/";
// A data file holds at most this many items or bytes (before compression).
constexpr size_t kItemsPerDataFile = 10000;
constexpr size_t kBytesPerDataFile = 32 * 1024 * 1024;
// Items written per loop turn during an import, so requests interleave with the import.
constexpr size_t kItemsPerWriteTurn = 100;
constexpr size_t kMaxSourceObjectBytes = 1024ull * 1024 * 1024;
constexpr size_t kLoggedErrorsPerImport = 1000;
constexpr int64_t kTokenWindowMs = 8 * 3600 * 1000LL;  // ClientToken idempotency (AWS: 8 hours)
// Same layout as the point-in-time log written by table_service.cc (AddChange):
// "<table id>/<16-digit unix ms>/<sequence>" -> {"k": base64 item key, "o": old image | null}.
constexpr int64_t kPitrWindowMillis = 35LL * 24 * 3600 * 1000;

double Seconds(int64_t unix_millis) { return static_cast<double>(unix_millis) / 1000.0; }

std::string Pad(int64_t value, int width) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%0*lld", width,
                static_cast<long long>(std::max<int64_t>(0, value)));
  return buffer;
}

ApiError Missing(const std::string& member) {
  return ApiError::Validation("1 validation error detected: Value null at '" + member +
                              "' failed to satisfy constraint: Member must not be null");
}

ApiError NotInEnum(const std::string& value, const std::string& member, const std::string& values) {
  return ApiError::Validation("1 validation error detected: Value '" + value + "' at '" + member +
                              "' failed to satisfy constraint: Member must satisfy enum value "
                              "set: [" +
                              values + "]");
}

// "NoSuchBucket: The specified bucket does not exist" -> ("NoSuchBucket", the rest).
std::pair<std::string, std::string> SplitFailure(const Status& status) {
  const std::string& message = status.message();
  size_t colon = message.find(": ");
  if (colon != std::string::npos && colon > 0 && message.find(' ') > colon) {
    return {message.substr(0, colon), message.substr(colon + 2)};
  }
  return {"InternalError", message};
}

// An ApiError from a table operation's JSON 1.0 error answer.
ApiError ErrorOf(const HttpResponse& response) {
  json body = json::parse(response.body, nullptr, false);
  std::string type = body.is_object() ? body.value("__type", "InternalServerError") : "";
  size_t hash = type.find('#');
  if (hash != std::string::npos) type = type.substr(hash + 1);
  std::string message = body.is_object() ? body.value("message", "") : response.body;
  return ApiError{type.empty() ? "InternalServerError" : type, message, response.status};
}

MaybeError PageToken(const json& request, const char* name, size_t* start) {
  std::string token;
  TABLE_TRY(StringField(request, name, &token));
  if (token.empty()) return std::nullopt;
  size_t value = 0;
  for (char c : token) {
    if (c < '0' || c > '9' || value > (1u << 30)) {
      return ApiError::Validation("Invalid " + std::string(name));
    }
    value = value * 10 + static_cast<size_t>(c - '0');
  }
  *start = value;
  return std::nullopt;
}

// ImportTable's NextToken must be at least 112 characters (the service model's constraint,
// which botocore enforces on the way back in): the position, zero-padded.
std::string ImportToken(size_t position) {
  std::string digits = std::to_string(position);
  return std::string(120 - digits.size(), '0') + digits;
}

MaybeError PageSize(const json& request, const char* name, int64_t* out) {
  const json* value = Field(request, name);
  if (value == nullptr) return std::nullopt;
  if (!value->is_number_integer())
    return ApiError::Serialization(std::string("Unexpected ") + name);
  int64_t size = value->get<int64_t>();
  if (size < 1 || size > 25) {
    return ApiError::Validation(
        "1 validation error detected: Value '" + std::to_string(size) + "' at '" +
        std::string(1, static_cast<char>(std::tolower(name[0]))) + (name + 1) +
        "' failed to satisfy constraint: Member must have " +
        (size < 1 ? "value greater than or equal to 1" : "value less than or equal to 25"));
  }
  *out = size;
  return std::nullopt;
}

std::string HexToBase64(const std::string& hex) {
  std::string raw;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    auto digit = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return 0;
    };
    raw += static_cast<char>(digit(hex[i]) * 16 + digit(hex[i + 1]));
  }
  return Base64Encode(raw);
}

// A data file name: random, lower case, as DynamoDB's are.
std::string DataFileName() { return RandomHex(26) + ".json.gz"; }

}  // namespace

struct ExportImport::ExportJob {
  std::string arn;
  std::string bucket;
  std::string root;  // "<prefix>/AWSDynamoDB/<exportId>/"
  std::string table_arn;
  std::string table_id;
  // The table as it was at request time, rolled back to the export time: the items of the
  // iterator (pinned at request time) except those in undo, plus undo's images.
  std::unique_ptr<rocksdb::Iterator> iterator;
  std::map<std::string, std::optional<json>> undo;
};

struct ExportImport::ImportJob {
  std::string arn;
  std::string table_name;
  std::string bucket;
  std::string prefix;
  std::string format;  // DYNAMODB_JSON or CSV
  bool gzip = false;
  char delimiter = ',';
  std::vector<std::string> headers;              // CSV HeaderList; empty: each file's first record
  std::map<std::string, std::string> key_types;  // AttributeDefinitions
};

ExportImport::ExportImport(ExportImportHost host) : host_(std::move(host)) { Load(); }

ExportImport::~ExportImport() {
  stopping_ = true;
  *alive_ = false;
  for (auto& worker : threads_) {
    if (worker.thread.joinable()) worker.thread.join();
  }
}

bool ExportImport::Handles(const std::string& operation) {
  return operation == "ExportTableToPointInTime" || operation == "DescribeExport" ||
         operation == "ListExports" || operation == "ImportTable" ||
         operation == "DescribeImport" || operation == "ListImports";
}

MaybeError ExportImport::Dispatch(const std::string& operation, json& request, json* response) {
  if (operation == "ExportTableToPointInTime") return ExportTableToPointInTime(request, response);
  if (operation == "DescribeExport") return DescribeExport(request, response);
  if (operation == "ListExports") return ListExports(request, response);
  if (operation == "ImportTable") return ImportTable(request, response);
  if (operation == "DescribeImport") return DescribeImport(request, response);
  return ListImports(request, response);
}

int64_t ExportImport::Now() const { return host_.now_ms ? host_.now_ms() : NowUnixMillis(); }

bool ExportImport::RunOnLoop(const std::function<void()>& fn) {
  if (host_.loop == nullptr) {
    fn();
    return true;
  }
  struct Pending {
    std::mutex mutex;
    std::condition_variable done_signal;
    bool done = false;
  };
  auto pending = std::make_shared<Pending>();
  std::weak_ptr<bool> token = alive_;
  host_.loop->Post([fn, pending, token] {
    if (auto alive = token.lock(); alive && *alive) fn();
    std::lock_guard<std::mutex> lock(pending->mutex);
    pending->done = true;
    pending->done_signal.notify_all();
  });
  std::unique_lock<std::mutex> lock(pending->mutex);
  // The destructor runs on the loop thread, so a stopping service never runs fn: give up.
  while (!pending->done) {
    if (stopping_) return false;
    pending->done_signal.wait_for(lock, std::chrono::milliseconds(50));
  }
  return true;
}

void ExportImport::Start(std::function<void()> job) {
  if (host_.loop == nullptr) {
    job();
    return;
  }
  for (auto it = threads_.begin(); it != threads_.end();) {
    if (*it->done) {
      it->thread.join();
      it = threads_.erase(it);
    } else {
      ++it;
    }
  }
  auto done = std::make_shared<std::atomic<bool>>(false);
  threads_.push_back({std::thread([job = std::move(job), done] {
                        job();
                        *done = true;
                      }),
                      done});
}

void ExportImport::Save(const std::string& kind, const std::string& arn) {
  json description;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto& map = kind == "export" ? exports_ : imports_;
    auto it = map.find(arn);
    if (it == map.end()) return;
    description = it->second;
  }
  rocksdb::WriteBatch batch;
  batch.Put(host_.storage->default_family(),
            (kind == "export" ? kExportMetaPrefix : kImportMetaPrefix) + arn, description.dump());
  if (auto error = host_.storage->Write(&batch)) {
    std::fprintf(stderr, "haneul: table %s %s: cannot save its description: %s\n", kind.c_str(),
                 arn.c_str(), error->message.c_str());
  }
}

// An import cut short by a stop leaves a partly filled table; a failed import leaves none.
void ExportImport::DropPartialTable(const json& description) {
  if (!host_.execute) return;
  std::string name = description.value("TableCreationParameters", json::object())
                         .value("TableName", std::string());
  TableMeta* table = name.empty() ? nullptr : host_.storage->Find(name);
  if (table == nullptr || table->id != description.value("TableId", "")) return;
  host_.execute("DeleteTable", json{{"TableName", name}}.dump());
  if (host_.commit) host_.commit();
}

void ExportImport::Load() {
  for (const char* prefix : {kExportMetaPrefix, kImportMetaPrefix}) {
    bool is_export = std::string(prefix) == kExportMetaPrefix;
    std::vector<std::string> interrupted;
    auto it = host_.storage->NewIterator(host_.storage->default_family());
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      json description = json::parse(it->value().ToString(), nullptr, false);
      if (!description.is_object()) continue;
      std::string arn = it->key().ToString().substr(std::string(prefix).size());
      const char* status_field = is_export ? "ExportStatus" : "ImportStatus";
      if (description.value(status_field, "") == "IN_PROGRESS") {
        description[status_field] = "FAILED";
        description["FailureCode"] = "InternalServerError";
        description["FailureMessage"] = "The server stopped before the job finished";
        description["EndTime"] = Seconds(Now());
        interrupted.push_back(arn);
      }
      std::string token = description.value("ClientToken", "");
      auto& tokens = is_export ? export_tokens_ : import_tokens_;
      if (!token.empty()) {
        tokens[token] = {description.value("_Fingerprint", ""), arn,
                         static_cast<int64_t>(description.value("StartTime", 0.0) * 1000)};
      }
      (is_export ? exports_ : imports_)[arn] = std::move(description);
    }
    for (const auto& arn : interrupted) {
      if (!is_export) DropPartialTable(imports_[arn]);
      Save(is_export ? "export" : "import", arn);
    }
  }
}

namespace {

// The wire form of a description: without the private members (leading underscore).
json Public(const json& description) {
  json out = json::object();
  for (auto& [name, value] : description.items()) {
    if (!name.starts_with("_")) out[name] = value;
  }
  return out;
}

}  // namespace

// ---- exports ------------------------------------------------------------------------------------

MaybeError ExportImport::ExportTableToPointInTime(json& request, json* response) {
  std::string table_arn, bucket, owner, prefix, format = "DYNAMODB_JSON", type = "FULL_EXPORT",
                                                token, sse = "AES256", kms;
  TABLE_TRY(StringField(request, "TableArn", &table_arn));
  TABLE_TRY(StringField(request, "S3Bucket", &bucket));
  TABLE_TRY(StringField(request, "S3BucketOwner", &owner));
  TABLE_TRY(StringField(request, "S3Prefix", &prefix));
  TABLE_TRY(StringField(request, "ExportFormat", &format));
  TABLE_TRY(StringField(request, "ExportType", &type));
  TABLE_TRY(StringField(request, "ClientToken", &token));
  TABLE_TRY(StringField(request, "S3SseAlgorithm", &sse));
  TABLE_TRY(StringField(request, "S3SseKmsKeyId", &kms));
  if (table_arn.empty()) return Missing("tableArn");
  if (bucket.empty()) return Missing("s3Bucket");
  if (format != "DYNAMODB_JSON" && format != "ION") {
    return NotInEnum(format, "exportFormat", "DYNAMODB_JSON, ION");
  }
  if (format == "ION") {
    return ApiError::Validation(
        "ExportFormat ION is not supported by this server; use DYNAMODB_JSON");
  }
  if (type != "FULL_EXPORT" && type != "INCREMENTAL_EXPORT") {
    return NotInEnum(type, "exportType", "FULL_EXPORT, INCREMENTAL_EXPORT");
  }
  if (type == "INCREMENTAL_EXPORT") {
    return ApiError::Validation(
        "ExportType INCREMENTAL_EXPORT is not supported by this server; use FULL_EXPORT");
  }
  if (sse != "AES256" && sse != "KMS") return NotInEnum(sse, "s3SseAlgorithm", "AES256, KMS");
  std::string table_prefix = "arn:aws:dynamodb:" + host_.region + ":" + host_.account + ":table/";
  if (!table_arn.starts_with("arn:aws:dynamodb:") ||
      table_arn.find(":table/") == std::string::npos) {
    return ApiError::Validation("Invalid TableArn: " + table_arn);
  }
  std::string name = table_arn.substr(table_arn.find(":table/") + 7);
  TableMeta* table = table_arn.starts_with(table_prefix) ? host_.storage->Find(name) : nullptr;
  if (table == nullptr) return ApiError{"TableNotFoundException", "Table not found: " + name};
  int64_t now = Now();
  std::optional<int64_t> at;
  if (const json* value = Field(request, "ExportTime")) {
    if (!value->is_number()) return ApiError::Serialization("Unexpected ExportTime");
    double seconds = value->get<double>();
    if (!std::isfinite(seconds) || std::fabs(seconds) > 1e12) {
      return ApiError::Validation("Invalid value for ExportTime");
    }
    at = std::llround(seconds * 1000.0);
  }
  // Idempotency: the same token with the same parameters answers the first export again.
  std::string fingerprint =
      json::array({table_arn, bucket, prefix, format, type, at ? *at : -1}).dump();
  if (!token.empty()) {
    for (auto it = export_tokens_.begin(); it != export_tokens_.end();) {
      it = std::get<2>(it->second) + kTokenWindowMs < now ? export_tokens_.erase(it) : ++it;
    }
    auto found = export_tokens_.find(token);
    if (found != export_tokens_.end()) {
      if (std::get<0>(found->second) != fingerprint) {
        return ApiError{"ExportConflictException",
                        "There was a conflict when attempting to export: the ClientToken was "
                        "already used with different parameters"};
      }
      std::lock_guard<std::mutex> lock(mutex_);
      *response = {{"ExportDescription", Public(exports_[std::get<1>(found->second)])}};
      return std::nullopt;
    }
  }
  if (table->pitr_since_ms == 0) {
    return ApiError{"PointInTimeRecoveryUnavailableException",
                    "Point in time recovery is not enabled for table '" + name + "'"};
  }
  int64_t when = at ? *at : now;
  int64_t earliest = std::max(table->pitr_since_ms, now - kPitrWindowMillis);
  if (when < earliest || when > now) {
    return ApiError{"InvalidExportTimeException",
                    "ExportTime must be between EarliestRestorableDateTime and "
                    "LatestRestorableDateTime of the table"};
  }

  auto job = std::make_shared<ExportJob>();
  std::string export_id = Pad(now, 14) + "-" + RandomHex(8);
  job->arn = table_arn + "/export/" + export_id;
  job->bucket = bucket;
  job->root = prefix;
  if (!job->root.empty() && job->root.back() != '/') job->root += '/';
  job->root += "AWSDynamoDB/" + export_id + "/";
  job->table_arn = table_arn;
  job->table_id = table->id;
  // The state at `when`, as RestoreTableToPointInTime computes it: the current items, except
  // that every item changed after `when` takes the old image of its first change after it.
  {
    auto it = host_.storage->NewIterator(host_.storage->pitr_family());
    std::string log_prefix = table->id + "/";
    for (it->Seek(log_prefix + Pad(when + 1, 16)); it->Valid() && it->key().starts_with(log_prefix);
         it->Next()) {
      json entry = json::parse(it->value().ToString(), nullptr, false);
      std::string key;
      if (!entry.is_object() || !Base64Decode(entry.value("k", ""), &key)) {
        return ApiError::Internal("Internal server error: corrupt recovery log");
      }
      if (job->undo.count(key)) continue;
      job->undo[key] = entry["o"].is_object() ? std::optional<json>(entry["o"]) : std::nullopt;
    }
  }
  job->iterator = host_.storage->NewIterator(table->family);  // a consistent view from now on

  json description = {
      {"ExportArn", job->arn}, {"ExportStatus", "IN_PROGRESS"}, {"StartTime", Seconds(now)},
      {"TableArn", table_arn}, {"TableId", table->id},          {"ExportTime", Seconds(when)},
      {"S3Bucket", bucket},    {"S3SseAlgorithm", sse},         {"ExportFormat", format},
      {"ExportType", type},    {"_Fingerprint", fingerprint}};
  if (!token.empty()) description["ClientToken"] = token;
  if (!owner.empty()) description["S3BucketOwner"] = owner;
  if (!prefix.empty()) description["S3Prefix"] = prefix;
  if (!kms.empty()) description["S3SseKmsKeyId"] = kms;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    exports_[job->arn] = description;
  }
  if (!token.empty()) export_tokens_[token] = {fingerprint, job->arn, now};
  Save("export", job->arn);
  *response = {{"ExportDescription", Public(description)}};
  Start([this, job] { RunExport(job); });
  return std::nullopt;
}

void ExportImport::RunExport(const std::shared_ptr<ExportJob>& job) {
  auto put = [&](const std::string& key, std::string body) -> Result<std::string> {
    if (!host_.objects.put) {
      return Status::Unavailable("ObjectStoreUnavailable: no object store is configured");
    }
    Result<std::string> result = Status::Unavailable("ServiceStopping: the server is stopping");
    RunOnLoop([&] { result = host_.objects.put(job->bucket, key, std::move(body)); });
    return result;
  };
  auto finish = [&](const std::optional<Status>& failure, const json& extra) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      json& description = exports_[job->arn];
      description["EndTime"] = Seconds(Now());
      for (auto& [name, value] : extra.items()) description[name] = value;
      if (failure) {
        auto [code, message] = SplitFailure(*failure);
        description["ExportStatus"] = "FAILED";
        description["FailureCode"] = code;
        description["FailureMessage"] = message;
      } else {
        description["ExportStatus"] = "COMPLETED";
      }
    }
    job->iterator.reset();
    RunOnLoop([this, arn = job->arn] { Save("export", arn); });
  };

  // _started first: it proves the bucket is writable before any data is read.
  auto started = put(job->root + "_started", std::string());
  if (!started.ok()) return finish(started.status(), json::object());

  int64_t items = 0, billed = 0;
  json files = json::array();  // manifest-files.json lines
  std::string pending;
  int64_t pending_items = 0;
  auto flush = [&]() -> std::optional<Status> {
    std::string key = job->root + "data/" + DataFileName();
    std::string compressed = GzipCompress(pending);
    auto etag = put(key, std::move(compressed));
    if (!etag.ok()) return etag.status();
    files.push_back({{"itemCount", pending_items},
                     {"md5Checksum", HexToBase64(*etag)},
                     {"etag", *etag},
                     {"dataFileS3Key", key}});
    items += pending_items;
    pending.clear();
    pending_items = 0;
    std::lock_guard<std::mutex> lock(mutex_);
    exports_[job->arn]["ItemCount"] = items;
    exports_[job->arn]["BilledSizeBytes"] = billed;
    return std::nullopt;
  };
  auto add = [&](std::string_view item_text, size_t size) -> std::optional<Status> {
    pending += "{\"Item\":";
    pending += item_text;
    pending += "}\n";
    ++pending_items;
    billed += static_cast<int64_t>(size);
    if (pending_items >= static_cast<int64_t>(kItemsPerDataFile) ||
        pending.size() >= kBytesPerDataFile) {
      return flush();
    }
    return std::nullopt;
  };
  rocksdb::Iterator* it = job->iterator.get();
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (stopping_)
      return finish(Status::Unavailable("ServiceStopping: the server stopped"), json::object());
    std::string key = it->key().ToString();
    if (job->undo.count(key)) continue;
    // Stored values: 4 bytes little-endian DynamoDB item size, then the item's JSON.
    rocksdb::Slice value = it->value();
    if (value.size() < 4) continue;
    uint32_t size = 0;
    for (int i = 0; i < 4; ++i) {
      size |= static_cast<uint32_t>(static_cast<unsigned char>(value.data()[i])) << (8 * i);
    }
    if (auto error = add(std::string_view(value.data() + 4, value.size() - 4), size)) {
      return finish(*error, json::object());
    }
  }
  if (!it->status().ok()) {
    return finish(Status::IoError("InternalError: " + it->status().ToString()), json::object());
  }
  for (const auto& [key, item] : job->undo) {
    if (!item) continue;
    if (auto error = add(item->dump(), ItemSize(*item))) return finish(*error, json::object());
  }
  // At least one data file, empty for an empty table, as DynamoDB writes for empty partitions.
  if (pending_items > 0 || files.empty()) {
    if (auto error = flush()) return finish(*error, json::object());
  }

  std::string files_text;
  for (const auto& file : files) files_text += file.dump() + "\n";
  std::string files_key = job->root + "manifest-files.json";
  auto files_etag = put(files_key, files_text);
  if (!files_etag.ok()) return finish(files_etag.status(), json::object());
  auto files_checksum = put(job->root + "manifest-files.checksum", *files_etag);
  if (!files_checksum.ok()) return finish(files_checksum.status(), json::object());

  json description;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    description = exports_[job->arn];
  }
  int64_t end = Now();
  auto iso = [](double seconds) { return IsoTimestamp(std::llround(seconds * 1000)); };
  json summary = {{"version", "2020-06-30"},
                  {"exportArn", job->arn},
                  {"startTime", iso(description.value("StartTime", 0.0))},
                  {"endTime", IsoTimestamp(end)},
                  {"tableArn", job->table_arn},
                  {"tableId", job->table_id},
                  {"exportTime", iso(description.value("ExportTime", 0.0))},
                  {"s3Bucket", job->bucket},
                  {"s3Prefix", description.contains("S3Prefix") ? description["S3Prefix"] : json()},
                  {"s3SseAlgorithm", description.value("S3SseAlgorithm", "AES256")},
                  {"s3SseKmsKeyId",
                   description.contains("S3SseKmsKeyId") ? description["S3SseKmsKeyId"] : json()},
                  {"manifestFilesS3Key", files_key},
                  {"billedSizeBytes", billed},
                  {"itemCount", items},
                  {"outputFormat", "DYNAMODB_JSON"},
                  {"exportType", "FULL_EXPORT"}};
  std::string summary_key = job->root + "manifest-summary.json";
  auto summary_etag = put(summary_key, summary.dump());
  if (!summary_etag.ok()) return finish(summary_etag.status(), json::object());
  auto summary_checksum = put(job->root + "manifest-summary.checksum", *summary_etag);
  if (!summary_checksum.ok()) return finish(summary_checksum.status(), json::object());
  finish(std::nullopt,
         {{"ExportManifest", summary_key}, {"ItemCount", items}, {"BilledSizeBytes", billed}});
}

MaybeError ExportImport::DescribeExport(json& request, json* response) {
  std::string arn;
  TABLE_TRY(StringField(request, "ExportArn", &arn));
  if (arn.empty()) return Missing("exportArn");
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = exports_.find(arn);
  if (it == exports_.end()) return ApiError{"ExportNotFoundException", "Export not found: " + arn};
  *response = {{"ExportDescription", Public(it->second)}};
  return std::nullopt;
}

MaybeError ExportImport::ListExports(json& request, json* response) {
  std::string table_arn;
  TABLE_TRY(StringField(request, "TableArn", &table_arn));
  int64_t limit = 25;
  TABLE_TRY(PageSize(request, "MaxResults", &limit));
  size_t start = 0;
  TABLE_TRY(PageToken(request, "NextToken", &start));
  std::lock_guard<std::mutex> lock(mutex_);
  json summaries = json::array();
  size_t position = 0;
  bool more = false;
  for (const auto& [arn, description] : exports_) {
    if (!table_arn.empty() && description.value("TableArn", "") != table_arn) continue;
    if (position++ < start) continue;
    if (static_cast<int64_t>(summaries.size()) == limit) {
      more = true;
      break;
    }
    summaries.push_back({{"ExportArn", arn},
                         {"ExportStatus", description.value("ExportStatus", "")},
                         {"ExportType", description.value("ExportType", "FULL_EXPORT")}});
  }
  *response = {{"ExportSummaries", summaries}};
  if (more) (*response)["NextToken"] = std::to_string(start + summaries.size());
  return std::nullopt;
}

// ---- imports ------------------------------------------------------------------------------------

MaybeError ExportImport::ImportTable(json& request, json* response) {
  const json* source = Field(request, "S3BucketSource");
  if (source == nullptr) return Missing("s3BucketSource");
  if (!source->is_object()) return ApiError::Serialization("Unexpected S3BucketSource");
  std::string bucket, key_prefix, format, compression = "NONE", token;
  TABLE_TRY(StringField(*source, "S3Bucket", &bucket));
  TABLE_TRY(StringField(*source, "S3KeyPrefix", &key_prefix));
  if (bucket.empty()) return Missing("s3BucketSource.s3Bucket");
  TABLE_TRY(StringField(request, "InputFormat", &format));
  if (format.empty()) return Missing("inputFormat");
  if (format != "DYNAMODB_JSON" && format != "ION" && format != "CSV") {
    return NotInEnum(format, "inputFormat", "DYNAMODB_JSON, ION, CSV");
  }
  if (format == "ION") {
    return ApiError::Validation(
        "InputFormat ION is not supported by this server; use DYNAMODB_JSON or CSV");
  }
  TABLE_TRY(StringField(request, "InputCompressionType", &compression));
  if (compression != "GZIP" && compression != "ZSTD" && compression != "NONE") {
    return NotInEnum(compression, "inputCompressionType", "GZIP, ZSTD, NONE");
  }
  if (compression == "ZSTD") {
    return ApiError::Validation(
        "InputCompressionType ZSTD is not supported by this server; use GZIP or NONE");
  }
  TABLE_TRY(StringField(request, "ClientToken", &token));
  auto job = std::make_shared<ImportJob>();
  job->bucket = bucket;
  job->prefix = key_prefix;
  job->format = format;
  job->gzip = compression == "GZIP";
  if (const json* options = Field(request, "InputFormatOptions")) {
    if (!options->is_object()) return ApiError::Serialization("Unexpected InputFormatOptions");
    if (const json* csv = Field(*options, "Csv")) {
      if (!csv->is_object()) return ApiError::Serialization("Unexpected Csv");
      std::string delimiter = ",";
      TABLE_TRY(StringField(*csv, "Delimiter", &delimiter));
      if (delimiter.size() != 1 || std::string(",\t:;| ").find(delimiter[0]) == std::string::npos) {
        return ApiError::Validation(
            "The CSV delimiter must be one of: comma, tab, colon, semicolon, pipe, space");
      }
      job->delimiter = delimiter[0];
      if (const json* list = Field(*csv, "HeaderList")) {
        if (!list->is_array() || list->empty() || list->size() > 255) {
          return ApiError::Validation("HeaderList must hold 1 to 255 column names");
        }
        for (const auto& header : *list) {
          if (!header.is_string() || header.get_ref<const std::string&>().empty()) {
            return ApiError::Validation("HeaderList must hold non-empty column names");
          }
          job->headers.push_back(header.get<std::string>());
        }
      }
    }
  }
  const json* parameters = Field(request, "TableCreationParameters");
  if (parameters == nullptr) return Missing("tableCreationParameters");
  if (!parameters->is_object())
    return ApiError::Serialization("Unexpected TableCreationParameters");
  TABLE_TRY(StringField(*parameters, "TableName", &job->table_name));
  if (job->table_name.empty()) return Missing("tableCreationParameters.tableName");
  if (const json* definitions = Field(*parameters, "AttributeDefinitions")) {
    if (definitions->is_array()) {
      for (const auto& definition : *definitions) {
        if (definition.is_object() && definition.value("AttributeName", json()).is_string() &&
            definition.value("AttributeType", json()).is_string()) {
          job->key_types[definition["AttributeName"].get<std::string>()] =
              definition["AttributeType"].get<std::string>();
        }
      }
    }
  }
  int64_t now = Now();
  std::string fingerprint = json::array({*source, format, compression,
                                         request.value("InputFormatOptions", json()), *parameters})
                                .dump();
  if (!token.empty()) {
    for (auto it = import_tokens_.begin(); it != import_tokens_.end();) {
      it = std::get<2>(it->second) + kTokenWindowMs < now ? import_tokens_.erase(it) : ++it;
    }
    auto found = import_tokens_.find(token);
    if (found != import_tokens_.end()) {
      if (std::get<0>(found->second) != fingerprint) {
        return ApiError{"ImportConflictException",
                        "There was a conflict when importing from the specified S3 source: the "
                        "ClientToken was already used with different parameters"};
      }
      std::lock_guard<std::mutex> lock(mutex_);
      *response = {{"ImportTableDescription", Public(imports_[std::get<1>(found->second)])}};
      return std::nullopt;
    }
  }
  if (host_.storage->Find(job->table_name) != nullptr) {
    return ApiError::InUse("Table already exists: " + job->table_name);
  }
  // The table exists from now on (so its name is taken), filled by the job.
  json create = *parameters;
  if (!create.contains("BillingMode") || create["BillingMode"].is_null()) {
    if (!create.contains("ProvisionedThroughput") || create["ProvisionedThroughput"].is_null()) {
      create["BillingMode"] = "PAY_PER_REQUEST";
    }
  }
  HttpResponse created = host_.execute("CreateTable", create.dump());
  if (created.status != 200) return ErrorOf(created);
  TableMeta* table = host_.storage->Find(job->table_name);
  if (table == nullptr) return ApiError::Internal("Internal server error: the table vanished");
  std::string table_arn =
      "arn:aws:dynamodb:" + host_.region + ":" + host_.account + ":table/" + job->table_name;
  job->arn = table_arn + "/import/" + Pad(now, 14) + "-" + RandomHex(8);
  json description = {{"ImportArn", job->arn},
                      {"ImportStatus", "IN_PROGRESS"},
                      {"TableArn", table_arn},
                      {"TableId", table->id},
                      {"S3BucketSource", *source},
                      {"ErrorCount", 0},
                      {"InputFormat", format},
                      {"InputCompressionType", compression},
                      {"TableCreationParameters", *parameters},
                      {"StartTime", Seconds(now)},
                      {"ProcessedSizeBytes", 0},
                      {"ProcessedItemCount", 0},
                      {"ImportedItemCount", 0},
                      {"_Fingerprint", fingerprint}};
  if (const json* options = Field(request, "InputFormatOptions")) {
    description["InputFormatOptions"] = *options;
  }
  if (!token.empty()) description["ClientToken"] = token;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    imports_[job->arn] = description;
  }
  if (!token.empty()) import_tokens_[token] = {fingerprint, job->arn, now};
  Save("import", job->arn);
  *response = {{"ImportTableDescription", Public(description)}};
  Start([this, job] { RunImport(job); });
  return std::nullopt;
}

void ExportImport::RunImport(const std::shared_ptr<ImportJob>& job) {
  int64_t processed_items = 0, imported = 0, errors = 0, processed_bytes = 0;
  size_t logged = 0;
  auto log_error = [&](const std::string& where, const std::string& message) {
    ++errors;
    if (logged++ < kLoggedErrorsPerImport) {
      std::fprintf(stderr, "haneul: ImportTable %s: %s: %s\n", job->arn.c_str(), where.c_str(),
                   message.c_str());
    } else if (logged == kLoggedErrorsPerImport + 1) {
      std::fprintf(stderr, "haneul: ImportTable %s: further errors are counted, not logged\n",
                   job->arn.c_str());
    }
  };
  auto progress = [&] {
    std::lock_guard<std::mutex> lock(mutex_);
    json& description = imports_[job->arn];
    description["ProcessedItemCount"] = processed_items;
    description["ImportedItemCount"] = imported;
    description["ErrorCount"] = errors;
    description["ProcessedSizeBytes"] = processed_bytes;
  };
  auto finish = [&](const std::optional<Status>& failure) {
    progress();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      json& description = imports_[job->arn];
      description["EndTime"] = Seconds(Now());
      if (failure) {
        auto [code, message] = SplitFailure(*failure);
        description["ImportStatus"] = "FAILED";
        description["FailureCode"] = code;
        description["FailureMessage"] = message;
      } else {
        description["ImportStatus"] = "COMPLETED";
      }
    }
    if (failure) {
      std::fprintf(stderr, "haneul: ImportTable %s failed: %s\n", job->arn.c_str(),
                   failure->message().c_str());
    }
    RunOnLoop([this, job, failed = failure.has_value()] {
      // A failed import leaves no table behind, as on DynamoDB.
      if (failed) {
        json description;
        {
          std::lock_guard<std::mutex> lock(mutex_);
          description = imports_[job->arn];
        }
        DropPartialTable(description);
      }
      Save("import", job->arn);
    });
  };
  if (!host_.objects.list || !host_.objects.get) {
    return finish(Status::Unavailable("ObjectStoreUnavailable: no object store is configured"));
  }
  Result<std::vector<TableObjectStore::Listed>> listed =
      Status::Unavailable("ServiceStopping: the server is stopping");
  RunOnLoop([&] { listed = host_.objects.list(job->bucket, job->prefix); });
  if (!listed.ok()) return finish(listed.status());
  std::vector<TableObjectStore::Listed> objects;
  for (auto& object : *listed) {
    if (!object.key.ends_with("/")) objects.push_back(std::move(object));
  }
  if (objects.empty()) {
    return finish(Status::NotFound("InvalidS3Prefix: no objects found under s3://" + job->bucket +
                                   "/" + job->prefix));
  }

  std::vector<json> batch;
  auto write = [&]() -> bool {
    if (batch.empty()) return true;
    std::vector<std::string> failures;
    int64_t written = 0;
    bool ran = RunOnLoop([&] {
      for (auto& item : batch) {
        HttpResponse answer =
            host_.execute("PutItem", json{{"TableName", job->table_name}, {"Item", item}}.dump());
        if (answer.status == 200) {
          ++written;
        } else {
          ApiError error = ErrorOf(answer);
          failures.push_back(error.type + ": " + error.message);
        }
      }
      if (host_.commit) host_.commit();
    });
    if (!ran) return false;
    imported += written;
    for (const auto& failure : failures) log_error("item refused", failure);
    batch.clear();
    progress();
    return true;
  };
  for (const auto& object : objects) {
    if (stopping_) return finish(Status::Unavailable("ServiceStopping: the server stopped"));
    Result<std::string> body = Status::Unavailable("ServiceStopping: the server is stopping");
    RunOnLoop([&] { body = host_.objects.get(job->bucket, object.key); });
    std::string where = "s3://" + job->bucket + "/" + object.key;
    if (!body.ok()) {
      log_error(where, body.status().message());
      continue;
    }
    processed_bytes += static_cast<int64_t>(body->size());
    std::string text;
    if (job->gzip) {
      std::string error;
      if (!GzipDecompress(*body, kMaxSourceObjectBytes, &text, &error)) {
        log_error(where, error);
        continue;
      }
    } else {
      text = std::move(*body);
    }
    if (job->format == "DYNAMODB_JSON") {
      size_t start = 0, line_number = 0;
      while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        std::string_view line(text.data() + start, end - start);
        start = end + 1;
        ++line_number;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
        ++processed_items;
        json item;
        std::string error;
        if (!ParseDynamoDbJsonLine(line, &item, &error)) {
          log_error(where + " line " + std::to_string(line_number), error);
          continue;
        }
        batch.push_back(std::move(item));
        if (batch.size() >= kItemsPerWriteTurn && !write()) {
          return finish(Status::Unavailable("ServiceStopping: the server stopped"));
        }
      }
    } else {
      CsvReader reader(text, job->delimiter);
      std::vector<std::string> headers = job->headers;
      std::vector<std::string> fields;
      std::string error;
      while (true) {
        CsvReader::Row row = reader.Next(&fields, &error);
        if (row == CsvReader::Row::kEnd) break;
        std::string at = where + " line " + std::to_string(reader.line());
        if (headers.empty()) {
          // The first record of each file names the columns when no HeaderList was given.
          if (row == CsvReader::Row::kMalformed) {
            log_error(at, "malformed header: " + error);
            break;
          }
          headers = fields;
          continue;
        }
        ++processed_items;
        if (row == CsvReader::Row::kMalformed) {
          log_error(at, error);
          continue;
        }
        json item;
        if (!CsvRecordToItem(headers, fields, job->key_types, &item, &error)) {
          log_error(at, error);
          continue;
        }
        batch.push_back(std::move(item));
        if (batch.size() >= kItemsPerWriteTurn && !write()) {
          return finish(Status::Unavailable("ServiceStopping: the server stopped"));
        }
      }
    }
    progress();
  }
  if (!write()) return finish(Status::Unavailable("ServiceStopping: the server stopped"));
  finish(std::nullopt);
}

MaybeError ExportImport::DescribeImport(json& request, json* response) {
  std::string arn;
  TABLE_TRY(StringField(request, "ImportArn", &arn));
  if (arn.empty()) return Missing("importArn");
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = imports_.find(arn);
  if (it == imports_.end()) return ApiError{"ImportNotFoundException", "Import not found: " + arn};
  *response = {{"ImportTableDescription", Public(it->second)}};
  return std::nullopt;
}

MaybeError ExportImport::ListImports(json& request, json* response) {
  std::string table_arn;
  TABLE_TRY(StringField(request, "TableArn", &table_arn));
  int64_t limit = 25;
  TABLE_TRY(PageSize(request, "PageSize", &limit));
  size_t start = 0;
  TABLE_TRY(PageToken(request, "NextToken", &start));
  std::lock_guard<std::mutex> lock(mutex_);
  json summaries = json::array();
  size_t position = 0;
  bool more = false;
  for (const auto& [arn, description] : imports_) {
    if (!table_arn.empty() && description.value("TableArn", "") != table_arn) continue;
    if (position++ < start) continue;
    if (static_cast<int64_t>(summaries.size()) == limit) {
      more = true;
      break;
    }
    json summary = {{"ImportArn", arn}};
    for (const char* name : {"ImportStatus", "TableArn", "S3BucketSource", "InputFormat",
                             "StartTime", "EndTime", "CloudWatchLogGroupArn"}) {
      if (description.contains(name)) summary[name] = description[name];
    }
    summaries.push_back(std::move(summary));
  }
  *response = {{"ImportSummaryList", summaries}};
  if (more) (*response)["NextToken"] = ImportToken(start + summaries.size());
  return std::nullopt;
}

}  // namespace haneul::table
