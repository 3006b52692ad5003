// ObjectService: S3's REST XML API over blob files and a RocksDB metadata instance (see
// object_service.h for the storage layout and its crash safety).
// Thread-safety: not thread-safe; everything runs on the server's event-loop thread.
#include "haneul/objects/object_service.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "haneul/common/ids.h"
#include "haneul/common/kv_store.h"
#include "haneul/common/sigv4.h"
#include "s3_util.h"

namespace haneul::objects {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
// Header values (user metadata, content types) may hold any bytes: never throw on invalid UTF-8.
constexpr auto kReplace = json::error_handler_t::replace;

constexpr const char* kXmlns = "http://s3.amazonaws.com/doc/2006-03-01/";
constexpr const char* kXmlHeader = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
constexpr int64_t kMinPartSize = 5 * 1024 * 1024;
constexpr size_t kMaxUserMetadata = 2048;
// The standard headers stored with an object and returned by GetObject/HeadObject.
const char* const kStoredHeaders[] = {"Cache-Control",
                                      "Content-Disposition",
                                      "Content-Encoding",
                                      "Content-Language",
                                      "Expires",
                                      "x-amz-website-redirect-location",
                                      "x-amz-storage-class"};
const char* const kChecksumHeaders[] = {"x-amz-checksum-crc32", "x-amz-checksum-crc32c",
                                        "x-amz-checksum-crc64nvme", "x-amz-checksum-sha1",
                                        "x-amz-checksum-sha256"};

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string Upper(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return text;
}

std::string Quote(const std::string& etag) { return "\"" + etag + "\""; }

std::string Unquote(std::string_view etag) {
  while (!etag.empty() && etag.front() == ' ') etag.remove_prefix(1);
  while (!etag.empty() && etag.back() == ' ') etag.remove_suffix(1);
  if (etag.starts_with("W/")) etag.remove_prefix(2);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    etag = etag.substr(1, etag.size() - 2);
  }
  return std::string(etag);
}

// An If-Match / If-None-Match list ("*" or comma-separated ETags) against an ETag.
bool EtagListMatches(std::string_view list, const std::string& etag) {
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    std::string item = Unquote(list.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    if (item == "*" || item == etag) return true;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return false;
}

struct ObjectMeta {
  std::string blob;
  int64_t size = 0;
  std::string etag;  // unquoted
  int64_t modified_ms = 0;
  std::string content_type;
  std::map<std::string, std::string> user;       // lower-case name after x-amz-meta-
  std::map<std::string, std::string> headers;    // kStoredHeaders
  std::map<std::string, std::string> checksums;  // kChecksumHeaders
  int parts = 0;

  std::string ToJson() const {
    return json{{"blob", blob},         {"size", size},          {"etag", etag},
                {"mtime", modified_ms}, {"ctype", content_type}, {"meta", user},
                {"hdr", headers},       {"ck", checksums},       {"parts", parts}}
        .dump(-1, ' ', false, kReplace);
  }
  static std::optional<ObjectMeta> FromJson(std::string_view text) {
    auto j = json::parse(text, nullptr, false);
    if (!j.is_object()) return std::nullopt;
    ObjectMeta meta;
    meta.blob = j.value("blob", "");
    meta.size = j.value("size", int64_t{0});
    meta.etag = j.value("etag", "");
    meta.modified_ms = j.value("mtime", int64_t{0});
    meta.content_type = j.value("ctype", "");
    meta.user = j.value("meta", std::map<std::string, std::string>{});
    meta.headers = j.value("hdr", std::map<std::string, std::string>{});
    meta.checksums = j.value("ck", std::map<std::string, std::string>{});
    meta.parts = j.value("parts", 0);
    return meta;
  }
};

struct Target {
  std::string bucket;
  std::string key;
  bool has_key = false;
};

std::string BucketKey(const std::string& bucket) { return "b/" + bucket; }
std::string NotificationKey(const std::string& bucket) { return "n/" + bucket; }
std::string ObjectPrefix(const std::string& bucket) { return "o/" + bucket + "/"; }
std::string UploadPrefix(const std::string& bucket) { return "u/" + bucket + "/"; }

}  // namespace

struct ObjectService::Impl {
  std::string directory;
  ObjectOptions options;
  std::unique_ptr<KvStore> kv;
  uint64_t last_sequencer = 0;

  // Per-request context.
  struct Context {
    HttpRequest* request;
    std::shared_ptr<Responder> responder;
    std::string request_id;
    std::string host_id;
    bool head = false;
  };

  struct PendingEvent {
    std::string event_name;
    std::string bucket;
    std::string key;
    int64_t size = -1;
    std::string etag;
  };

  // ------------------------------------------------------------------------------------------
  // Blobs.

  std::string BlobPath(const std::string& blob) const {
    return directory + "/blobs/" + blob.substr(0, 2) + "/" + blob;
  }

  Status SyncDirectory(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno("open " + path);
    int rc = ::fsync(fd);
    ::close(fd);
    return rc == 0 ? Status::Ok() : Status::FromErrno("fsync " + path);
  }

  // Moves a written (and fsynced) temp file into place as `blob`; the directory entry is made
  // durable too. Still invisible until metadata names it.
  Result<std::string> PublishBlob(const std::string& temp, const std::string& blob) {
    std::string final_path = BlobPath(blob);
    std::string parent = directory + "/blobs/" + blob.substr(0, 2);
    std::error_code ec;
    fs::create_directories(parent, ec);
    if (::rename(temp.c_str(), final_path.c_str()) != 0) {
      Status status = Status::FromErrno("rename " + temp);
      ::unlink(temp.c_str());
      return status;
    }
    if (options.sync) HANEUL_RETURN_IF_ERROR(SyncDirectory(parent));
    return blob;
  }

  // Writes the pieces to a new blob: a temp file, fsynced, renamed into place. The blob is
  // invisible until metadata names it.
  Result<std::string> WriteBlob(const std::vector<std::string_view>& pieces) {
    std::string blob = RandomHex(32);
    std::string temp = directory + "/tmp/" + blob;
    int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return Status::FromErrno("create " + temp);
    for (std::string_view piece : pieces) {
      while (!piece.empty()) {
        ssize_t n = ::write(fd, piece.data(), piece.size());
        if (n < 0) {
          if (errno == EINTR) continue;
          Status status = Status::FromErrno("write " + temp);
          ::close(fd);
          ::unlink(temp.c_str());
          return status;
        }
        piece.remove_prefix(static_cast<size_t>(n));
      }
    }
    if (options.sync && ::fsync(fd) != 0) {
      Status status = Status::FromErrno("fsync " + temp);
      ::close(fd);
      ::unlink(temp.c_str());
      return status;
    }
    ::close(fd);
    return PublishBlob(temp, blob);
  }

  // A new blob made of ranges of existing ones, copied by the kernel (copy_file_range: no bytes
  // through this process's memory, so a multipart object can be larger than RAM). Durable and
  // invisible as WriteBlob's.
  struct BlobRange {
    std::string blob;
    int64_t offset = 0;
    int64_t length = 0;
  };
  Result<std::string> WriteBlobFromRanges(const std::vector<BlobRange>& ranges) {
    std::string blob = RandomHex(32);
    std::string temp = directory + "/tmp/" + blob;
    int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return Status::FromErrno("create " + temp);
    auto fail = [&](Status status) {
      ::close(fd);
      ::unlink(temp.c_str());
      return status;
    };
    for (const BlobRange& range : ranges) {
      std::string path = BlobPath(range.blob);
      int source = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (source < 0) return fail(Status::FromErrno("open " + path));
      loff_t in = range.offset;
      int64_t left = range.length;
      while (left > 0) {
        ssize_t n = ::copy_file_range(source, &in, fd, nullptr, static_cast<size_t>(left), 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          Status status = n == 0 ? Status::Corruption("short blob " + path)
                                 : Status::FromErrno("copy from " + path);
          ::close(source);
          return fail(status);
        }
        left -= n;
      }
      ::close(source);
    }
    if (options.sync && ::fsync(fd) != 0) return fail(Status::FromErrno("fsync " + temp));
    ::close(fd);
    return PublishBlob(temp, blob);
  }

  // Reads [offset, offset+length) of a blob.
  Result<std::string> ReadBlob(const std::string& blob, int64_t offset, int64_t length) {
    std::string path = BlobPath(blob);
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno("open " + path);
    std::string data(static_cast<size_t>(length), '\0');
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::pread(fd, data.data() + done, data.size() - done,
                          static_cast<off_t>(offset + static_cast<int64_t>(done)));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ::close(fd);
        return n == 0 ? Status::Corruption("short blob " + path)
                      : Status::FromErrno("read " + path);
      }
      done += static_cast<size_t>(n);
    }
    ::close(fd);
    return data;
  }

  void RemoveBlob(const std::string& blob) {
    if (!blob.empty()) ::unlink(BlobPath(blob).c_str());
  }

  // Removes temp files and blobs that no metadata names (left by a crash between the rename and
  // the metadata commit).
  void CollectGarbage() {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(directory + "/tmp", ec)) {
      fs::remove(entry.path(), ec);
    }
    std::set<std::string> live;
    (void)kv->Scan("o/", "", [&](std::string_view, std::string_view value) {
      if (auto meta = ObjectMeta::FromJson(value)) live.insert(meta->blob);
      return true;
    });
    (void)kv->Scan("u/", "", [&](std::string_view, std::string_view value) {
      auto j = json::parse(value, nullptr, false);
      if (j.is_object() && j.contains("parts")) {
        for (const auto& [number, part] : j["parts"].items()) {
          live.insert(part.value("blob", ""));
        }
      }
      return true;
    });
    size_t removed = 0;
    for (const auto& entry : fs::recursive_directory_iterator(directory + "/blobs", ec)) {
      if (!entry.is_regular_file()) continue;
      if (!live.count(entry.path().filename().string())) {
        fs::remove(entry.path(), ec);
        ++removed;
      }
    }
    if (removed > 0) spdlog::info("objects: removed {} unreferenced blobs", removed);
  }

  // ------------------------------------------------------------------------------------------
  // Metadata.

  bool BucketExists(const std::string& bucket) { return kv->Get(BucketKey(bucket)).ok(); }

  std::optional<ObjectMeta> GetObjectMeta(const std::string& bucket, const std::string& key) {
    auto value = kv->Get(ObjectPrefix(bucket) + key);
    if (!value.ok()) return std::nullopt;
    return ObjectMeta::FromJson(*value);
  }

  std::string NextSequencer() {
    uint64_t now = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count());
    last_sequencer = std::max(last_sequencer + 1, now);
    char buffer[24];
    std::snprintf(buffer, sizeof(buffer), "%016llX",
                  static_cast<unsigned long long>(last_sequencer));
    return buffer;
  }

  // ------------------------------------------------------------------------------------------
  // Answers.

  void AddCommonHeaders(Context& ctx, HttpResponse& response) {
    response.headers.Set("x-amz-request-id", ctx.request_id);
    response.headers.Set("x-amz-id-2", ctx.host_id);
    response.headers.Set("Server", "AmazonS3");
  }

  void Send(Context& ctx, HttpResponse response) {
    AddCommonHeaders(ctx, response);
    if (ctx.head) response.body.clear();
    ctx.responder->Respond(std::move(response));
  }

  void SendXml(Context& ctx, int status, std::string body) {
    HttpResponse response;
    response.status = status;
    response.headers.Set("Content-Type", "application/xml");
    response.body = kXmlHeader + body;
    Send(ctx, std::move(response));
  }

  void SendEmpty(Context& ctx, int status) {
    HttpResponse response;
    response.status = status;
    Send(ctx, std::move(response));
  }

  void SendError(Context& ctx, const S3Error& error) {
    HttpResponse response;
    response.status = error.status;
    if (!ctx.head) {
      std::string body = std::string(kXmlHeader) + "<Error><Code>" + XmlEscape(error.code) +
                         "</Code><Message>" + XmlEscape(error.message) + "</Message>";
      for (const auto& [name, value] : error.extra) {
        body += "<" + name + ">" + XmlEscape(value) + "</" + name + ">";
      }
      body += "<RequestId>" + ctx.request_id + "</RequestId><HostId>" + XmlEscape(ctx.host_id) +
              "</HostId></Error>";
      response.body = std::move(body);
      response.headers.Set("Content-Type", "application/xml");
    }
    Send(ctx, std::move(response));
  }

  S3Error InternalError(const Status& status) {
    spdlog::error("objects: {}", status.ToString());
    return S3Error::Internal(status.ToString());
  }

  // ------------------------------------------------------------------------------------------
  // Notifications.

  void Notify(Context& ctx, const std::vector<PendingEvent>& events) {
    if (!options.notify || events.empty()) return;
    std::map<std::string, std::vector<NotificationRule>> rules_by_bucket;
    for (const auto& event : events) {
      auto found = rules_by_bucket.find(event.bucket);
      if (found == rules_by_bucket.end()) {
        auto stored = kv->Get(NotificationKey(event.bucket));
        found = rules_by_bucket
                    .emplace(event.bucket,
                             stored.ok() ? RulesFromJson(*stored) : std::vector<NotificationRule>{})
                    .first;
      }
      if (found->second.empty()) continue;
      std::string sequencer = NextSequencer();
      for (const auto& rule : found->second) {
        if (!RuleMatches(rule, event.event_name, event.key)) continue;
        EventInfo info;
        info.region = options.region;
        info.event_name = event.event_name;
        info.event_time_ms = NowUnixMillis();
        info.principal = "AWS:" + options.account;
        info.source_ip = ctx.request->remote_address;
        auto colon = info.source_ip.rfind(':');
        if (colon != std::string::npos && info.source_ip.find('.') != std::string::npos) {
          info.source_ip = info.source_ip.substr(0, colon);
        }
        info.request_id = ctx.request_id;
        info.host_id = ctx.host_id;
        info.configuration_id = rule.id;
        info.bucket = event.bucket;
        info.key = event.key;
        info.size = event.size;
        info.etag = event.etag;
        info.sequencer = sequencer;
        options.notify(rule.function_arn, BuildEventJson(info));
      }
    }
  }

  // ------------------------------------------------------------------------------------------
  // Request plumbing.

  static bool IsSubresource(const HttpRequest& request, std::string_view name) {
    return request.QueryParam(name).has_value();
  }

  Target ParseTarget(const HttpRequest& request) {
    Target target;
    std::string host = Lower(request.headers.Get("Host"));
    auto colon = host.rfind(':');
    if (colon != std::string::npos && host.find(']') == std::string::npos) host.resize(colon);
    std::string path = request.path;
    const std::string suffix = ".s3.localhost";
    if (host.size() > suffix.size() && host.ends_with(suffix)) {
      target.bucket = host.substr(0, host.size() - suffix.size());
      std::string rest = path.empty() ? "" : path.substr(1);
      if (!rest.empty()) {
        target.key = PercentDecode(rest);
        target.has_key = true;
      }
      return target;
    }
    if (path.size() <= 1) return target;
    size_t slash = path.find('/', 1);
    target.bucket =
        PercentDecode(path.substr(1, slash == std::string::npos ? std::string::npos : slash - 1));
    if (slash != std::string::npos && slash + 1 < path.size()) {
      target.key = PercentDecode(path.substr(slash + 1));
      target.has_key = true;
    }
    return target;
  }

  // Decodes an aws-chunked body in place; trailers (checksums) are added to the headers.
  bool DecodeBody(Context& ctx, S3Error* error) {
    HttpRequest& request = *ctx.request;
    std::string sha = std::string(request.headers.Get("x-amz-content-sha256"));
    std::string encoding = Lower(request.headers.Get("Content-Encoding"));
    if (!sha.starts_with("STREAMING-") && encoding.find("aws-chunked") == std::string::npos) {
      return true;
    }
    std::string decoded;
    std::map<std::string, std::string> trailers;
    std::string message;
    if (!DecodeAwsChunked(request.body, &decoded, &trailers, &message)) {
      *error = {
          400, "IncompleteBody", "The request body terminated unexpectedly (" + message + ")", {}};
      return false;
    }
    auto declared = request.headers.Get("x-amz-decoded-content-length");
    if (!declared.empty() && std::to_string(decoded.size()) != declared) {
      *error = {400,
                "IncompleteBody",
                "You did not provide the number of bytes specified by the "
                "x-amz-decoded-content-length HTTP header",
                {}};
      return false;
    }
    request.body = std::move(decoded);
    for (const auto& [name, value] : trailers) {
      if (name.starts_with("x-amz-checksum-")) request.headers.Set(name, value);
    }
    // aws-chunked is a transfer detail, not the object's Content-Encoding.
    std::string kept;
    size_t start = 0;
    std::string raw(request.headers.Get("Content-Encoding"));
    while (start <= raw.size()) {
      size_t comma = raw.find(',', start);
      std::string item =
          raw.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      item.erase(0, item.find_first_not_of(' '));
      item.erase(item.find_last_not_of(' ') + 1);
      if (!item.empty() && Lower(item) != "aws-chunked") kept += (kept.empty() ? "" : ",") + item;
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    request.headers.Set("Content-Encoding", kept);
    return true;
  }

  // x-amz-checksum-* headers (or trailers) must match the body; a mismatch is BadDigest.
  bool CheckChecksums(Context& ctx, S3Error* error) {
    for (const char* header : kChecksumHeaders) {
      auto value = ctx.request->headers.Get(header);
      if (value.empty()) continue;
      std::string name = std::string(header).substr(std::string("x-amz-checksum-").size());
      auto computed = ComputeChecksum(name, ctx.request->body);
      if (computed && *computed != value) {
        *error = {400,
                  "BadDigest",
                  "The " + Upper(name) + " you specified did not match the calculated checksum.",
                  {}};
        return false;
      }
    }
    return true;
  }

  bool CheckContentMd5(Context& ctx, S3Error* error) {
    if (!CheckChecksums(ctx, error)) return false;
    auto md5 = ctx.request->headers.Get("Content-MD5");
    if (md5.empty()) return true;
    std::string raw;
    if (!Base64Decode(md5, &raw) || raw.size() != 16) {
      *error = {400, "InvalidDigest", "The Content-MD5 you specified was invalid.", {}};
      return false;
    }
    if (Md5Base64(ctx.request->body) != md5) {
      *error = {
          400, "BadDigest", "The Content-MD5 you specified did not match what we received.", {}};
      return false;
    }
    return true;
  }

  // Metadata of a new object from the request headers (PutObject, CreateMultipartUpload,
  // CopyObject with REPLACE).
  bool MetaFromRequest(const HttpRequest& request, ObjectMeta* meta, S3Error* error) {
    meta->content_type = std::string(request.headers.Get("Content-Type"));
    size_t user_size = 0;
    for (const auto& [name, value] : request.headers.all()) {
      std::string lower = Lower(name);
      if (lower.starts_with("x-amz-meta-")) {
        std::string short_name = lower.substr(11);
        user_size += short_name.size() + value.size();
        meta->user[short_name] = value;
      }
    }
    if (user_size > kMaxUserMetadata) {
      *error = {400,
                "MetadataTooLarge",
                "Your metadata headers exceed the maximum allowed metadata size",
                {{"Size", std::to_string(user_size)},
                 {"MaxSizeAllowed", std::to_string(kMaxUserMetadata)}}};
      return false;
    }
    for (const char* header : kStoredHeaders) {
      auto value = request.headers.Get(header);
      if (!value.empty()) meta->headers[header] = std::string(value);
    }
    return true;
  }

  void AddObjectHeaders(const ObjectMeta& meta, HttpResponse& response, bool checksums) {
    response.headers.Set("ETag", Quote(meta.etag));
    response.headers.Set("Last-Modified", HttpDate(meta.modified_ms));
    response.headers.Set("Accept-Ranges", "bytes");
    response.headers.Set("Content-Type",
                         meta.content_type.empty() ? "binary/octet-stream" : meta.content_type);
    for (const auto& [name, value] : meta.headers) response.headers.Set(name, value);
    for (const auto& [name, value] : meta.user) response.headers.Set("x-amz-meta-" + name, value);
    if (checksums) {
      for (const auto& [name, value] : meta.checksums) response.headers.Set(name, value);
    }
  }

  // ------------------------------------------------------------------------------------------
  // Buckets.

  void ListBuckets(Context& ctx) {
    std::string xml =
        std::string("<ListAllMyBucketsResult xmlns=\"") + kXmlns + "\">" + OwnerXml() + "<Buckets>";
    (void)kv->Scan("b/", "", [&](std::string_view key, std::string_view value) {
      auto j = json::parse(value, nullptr, false);
      int64_t created = j.is_object() ? j.value("created", int64_t{0}) : 0;
      xml += "<Bucket><Name>" + XmlEscape(key.substr(2)) + "</Name><CreationDate>" +
             S3Timestamp(created) + "</CreationDate></Bucket>";
      return true;
    });
    xml += "</Buckets></ListAllMyBucketsResult>";
    SendXml(ctx, 200, std::move(xml));
  }

  std::string OwnerXml() const {
    return "<Owner><ID>" + options.account + "</ID><DisplayName>haneul</DisplayName></Owner>";
  }

  void CreateBucket(Context& ctx, const std::string& bucket) {
    if (!ValidBucketName(bucket)) return SendError(ctx, S3Error::InvalidBucketName(bucket));
    if (BucketExists(bucket)) {
      return SendError(ctx, {409,
                             "BucketAlreadyOwnedByYou",
                             "Your previous request to create the named bucket succeeded and you "
                             "already own it.",
                             {{"BucketName", bucket}}});
    }
    if (!ctx.request->body.empty()) {
      // A CreateBucketConfiguration only names a LocationConstraint; any region is accepted.
      if (ctx.request->body.find("CreateBucketConfiguration") == std::string::npos) {
        return SendError(ctx, S3Error::MalformedXml());
      }
    }
    Status status = kv->Put(BucketKey(bucket),
                            json{{"created", NowUnixMillis()}, {"region", options.region}}.dump(
                                -1, ' ', false, kReplace),
                            options.sync);
    if (!status.ok()) return SendError(ctx, InternalError(status));
    HttpResponse response;
    response.headers.Set("Location", "/" + bucket);
    Send(ctx, std::move(response));
  }

  bool BucketEmpty(const std::string& bucket) {
    bool empty = true;
    (void)kv->Scan(ObjectPrefix(bucket), "", [&](std::string_view, std::string_view) {
      empty = false;
      return false;
    });
    return empty;
  }

  void DeleteBucket(Context& ctx, const std::string& bucket) {
    if (!BucketExists(bucket)) return SendError(ctx, S3Error::NoSuchBucket(bucket));
    if (!BucketEmpty(bucket)) {
      return SendError(ctx, {409,
                             "BucketNotEmpty",
                             "The bucket you tried to delete is not empty",
                             {{"BucketName", bucket}}});
    }
    // Pending multipart uploads go with the bucket.
    std::vector<std::string> uploads;
    (void)kv->Scan(UploadPrefix(bucket), "", [&](std::string_view key, std::string_view) {
      uploads.emplace_back(key.substr(UploadPrefix(bucket).size()));
      return true;
    });
    for (const auto& upload : uploads) RemoveUpload(bucket, upload);
    (void)kv->Delete(NotificationKey(bucket), options.sync);
    Status status = kv->Delete(BucketKey(bucket), options.sync);
    if (!status.ok()) return SendError(ctx, InternalError(status));
    SendEmpty(ctx, 204);
  }

  void HeadBucket(Context& ctx, const std::string& bucket) {
    if (!BucketExists(bucket)) return SendError(ctx, S3Error::NoSuchBucket(bucket));
    HttpResponse response;
    response.headers.Set("x-amz-bucket-region", options.region);
    Send(ctx, std::move(response));
  }

  void GetBucketLocation(Context& ctx, const std::string& bucket) {
    if (!BucketExists(bucket)) return SendError(ctx, S3Error::NoSuchBucket(bucket));
    // us-east-1 is reported as an empty constraint, as S3 does.
    std::string region = options.region == "us-east-1" ? "" : options.region;
    SendXml(ctx, 200,
            std::string("<LocationConstraint xmlns=\"") + kXmlns + "\">" + XmlEscape(region) +
                "</LocationConstraint>");
  }

  void PutNotification(Context& ctx, const std::string& bucket) {
    if (!BucketExists(bucket)) return SendError(ctx, S3Error::NoSuchBucket(bucket));
    std::vector<NotificationRule> rules;
    S3Error error;
    if (!ParseNotificationConfiguration(ctx.request->body, &rules, &error)) {
      return SendError(ctx, error);
    }
    bool skip_validation =
        Lower(ctx.request->headers.Get("x-amz-skip-destination-validation")) == "true";
    if (!skip_validation && options.function_exists) {
      S3Error invalid =
          S3Error::InvalidArgument("Unable to validate the following destination configurations");
      bool bad = false;
      for (const auto& rule : rules) {
        if (!options.function_exists(rule.function_arn)) {
          invalid.extra.emplace_back("ArgumentName", rule.function_arn);
          invalid.extra.emplace_back(
              "ArgumentValue", "Not authorized to invoke function [" + rule.function_arn + "]");
          bad = true;
        }
      }
      if (bad) return SendError(ctx, invalid);
    }
    Status status = rules.empty()
                        ? kv->Delete(NotificationKey(bucket), options.sync)
                        : kv->Put(NotificationKey(bucket), RulesToJson(rules), options.sync);
    if (!status.ok()) return SendError(ctx, InternalError(status));
    SendEmpty(ctx, 200);
  }

  void GetNotification(Context& ctx, const std::string& bucket) {
    if (!BucketExists(bucket)) return SendError(ctx, S3Error::NoSuchBucket(bucket));
    auto stored = kv->Get(NotificationKey(bucket));
    std::vector<NotificationRule> rules;
    if (stored.ok()) rules = RulesFromJson(*stored);
    HttpResponse response;
    response.headers.Set("Content-Type", "application/xml");
    response.body = RenderNotificationConfiguration(rules);
    Send(ctx, std::move(response));
  }

  // ------------------------------------------------------------------------------------------
  // Listing.

  struct Listing {
    std::vector<std::pair<std::string, ObjectMeta>> contents;
    std::vector<std::string> prefixes;
    bool truncated = false;
    std::string last;  // the last key or common prefix returned
  };

  Listing List(const std::string& bucket, const std::string& prefix, const std::string& delimiter,
               const std::string& after, int max_keys) {
    Listing listing;
    std::string base = ObjectPrefix(bucket);
    std::string cursor = base + std::max(prefix, after);
    // A marker that is a common prefix returned on the previous page: continue past all of it.
    if (!delimiter.empty() && !after.empty() && after.ends_with(delimiter) &&
        after.starts_with(prefix)) {
      cursor = std::max(cursor, base + after + "\xff");
    }
    size_t count = 0;
    bool done = false;
    while (!done) {
      std::string skip_to;  // set when a scan stops to jump past a common prefix
      done = true;
      (void)kv->Scan(base + prefix, cursor, [&](std::string_view kv_key, std::string_view value) {
        std::string key(kv_key.substr(base.size()));
        if (!after.empty() && key <= after) return true;
        std::string common;
        if (!delimiter.empty()) {
          size_t found = key.find(delimiter, prefix.size());
          if (found != std::string::npos) common = key.substr(0, found + delimiter.size());
        }
        if (count >= static_cast<size_t>(max_keys)) {
          listing.truncated = true;
          return false;
        }
        ++count;
        if (!common.empty()) {
          listing.prefixes.push_back(common);
          listing.last = common;
          // Keys are valid UTF-8, which never holds the byte 0xFF: common + "\xff" sorts after
          // every key under the common prefix, so the next scan skips them without reading.
          skip_to = base + common + "\xff";
          done = false;
          return false;
        }
        auto meta = ObjectMeta::FromJson(value);
        if (meta) listing.contents.emplace_back(key, std::move(*meta));
        listing.last = key;
        return true;
      });
      if (listing.truncated) break;
      cursor = skip_to;
    }
    return listing;
  }

  std::optional<int> ParseMaxKeys(Context& ctx, const char* name) {
    auto text = ctx.request->QueryParam(name);
    if (!text) return 1000;
    if (text->empty() || text->size() > 9 ||
        text->find_first_not_of("0123456789") != std::string::npos) {
      SendError(ctx, S3Error::InvalidArgument("Provided " + std::string(name) +
                                                  " not an integer or within integer range",
                                              name, *text));
      return std::nullopt;
    }
    return std::min(1000, std::stoi(*text));
  }

  void ListObjects(Context& ctx, const std::string& bucket, bool v2) {
    if (!BucketExists(bucket)) return SendError(ctx, S3Error::NoSuchBucket(bucket));
    HttpRequest& request = *ctx.request;
    std::string prefix = request.QueryParam("prefix").value_or("");
    std::string delimiter = request.QueryParam("delimiter").value_or("");
    std::string encoding = request.QueryParam("encoding-type").value_or("");
    if (!encoding.empty() && encoding != "url") {
      return SendError(ctx, S3Error::InvalidArgument("Invalid Encoding Method specified in Request",
                                                     "encoding-type", encoding));
    }
    auto max_keys = ParseMaxKeys(ctx, "max-keys");
    if (!max_keys) return;
    bool url = encoding == "url";
    auto enc = [&](const std::string& text) { return XmlEscape(url ? UrlEncodeKey(text) : text); };
    std::string after;
    std::string token;
    std::string start_after;
    std::string marker;
    if (v2) {
      token = request.QueryParam("continuation-token").value_or("");
      start_after = request.QueryParam("start-after").value_or("");
      if (!token.empty()) {
        if (!Base64Decode(token, &after)) {
          return SendError(ctx,
                           S3Error::InvalidArgument("The continuation token provided is incorrect",
                                                    "continuation-token", token));
        }
      } else {
        after = start_after;
      }
    } else {
      marker = request.QueryParam("marker").value_or("");
      after = marker;
    }
    Listing listing = List(bucket, prefix, delimiter, after, *max_keys);
    bool fetch_owner = !v2 || request.QueryParam("fetch-owner").value_or("") == "true";
    std::string xml = std::string("<ListBucketResult xmlns=\"") + kXmlns + "\"><Name>" +
                      XmlEscape(bucket) + "</Name><Prefix>" + enc(prefix) + "</Prefix>";
    if (v2) {
      if (!token.empty()) xml += "<ContinuationToken>" + XmlEscape(token) + "</ContinuationToken>";
      if (listing.truncated) {
        xml += "<NextContinuationToken>" + Base64Encode(listing.last) + "</NextContinuationToken>";
      }
      if (!start_after.empty()) xml += "<StartAfter>" + enc(start_after) + "</StartAfter>";
      xml += "<KeyCount>" + std::to_string(listing.contents.size() + listing.prefixes.size()) +
             "</KeyCount>";
    } else {
      xml += "<Marker>" + enc(marker) + "</Marker>";
      if (listing.truncated && !delimiter.empty()) {
        xml += "<NextMarker>" + enc(listing.last) + "</NextMarker>";
      }
    }
    xml += "<MaxKeys>" + std::to_string(*max_keys) + "</MaxKeys>";
    if (!delimiter.empty()) xml += "<Delimiter>" + enc(delimiter) + "</Delimiter>";
    if (url) xml += "<EncodingType>url</EncodingType>";
    xml += std::string("<IsTruncated>") + (listing.truncated ? "true" : "false") + "</IsTruncated>";
    for (const auto& [key, meta] : listing.contents) {
      xml += "<Contents><Key>" + enc(key) + "</Key><LastModified>" + S3Timestamp(meta.modified_ms) +
             "</LastModified><ETag>" + XmlEscape(Quote(meta.etag)) + "</ETag><Size>" +
             std::to_string(meta.size) + "</Size>";
      if (fetch_owner) xml += OwnerXml();
      xml += "<StorageClass>STANDARD</StorageClass></Contents>";
    }
    for (const auto& common : listing.prefixes) {
      xml += "<CommonPrefixes><Prefix>" + enc(common) + "</Prefix></CommonPrefixes>";
    }
    xml += "</ListBucketResult>";
    SendXml(ctx, 200, std::move(xml));
  }

  // ------------------------------------------------------------------------------------------
  // Objects.

  bool CheckKey(Context& ctx, const std::string& key) {
    if (key.size() > 1024) {
      SendError(ctx, {400,
                      "KeyTooLongError",
                      "Your key is too long",
                      {{"Size", std::to_string(key.size())}, {"MaxSizeAllowed", "1024"}}});
      return false;
    }
    if (!ValidUtf8(key)) {
      SendError(ctx, S3Error::InvalidArgument("Object key is not valid UTF-8", "key", ""));
      return false;
    }
    return true;
  }

  // Commits an object's metadata and releases the blob it replaces.
  Status CommitObject(const std::string& bucket, const std::string& key, const ObjectMeta& meta) {
    auto previous = GetObjectMeta(bucket, key);
    HANEUL_RETURN_IF_ERROR(kv->Put(ObjectPrefix(bucket) + key, meta.ToJson(), options.sync));
    if (previous && previous->blob != meta.blob) RemoveBlob(previous->blob);
    return Status::Ok();
  }

  // Conditional writes (If-None-Match: * / If-Match on PutObject).
  bool CheckWriteConditions(Context& ctx, const std::string& bucket, const std::string& key) {
    auto if_none = ctx.request->headers.Get("If-None-Match");
    auto if_match = ctx.request->headers.Get("If-Match");
    if (if_none.empty() && if_match.empty()) return true;
    auto existing = GetObjectMeta(bucket, key);
    if (!if_none.empty() && existing && EtagListMatches(if_none, existing->etag)) {
      SendError(ctx, {412,
                      "PreconditionFailed",
                      "At least one of the pre-conditions you specified did not hold",
                      {{"Condition", "If-None-Match"}}});
      return false;
    }
    if (!if_match.empty()) {
      if (!existing) {
        SendError(ctx, S3Error::NoSuchKey(key));
        return false;
      }
      if (!EtagListMatches(if_match, existing->etag)) {
        SendError(ctx, {412,
                        "PreconditionFailed",
                        "At least one of the pre-conditions you specified did not hold",
                        {{"Condition", "If-Match"}}});
        return false;
      }
    }
    return true;
  }

  void PutObject(Context& ctx, const Target& target, std::vector<PendingEvent>* events) {
    if (!BucketExists(target.bucket)) return SendError(ctx, S3Error::NoSuchBucket(target.bucket));
    if (!CheckKey(ctx, target.key)) return;
    S3Error error;
    if (!DecodeBody(ctx, &error) || !CheckContentMd5(ctx, &error)) return SendError(ctx, error);
    ObjectMeta meta;
    if (!MetaFromRequest(*ctx.request, &meta, &error)) return SendError(ctx, error);
    if (!CheckWriteConditions(ctx, target.bucket, target.key)) return;
    const std::string& body = ctx.request->body;
    for (const char* header : kChecksumHeaders) {
      auto value = ctx.request->headers.Get(header);
      if (!value.empty()) meta.checksums[header] = std::string(value);
    }
    auto blob = WriteBlob({body});
    if (!blob.ok()) return SendError(ctx, InternalError(blob.status()));
    meta.blob = *blob;
    meta.size = static_cast<int64_t>(body.size());
    meta.etag = Md5Hex(body);
    meta.modified_ms = NowUnixMillis();
    Status status = CommitObject(target.bucket, target.key, meta);
    if (!status.ok()) {
      RemoveBlob(meta.blob);
      return SendError(ctx, InternalError(status));
    }
    HttpResponse response;
    response.headers.Set("ETag", Quote(meta.etag));
    for (const auto& [name, value] : meta.checksums) response.headers.Set(name, value);
    Send(ctx, std::move(response));
    events->push_back({"ObjectCreated:Put", target.bucket, target.key, meta.size, meta.etag});
  }

  // GET/HEAD preconditions: 0 when they hold, else 304 or 412 (already answered).
  bool CheckReadConditions(Context& ctx, const ObjectMeta& meta) {
    const Headers& headers = ctx.request->headers;
    int64_t modified_seconds = meta.modified_ms / 1000;
    auto fail = [&](const char* condition) {
      SendError(ctx, {412,
                      "PreconditionFailed",
                      "At least one of the pre-conditions you specified did not hold",
                      {{"Condition", condition}}});
      return false;
    };
    auto not_modified = [&]() {
      HttpResponse response;
      response.status = 304;
      response.headers.Set("ETag", Quote(meta.etag));
      response.headers.Set("Last-Modified", HttpDate(meta.modified_ms));
      Send(ctx, std::move(response));
      return false;
    };
    auto if_match = headers.Get("If-Match");
    if (!if_match.empty()) {
      if (!EtagListMatches(if_match, meta.etag)) return fail("If-Match");
    } else if (auto since = ParseHttpDate(headers.Get("If-Unmodified-Since"));
               since && !headers.Get("If-Unmodified-Since").empty()) {
      if (modified_seconds > *since / 1000) return fail("If-Unmodified-Since");
    }
    auto if_none = headers.Get("If-None-Match");
    if (!if_none.empty()) {
      if (EtagListMatches(if_none, meta.etag)) return not_modified();
    } else if (auto since = ParseHttpDate(headers.Get("If-Modified-Since"));
               since && !headers.Get("If-Modified-Since").empty()) {
      if (modified_seconds <= *since / 1000) return not_modified();
    }
    return true;
  }

  // "bytes=a-b" / "bytes=a-" / "bytes=-n". nullopt: no (usable) range, serve everything.
  // Sets *unsatisfiable when the range is syntactically fine but outside the object.
  static std::optional<std::pair<int64_t, int64_t>> ParseRange(std::string_view header,
                                                               int64_t size, bool* unsatisfiable) {
    *unsatisfiable = false;
    if (!header.starts_with("bytes=")) return std::nullopt;
    std::string_view spec = header.substr(6);
    if (spec.find(',') != std::string_view::npos) return std::nullopt;
    size_t dash = spec.find('-');
    if (dash == std::string_view::npos) return std::nullopt;
    std::string first(spec.substr(0, dash));
    std::string last(spec.substr(dash + 1));
    auto digits = [](const std::string& s) {
      return !s.empty() && s.size() <= 18 && s.find_first_not_of("0123456789") == std::string::npos;
    };
    if (first.empty()) {
      if (!digits(last)) return std::nullopt;
      int64_t suffix = std::stoll(last);
      if (suffix == 0 || size == 0) {
        *unsatisfiable = true;
        return std::nullopt;
      }
      return std::make_pair(std::max<int64_t>(0, size - suffix), size - 1);
    }
    if (!digits(first) || (!last.empty() && !digits(last))) return std::nullopt;
    int64_t begin = std::stoll(first);
    int64_t end = last.empty() ? size - 1 : std::min<int64_t>(std::stoll(last), size - 1);
    if (!last.empty() && std::stoll(last) < begin) return std::nullopt;
    if (begin >= size) {
      *unsatisfiable = true;
      return std::nullopt;
    }
    return std::make_pair(begin, end);
  }

  void GetObject(Context& ctx, const Target& target) {
    if (!BucketExists(target.bucket)) return SendError(ctx, S3Error::NoSuchBucket(target.bucket));
    auto meta = GetObjectMeta(target.bucket, target.key);
    if (!meta) return SendError(ctx, S3Error::NoSuchKey(target.key));
    if (!CheckReadConditions(ctx, *meta)) return;
    HttpResponse response;
    bool checksums = Lower(ctx.request->headers.Get("x-amz-checksum-mode")) == "enabled";
    auto range_header = ctx.request->headers.Get("Range");
    int64_t begin = 0;
    int64_t end = meta->size - 1;
    if (!range_header.empty()) {
      bool unsatisfiable = false;
      auto range = ParseRange(range_header, meta->size, &unsatisfiable);
      if (unsatisfiable) {
        S3Error error{416,
                      "InvalidRange",
                      "The requested range is not satisfiable",
                      {{"RangeRequested", std::string(range_header)},
                       {"ActualObjectSize", std::to_string(meta->size)}}};
        return SendError(ctx, error);
      }
      if (range) {
        begin = range->first;
        end = range->second;
        response.status = 206;
        response.headers.Set("Content-Range", "bytes " + std::to_string(begin) + "-" +
                                                  std::to_string(end) + "/" +
                                                  std::to_string(meta->size));
        checksums = false;  // a checksum covers the whole object only
      }
    }
    AddObjectHeaders(*meta, response, checksums);
    if (meta->parts > 0) response.headers.Set("x-amz-mp-parts-count", std::to_string(meta->parts));
    static const std::pair<const char*, const char*> kOverrides[] = {
        {"response-content-type", "Content-Type"},
        {"response-content-language", "Content-Language"},
        {"response-expires", "Expires"},
        {"response-cache-control", "Cache-Control"},
        {"response-content-disposition", "Content-Disposition"},
        {"response-content-encoding", "Content-Encoding"}};
    for (const auto& [param, header] : kOverrides) {
      if (auto value = ctx.request->QueryParam(param)) response.headers.Set(header, *value);
    }
    int64_t length = end - begin + 1;
    if (ctx.head) {
      // The HTTP layer recomputes Content-Length from the (empty) body of a HEAD answer; the
      // header here states the object's size for layers that keep it.
      response.headers.Set("Content-Length", std::to_string(length));
    } else if (length > 0) {
      auto data = ReadBlob(meta->blob, begin, length);
      if (!data.ok()) return SendError(ctx, InternalError(data.status()));
      response.body = std::move(*data);
    }
    Send(ctx, std::move(response));
  }

  void DeleteObject(Context& ctx, const Target& target, std::vector<PendingEvent>* events) {
    if (!BucketExists(target.bucket)) return SendError(ctx, S3Error::NoSuchBucket(target.bucket));
    auto meta = GetObjectMeta(target.bucket, target.key);
    if (meta) {
      Status status = kv->Delete(ObjectPrefix(target.bucket) + target.key, options.sync);
      if (!status.ok()) return SendError(ctx, InternalError(status));
      RemoveBlob(meta->blob);
      events->push_back({"ObjectRemoved:Delete", target.bucket, target.key, -1, ""});
    }
    SendEmpty(ctx, 204);
  }

  void DeleteObjects(Context& ctx, const std::string& bucket, std::vector<PendingEvent>* events) {
    if (!BucketExists(bucket)) return SendError(ctx, S3Error::NoSuchBucket(bucket));
    S3Error error;
    if (!DecodeBody(ctx, &error)) return SendError(ctx, error);
    DeleteRequest request;
    if (!ParseDeleteRequest(ctx.request->body, &request, &error)) return SendError(ctx, error);
    std::string xml = std::string("<DeleteResult xmlns=\"") + kXmlns + "\">";
    for (const auto& key : request.keys) {
      auto meta = GetObjectMeta(bucket, key);
      if (meta) {
        Status status = kv->Delete(ObjectPrefix(bucket) + key, options.sync);
        if (!status.ok()) {
          spdlog::error("objects: {}", status.ToString());
          xml += "<Error><Key>" + XmlEscape(key) +
                 "</Key><Code>InternalError</Code><Message>We encountered an internal error. "
                 "Please try again.</Message></Error>";
          continue;
        }
        RemoveBlob(meta->blob);
        events->push_back({"ObjectRemoved:Delete", bucket, key, -1, ""});
      }
      if (!request.quiet) xml += "<Deleted><Key>" + XmlEscape(key) + "</Key></Deleted>";
    }
    xml += "</DeleteResult>";
    SendXml(ctx, 200, std::move(xml));
  }

  // "/bucket/key?versionId=..." (percent-encoded) -> bucket, key.
  static bool ParseCopySource(std::string_view header, std::string* bucket, std::string* key) {
    std::string_view raw = header.substr(0, header.find('?'));
    std::string decoded = PercentDecode(raw);
    if (decoded.starts_with("/")) decoded.erase(0, 1);
    size_t slash = decoded.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 >= decoded.size()) return false;
    *bucket = decoded.substr(0, slash);
    *key = decoded.substr(slash + 1);
    return true;
  }

  // x-amz-copy-source-if-* against the source.
  bool CheckCopyConditions(Context& ctx, const ObjectMeta& source) {
    const Headers& headers = ctx.request->headers;
    auto fail = [&](const char* condition) {
      SendError(ctx, {412,
                      "PreconditionFailed",
                      "At least one of the pre-conditions you specified did not hold",
                      {{"Condition", condition}}});
      return false;
    };
    int64_t modified = source.modified_ms / 1000;
    auto if_match = headers.Get("x-amz-copy-source-if-match");
    if (!if_match.empty() && !EtagListMatches(if_match, source.etag)) {
      return fail("x-amz-copy-source-If-Match");
    }
    auto if_none = headers.Get("x-amz-copy-source-if-none-match");
    if (!if_none.empty() && EtagListMatches(if_none, source.etag)) {
      return fail("x-amz-copy-source-If-None-Match");
    }
    if (auto since = ParseHttpDate(headers.Get("x-amz-copy-source-if-unmodified-since"));
        since && if_match.empty() && modified > *since / 1000) {
      return fail("x-amz-copy-source-If-Unmodified-Since");
    }
    if (auto since = ParseHttpDate(headers.Get("x-amz-copy-source-if-modified-since"));
        since && if_none.empty() && modified <= *since / 1000) {
      return fail("x-amz-copy-source-If-Modified-Since");
    }
    return true;
  }

  // Resolves x-amz-copy-source; answers the error itself.
  std::optional<ObjectMeta> CopySource(Context& ctx, std::string* bucket, std::string* key) {
    if (!ParseCopySource(ctx.request->headers.Get("x-amz-copy-source"), bucket, key)) {
      SendError(ctx, S3Error::InvalidArgument(
                         "Copy Source must mention the source bucket and key: "
                         "sourcebucket/sourcekey",
                         "x-amz-copy-source",
                         std::string(ctx.request->headers.Get("x-amz-copy-source"))));
      return std::nullopt;
    }
    if (!BucketExists(*bucket)) {
      SendError(ctx, S3Error::NoSuchBucket(*bucket));
      return std::nullopt;
    }
    auto meta = GetObjectMeta(*bucket, *key);
    if (!meta) {
      SendError(ctx, S3Error::NoSuchKey(*key));
      return std::nullopt;
    }
    if (!CheckCopyConditions(ctx, *meta)) return std::nullopt;
    return meta;
  }

  void CopyObject(Context& ctx, const Target& target, std::vector<PendingEvent>* events) {
    if (!BucketExists(target.bucket)) return SendError(ctx, S3Error::NoSuchBucket(target.bucket));
    if (!CheckKey(ctx, target.key)) return;
    std::string source_bucket, source_key;
    auto source = CopySource(ctx, &source_bucket, &source_key);
    if (!source) return;
    std::string directive =
        Upper(std::string(ctx.request->headers.Get("x-amz-metadata-directive")));
    if (directive.empty()) directive = "COPY";
    if (directive != "COPY" && directive != "REPLACE") {
      return SendError(ctx, S3Error::InvalidArgument("Unknown metadata directive.",
                                                     "x-amz-metadata-directive", directive));
    }
    if (source_bucket == target.bucket && source_key == target.key && directive == "COPY") {
      return SendError(ctx, S3Error::InvalidRequest(
                                "This copy request is illegal because it is trying to copy an "
                                "object to itself without changing the object's metadata, storage "
                                "class, website redirect location or encryption attributes."));
    }
    ObjectMeta meta;
    if (directive == "REPLACE") {
      S3Error error;
      if (!MetaFromRequest(*ctx.request, &meta, &error)) return SendError(ctx, error);
    } else {
      meta.content_type = source->content_type;
      meta.user = source->user;
      meta.headers = source->headers;
    }
    meta.checksums = source->checksums;
    // A copy of a multipart object is one part: its ETag is the MD5 of the bytes, so those are
    // read; any other copy goes file to file.
    std::string md5;
    if (source->parts > 0) {
      auto data = ReadBlob(source->blob, 0, source->size);
      if (!data.ok()) return SendError(ctx, InternalError(data.status()));
      md5 = Md5Hex(*data);
    }
    auto blob = WriteBlobFromRanges({{source->blob, 0, source->size}});
    if (!blob.ok()) return SendError(ctx, InternalError(blob.status()));
    meta.blob = *blob;
    meta.size = source->size;
    meta.etag = source->parts > 0 ? md5 : source->etag;
    meta.modified_ms = NowUnixMillis();
    Status status = CommitObject(target.bucket, target.key, meta);
    if (!status.ok()) {
      RemoveBlob(meta.blob);
      return SendError(ctx, InternalError(status));
    }
    SendXml(ctx, 200,
            std::string("<CopyObjectResult xmlns=\"") + kXmlns + "\"><LastModified>" +
                S3Timestamp(meta.modified_ms) + "</LastModified><ETag>" +
                XmlEscape(Quote(meta.etag)) + "</ETag></CopyObjectResult>");
    events->push_back({"ObjectCreated:Copy", target.bucket, target.key, meta.size, meta.etag});
  }

  // ------------------------------------------------------------------------------------------
  // Multipart uploads. An upload is a metadata record "u/<bucket>/<id>" naming its key, the
  // future object's metadata and its parts (each a blob).

  std::optional<json> GetUpload(const std::string& bucket, const std::string& upload_id) {
    if (upload_id.empty()) return std::nullopt;
    auto value = kv->Get(UploadPrefix(bucket) + upload_id);
    if (!value.ok()) return std::nullopt;
    auto j = json::parse(*value, nullptr, false);
    if (!j.is_object()) return std::nullopt;
    return j;
  }

  void RemoveUpload(const std::string& bucket, const std::string& upload_id) {
    auto upload = GetUpload(bucket, upload_id);
    (void)kv->Delete(UploadPrefix(bucket) + upload_id, options.sync);
    if (upload) {
      for (const auto& [number, part] : (*upload)["parts"].items())
        RemoveBlob(part.value("blob", ""));
    }
  }

  std::optional<json> UploadFor(Context& ctx, const Target& target) {
    std::string upload_id = ctx.request->QueryParam("uploadId").value_or("");
    auto upload = GetUpload(target.bucket, upload_id);
    if (!upload || (*upload).value("key", "") != target.key) {
      SendError(ctx, S3Error::NoSuchUpload(upload_id));
      return std::nullopt;
    }
    return upload;
  }

  void CreateMultipartUpload(Context& ctx, const Target& target) {
    if (!BucketExists(target.bucket)) return SendError(ctx, S3Error::NoSuchBucket(target.bucket));
    if (!CheckKey(ctx, target.key)) return;
    ObjectMeta meta;
    S3Error error;
    if (!MetaFromRequest(*ctx.request, &meta, &error)) return SendError(ctx, error);
    std::string upload_id = Base64Encode(RandomHex(48));
    for (char& c : upload_id) {
      if (c == '+') c = '-';
      if (c == '/') c = '_';
    }
    json upload = {{"key", target.key},
                   {"initiated", NowUnixMillis()},
                   {"meta", json::parse(meta.ToJson())},
                   {"parts", json::object()}};
    Status status = kv->Put(UploadPrefix(target.bucket) + upload_id,
                            upload.dump(-1, ' ', false, kReplace), options.sync);
    if (!status.ok()) return SendError(ctx, InternalError(status));
    SendXml(ctx, 200,
            std::string("<InitiateMultipartUploadResult xmlns=\"") + kXmlns + "\"><Bucket>" +
                XmlEscape(target.bucket) + "</Bucket><Key>" + XmlEscape(target.key) +
                "</Key><UploadId>" + upload_id + "</UploadId></InitiateMultipartUploadResult>");
  }

  void UploadPart(Context& ctx, const Target& target) {
    if (!BucketExists(target.bucket)) return SendError(ctx, S3Error::NoSuchBucket(target.bucket));
    std::string number_text = ctx.request->QueryParam("partNumber").value_or("");
    int number = 0;
    if (!number_text.empty() && number_text.size() <= 5 &&
        number_text.find_first_not_of("0123456789") == std::string::npos) {
      number = std::stoi(number_text);
    }
    if (number < 1 || number > 10000) {
      return SendError(ctx, S3Error::InvalidArgument(
                                "Part number must be an integer between 1 and 10000, inclusive",
                                "partNumber", number_text));
    }
    auto upload = UploadFor(ctx, target);
    if (!upload) return;
    std::string data;
    std::string copy_etag;
    bool copy = !ctx.request->headers.Get("x-amz-copy-source").empty();
    if (copy) {
      std::string source_bucket, source_key;
      auto source = CopySource(ctx, &source_bucket, &source_key);
      if (!source) return;
      int64_t begin = 0, end = source->size - 1;
      auto range = ctx.request->headers.Get("x-amz-copy-source-range");
      if (!range.empty()) {
        bool unsatisfiable = false;
        auto parsed = ParseRange(range, source->size, &unsatisfiable);
        if (!parsed) {
          return SendError(ctx, S3Error::InvalidArgument(
                                    "The x-amz-copy-source-range value must be of the form "
                                    "bytes=first-last where first and last are the zero-based "
                                    "offsets of the first and last bytes to copy",
                                    "x-amz-copy-source-range", std::string(range)));
        }
        begin = parsed->first;
        end = parsed->second;
      }
      auto read = ReadBlob(source->blob, begin, end - begin + 1);
      if (!read.ok()) return SendError(ctx, InternalError(read.status()));
      data = std::move(*read);
    } else {
      S3Error error;
      if (!DecodeBody(ctx, &error) || !CheckContentMd5(ctx, &error)) return SendError(ctx, error);
      data = std::move(ctx.request->body);
    }
    auto blob = WriteBlob({data});
    if (!blob.ok()) return SendError(ctx, InternalError(blob.status()));
    std::string etag = Md5Hex(data);
    int64_t now = NowUnixMillis();
    std::string previous;
    auto& parts = (*upload)["parts"];
    if (parts.contains(number_text)) previous = parts[number_text].value("blob", "");
    parts[std::to_string(number)] = {
        {"blob", *blob}, {"etag", etag}, {"size", data.size()}, {"mtime", now}};
    Status status =
        kv->Put(UploadPrefix(target.bucket) + ctx.request->QueryParam("uploadId").value_or(""),
                upload->dump(-1, ' ', false, kReplace), options.sync);
    if (!status.ok()) {
      RemoveBlob(*blob);
      return SendError(ctx, InternalError(status));
    }
    if (!previous.empty()) RemoveBlob(previous);
    if (copy) {
      SendXml(ctx, 200,
              std::string("<CopyPartResult xmlns=\"") + kXmlns + "\"><LastModified>" +
                  S3Timestamp(now) + "</LastModified><ETag>" + XmlEscape(Quote(etag)) +
                  "</ETag></CopyPartResult>");
      return;
    }
    HttpResponse response;
    response.headers.Set("ETag", Quote(etag));
    for (const char* header : kChecksumHeaders) {
      auto value = ctx.request->headers.Get(header);
      if (!value.empty()) response.headers.Set(header, std::string(value));
    }
    Send(ctx, std::move(response));
  }

  void CompleteMultipartUpload(Context& ctx, const Target& target,
                               std::vector<PendingEvent>* events) {
    if (!BucketExists(target.bucket)) return SendError(ctx, S3Error::NoSuchBucket(target.bucket));
    auto upload = UploadFor(ctx, target);
    if (!upload) return;
    std::string upload_id = ctx.request->QueryParam("uploadId").value_or("");
    S3Error error;
    if (!DecodeBody(ctx, &error)) return SendError(ctx, error);
    std::vector<CompletedPart> requested;
    if (!ParseCompleteMultipart(ctx.request->body, &requested, &error)) {
      return SendError(ctx, error);
    }
    const auto& parts = (*upload)["parts"];
    std::vector<std::string> md5s;
    std::vector<std::string> blobs;
    int64_t total = 0;
    for (size_t i = 1; i < requested.size(); ++i) {
      if (requested[i].part_number <= requested[i - 1].part_number) {
        return SendError(ctx, {400,
                               "InvalidPartOrder",
                               "The list of parts was not in ascending order. Parts must be "
                               "ordered by part number.",
                               {{"UploadId", upload_id}}});
      }
    }
    for (size_t i = 0; i < requested.size(); ++i) {
      std::string number = std::to_string(requested[i].part_number);
      if (!parts.contains(number) || parts[number].value("etag", "") != requested[i].etag) {
        return SendError(
            ctx, {400,
                  "InvalidPart",
                  "One or more of the specified parts could not be found.  The part "
                  "may not have been uploaded, or the specified entity tag may not "
                  "have matched the part's entity tag.",
                  {{"UploadId", upload_id}, {"PartNumber", number}, {"ETag", requested[i].etag}}});
      }
      int64_t size = parts[number].value("size", int64_t{0});
      if (i + 1 < requested.size() && size < kMinPartSize) {
        return SendError(ctx, {400,
                               "EntityTooSmall",
                               "Your proposed upload is smaller than the minimum allowed object "
                               "size.",
                               {{"ProposedSize", std::to_string(size)},
                                {"MinSizeAllowed", std::to_string(kMinPartSize)},
                                {"PartNumber", number},
                                {"ETag", requested[i].etag}}});
      }
      total += size;
      md5s.push_back(requested[i].etag);
      blobs.push_back(parts[number].value("blob", ""));
    }
    // Concatenate the parts into the object's blob, file to file.
    std::vector<BlobRange> ranges;
    ranges.reserve(blobs.size());
    for (size_t i = 0; i < blobs.size(); ++i) {
      std::string number = std::to_string(requested[i].part_number);
      ranges.push_back({blobs[i], 0, parts[number].value("size", int64_t{0})});
    }
    auto blob = WriteBlobFromRanges(ranges);
    if (!blob.ok()) return SendError(ctx, InternalError(blob.status()));
    auto meta = ObjectMeta::FromJson((*upload)["meta"].dump(-1, ' ', false, kReplace))
                    .value_or(ObjectMeta{});
    meta.blob = *blob;
    meta.size = total;
    meta.etag = MultipartEtag(md5s);
    meta.modified_ms = NowUnixMillis();
    meta.parts = static_cast<int>(md5s.size());
    meta.checksums.clear();
    Status status = CommitObject(target.bucket, target.key, meta);
    if (!status.ok()) {
      RemoveBlob(meta.blob);
      return SendError(ctx, InternalError(status));
    }
    RemoveUpload(target.bucket, upload_id);
    std::string host(ctx.request->headers.Get("Host"));
    SendXml(ctx, 200,
            std::string("<CompleteMultipartUploadResult xmlns=\"") + kXmlns +
                "\"><Location>http://" + XmlEscape(host) + "/" + XmlEscape(target.bucket) + "/" +
                XmlEscape(UrlEncodeKey(target.key)) + "</Location><Bucket>" +
                XmlEscape(target.bucket) + "</Bucket><Key>" + XmlEscape(target.key) +
                "</Key><ETag>" + XmlEscape(Quote(meta.etag)) +
                "</ETag></CompleteMultipartUploadResult>");
    events->push_back(
        {"ObjectCreated:CompleteMultipartUpload", target.bucket, target.key, meta.size, meta.etag});
  }

  void AbortMultipartUpload(Context& ctx, const Target& target) {
    if (!BucketExists(target.bucket)) return SendError(ctx, S3Error::NoSuchBucket(target.bucket));
    auto upload = UploadFor(ctx, target);
    if (!upload) return;
    RemoveUpload(target.bucket, ctx.request->QueryParam("uploadId").value_or(""));
    SendEmpty(ctx, 204);
  }

  void ListParts(Context& ctx, const Target& target) {
    if (!BucketExists(target.bucket)) return SendError(ctx, S3Error::NoSuchBucket(target.bucket));
    auto upload = UploadFor(ctx, target);
    if (!upload) return;
    auto max_parts = ParseMaxKeys(ctx, "max-parts");
    if (!max_parts) return;
    std::string marker_text = ctx.request->QueryParam("part-number-marker").value_or("0");
    int marker = 0;
    if (!marker_text.empty() && marker_text.size() <= 5 &&
        marker_text.find_first_not_of("0123456789") == std::string::npos) {
      marker = std::stoi(marker_text);
    }
    std::map<int, json> parts;
    for (const auto& [number, part] : (*upload)["parts"].items()) parts[std::stoi(number)] = part;
    std::string body;
    int count = 0;
    int next = marker;
    bool truncated = false;
    for (const auto& [number, part] : parts) {
      if (number <= marker) continue;
      if (count >= *max_parts) {
        truncated = true;
        break;
      }
      ++count;
      next = number;
      body += "<Part><PartNumber>" + std::to_string(number) + "</PartNumber><LastModified>" +
              S3Timestamp(part.value("mtime", int64_t{0})) + "</LastModified><ETag>" +
              XmlEscape(Quote(part.value("etag", ""))) + "</ETag><Size>" +
              std::to_string(part.value("size", int64_t{0})) + "</Size></Part>";
    }
    std::string owner = "<ID>" + options.account + "</ID><DisplayName>haneul</DisplayName>";
    SendXml(ctx, 200,
            std::string("<ListPartsResult xmlns=\"") + kXmlns + "\"><Bucket>" +
                XmlEscape(target.bucket) + "</Bucket><Key>" + XmlEscape(target.key) +
                "</Key><UploadId>" + XmlEscape(ctx.request->QueryParam("uploadId").value_or("")) +
                "</UploadId><Initiator>" + owner + "</Initiator><Owner>" + owner +
                "</Owner><StorageClass>STANDARD</StorageClass><PartNumberMarker>" +
                std::to_string(marker) + "</PartNumberMarker><NextPartNumberMarker>" +
                std::to_string(next) + "</NextPartNumberMarker><MaxParts>" +
                std::to_string(*max_parts) + "</MaxParts><IsTruncated>" +
                (truncated ? "true" : "false") + "</IsTruncated>" + body + "</ListPartsResult>");
  }

  void ListMultipartUploads(Context& ctx, const std::string& bucket) {
    if (!BucketExists(bucket)) return SendError(ctx, S3Error::NoSuchBucket(bucket));
    std::string prefix = ctx.request->QueryParam("prefix").value_or("");
    auto max_uploads = ParseMaxKeys(ctx, "max-uploads");
    if (!max_uploads) return;
    struct Entry {
      std::string key;
      int64_t initiated;
      std::string id;
    };
    std::vector<Entry> entries;
    (void)kv->Scan(UploadPrefix(bucket), "", [&](std::string_view key, std::string_view value) {
      auto j = json::parse(value, nullptr, false);
      if (!j.is_object()) return true;
      std::string object_key = j.value("key", "");
      if (!object_key.starts_with(prefix)) return true;
      entries.push_back({object_key, j.value("initiated", int64_t{0}),
                         std::string(key.substr(UploadPrefix(bucket).size()))});
      return true;
    });
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
      return std::tie(a.key, a.initiated, a.id) < std::tie(b.key, b.initiated, b.id);
    });
    std::string owner = "<ID>" + options.account + "</ID><DisplayName>haneul</DisplayName>";
    bool truncated = entries.size() > static_cast<size_t>(*max_uploads);
    if (truncated) entries.resize(static_cast<size_t>(*max_uploads));
    std::string xml = std::string("<ListMultipartUploadsResult xmlns=\"") + kXmlns + "\"><Bucket>" +
                      XmlEscape(bucket) + "</Bucket><KeyMarker></KeyMarker><UploadIdMarker>" +
                      "</UploadIdMarker>";
    if (truncated && !entries.empty()) {
      xml += "<NextKeyMarker>" + XmlEscape(entries.back().key) + "</NextKeyMarker>" +
             "<NextUploadIdMarker>" + entries.back().id + "</NextUploadIdMarker>";
    }
    xml += "<Prefix>" + XmlEscape(prefix) + "</Prefix><MaxUploads>" + std::to_string(*max_uploads) +
           "</MaxUploads><IsTruncated>" + (truncated ? "true" : "false") + "</IsTruncated>";
    for (const auto& entry : entries) {
      xml += "<Upload><Key>" + XmlEscape(entry.key) + "</Key><UploadId>" + entry.id +
             "</UploadId><Initiator>" + owner + "</Initiator><Owner>" + owner +
             "</Owner><StorageClass>STANDARD</StorageClass><Initiated>" +
             S3Timestamp(entry.initiated) + "</Initiated></Upload>";
    }
    xml += "</ListMultipartUploadsResult>";
    SendXml(ctx, 200, std::move(xml));
  }

  // ------------------------------------------------------------------------------------------
  // Dispatch.

  void Dispatch(Context& ctx, std::vector<PendingEvent>* events) {
    HttpRequest& request = *ctx.request;
    const std::string& method = request.method;
    Target target = ParseTarget(request);
    auto not_allowed = [&]() {
      SendError(ctx,
                {405,
                 "MethodNotAllowed",
                 "The specified method is not allowed against this resource.",
                 {{"Method", method}, {"ResourceType", target.has_key ? "OBJECT" : "BUCKET"}}});
    };
    if (target.bucket.empty()) {
      if (method == "GET") return ListBuckets(ctx);
      return not_allowed();
    }
    // Subresources this store does not implement answer NotImplemented rather than being
    // mistaken for the plain operation.
    static const char* kUnsupported[] = {"acl",
                                         "policy",
                                         "cors",
                                         "lifecycle",
                                         "website",
                                         "tagging",
                                         "encryption",
                                         "replication",
                                         "logging",
                                         "accelerate",
                                         "requestPayment",
                                         "object-lock",
                                         "legal-hold",
                                         "retention",
                                         "analytics",
                                         "inventory",
                                         "metrics",
                                         "ownershipControls",
                                         "intelligent-tiering",
                                         "publicAccessBlock",
                                         "policyStatus",
                                         "torrent",
                                         "restore",
                                         "select",
                                         "attributes",
                                         "versions"};
    for (const char* name : kUnsupported) {
      if (IsSubresource(request, name)) return SendError(ctx, S3Error::NotImplemented());
    }
    if (!target.has_key) {
      if (method == "PUT") {
        if (IsSubresource(request, "notification")) return PutNotification(ctx, target.bucket);
        if (IsSubresource(request, "versioning")) return SendError(ctx, S3Error::NotImplemented());
        return CreateBucket(ctx, target.bucket);
      }
      if (method == "GET") {
        if (IsSubresource(request, "location")) return GetBucketLocation(ctx, target.bucket);
        if (IsSubresource(request, "notification")) return GetNotification(ctx, target.bucket);
        if (IsSubresource(request, "uploads")) return ListMultipartUploads(ctx, target.bucket);
        if (IsSubresource(request, "versioning")) {
          if (!BucketExists(target.bucket)) {
            return SendError(ctx, S3Error::NoSuchBucket(target.bucket));
          }
          return SendXml(ctx, 200,
                         std::string("<VersioningConfiguration xmlns=\"") + kXmlns + "\"/>");
        }
        return ListObjects(ctx, target.bucket, request.QueryParam("list-type").value_or("") == "2");
      }
      if (method == "HEAD") return HeadBucket(ctx, target.bucket);
      if (method == "DELETE") return DeleteBucket(ctx, target.bucket);
      if (method == "POST" && IsSubresource(request, "delete")) {
        return DeleteObjects(ctx, target.bucket, events);
      }
      return not_allowed();
    }
    if (method == "PUT") {
      if (IsSubresource(request, "uploadId")) return UploadPart(ctx, target);
      if (!request.headers.Get("x-amz-copy-source").empty()) {
        return CopyObject(ctx, target, events);
      }
      return PutObject(ctx, target, events);
    }
    if (method == "GET" || method == "HEAD") {
      if (IsSubresource(request, "uploadId")) {
        if (method == "HEAD") return not_allowed();
        return ListParts(ctx, target);
      }
      return GetObject(ctx, target);
    }
    if (method == "DELETE") {
      if (IsSubresource(request, "uploadId")) return AbortMultipartUpload(ctx, target);
      return DeleteObject(ctx, target, events);
    }
    if (method == "POST") {
      if (IsSubresource(request, "uploads")) return CreateMultipartUpload(ctx, target);
      if (IsSubresource(request, "uploadId")) {
        return CompleteMultipartUpload(ctx, target, events);
      }
      return not_allowed();
    }
    return not_allowed();
  }
};

ObjectService::ObjectService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ObjectService::~ObjectService() = default;

Result<std::unique_ptr<ObjectService>> ObjectService::Open(const std::string& directory,
                                                           ObjectOptions options) {
  std::error_code ec;
  for (const char* sub : {"/blobs", "/tmp", "/meta"}) {
    fs::create_directories(directory + sub, ec);
    if (ec) return Status::IoError("create " + directory + sub + ": " + ec.message());
  }
  auto kv = KvStore::Open(directory + "/meta");
  if (!kv.ok()) return kv.status().WithContext("objects");
  auto impl = std::make_unique<Impl>();
  impl->directory = directory;
  impl->options = std::move(options);
  impl->kv = std::move(*kv);
  impl->CollectGarbage();
  return std::unique_ptr<ObjectService>(new ObjectService(std::move(impl)));
}

bool ObjectService::IsS3Request(const HttpRequest& request) {
  if (SigV4Service(request) == "s3") return true;
  return request.headers.Get("Authorization").starts_with("AWS ");  // SigV2 is S3-only
}

bool ObjectService::Handle(HttpRequest& request, const std::shared_ptr<Responder>& responder) {
  if (!IsS3Request(request)) {
    // Signed for another service, or an API of another service: not ours.
    if (!request.headers.Get("Authorization").empty() || request.QueryParam("X-Amz-Credential") ||
        request.headers.Has("X-Amz-Target")) {
      return false;
    }
  }
  Impl::Context ctx{&request, responder, Upper(RandomHex(16)), Base64Encode(RandomHex(48)),
                    request.method == "HEAD"};
  std::vector<Impl::PendingEvent> events;
  impl_->Dispatch(ctx, &events);
  if (!responder->responded()) impl_->SendError(ctx, S3Error::Internal("no answer"));
  impl_->Notify(ctx, events);
  return true;
}

HttpResponse ObjectService::RequestTooLarge(const HttpRequest& request) {
  HttpResponse response;
  response.status = 400;
  response.headers.Set("Content-Type", "application/xml");
  response.headers.Set("x-amz-request-id", Upper(RandomHex(16)));
  response.headers.Set("x-amz-id-2", Base64Encode(RandomHex(48)));
  if (request.method != "HEAD") {
    response.body = std::string(kXmlHeader) +
                    "<Error><Code>EntityTooLarge</Code><Message>Your proposed upload exceeds the "
                    "maximum allowed size</Message><ProposedSize>" +
                    std::string(request.headers.Get("Content-Length")) +
                    "</ProposedSize><MaxSizeAllowed>73400320</MaxSizeAllowed></Error>";
  }
  return response;
}

void ObjectService::SetNotify(std::function<void(const std::string&, std::string)> notify) {
  impl_->options.notify = std::move(notify);
}

void ObjectService::SetFunctionExists(std::function<bool(const std::string&)> function_exists) {
  impl_->options.function_exists = std::move(function_exists);
}

}  // namespace haneul::objects
