// ObjectService: the S3-compatible object store (REST XML protocol, path-style `/bucket/key` and
// virtual-host style `<bucket>.s3.localhost`) on one directory of the data dir: buckets, objects
// with user metadata and S3's ETags, ranges and conditional requests, copy, listing (v1 and v2),
// multipart upload, and bucket notification configurations whose matching events are handed to
// an injected callback (the triggers framework connects it to function invocations).
// Storage: object bytes live in files with random names under `<directory>/blobs` (written to a
// temp file, fsynced, renamed), metadata in a RocksDB instance of its own at
// `<directory>/meta`; the metadata commit is the moment an object becomes visible, so a crash
// never shows a half-written object and a key never becomes a path on disk.
// Thread-safety: not thread-safe; call Handle on the server's event-loop thread only. The
// callbacks are called on that thread too.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "haneul/common/http.h"
#include "haneul/common/status.h"

namespace haneul::objects {

struct ObjectOptions {
  std::string region = "us-east-1";
  std::string account = "000000000000";
  // fsync object files and the metadata log before acknowledging a write.
  bool sync = true;
  // Whether a notification destination exists (PutBucketNotificationConfiguration validates every
  // LambdaFunctionArn through it). Unset: every function exists.
  std::function<bool(const std::string& function_arn)> function_exists;
  // Called once per matching LambdaFunctionConfiguration when an object is created or removed,
  // with S3's event document ({"Records":[...]}). Called after the answer was sent.
  std::function<void(const std::string& function_arn, std::string event_json)> notify;
};

class ObjectService {
 public:
  // Opens (creating if needed) the store under directory (`<data>/objects`).
  static Result<std::unique_ptr<ObjectService>> Open(const std::string& directory,
                                                     ObjectOptions options = {});
  ~ObjectService();
  ObjectService(const ObjectService&) = delete;
  ObjectService& operator=(const ObjectService&) = delete;

  // False when the request belongs to another service (its SigV4 scope names a service other
  // than s3); otherwise answers it (synchronously) and returns true. Unsigned requests are
  // claimed: call this after every other service had its chance.
  bool Handle(HttpRequest& request, const std::shared_ptr<Responder>& responder);

  // True when the request is signed for s3 (its credential scope names the service).
  static bool IsS3Request(const HttpRequest& request);
  // The answer to an S3 request whose body is over the endpoint's limit (EntityTooLarge).
  HttpResponse RequestTooLarge(const HttpRequest& request);

  // Replaces the callbacks (the lead wires notify after the invoker exists).
  void SetNotify(std::function<void(const std::string&, std::string)> notify);
  void SetFunctionExists(std::function<bool(const std::string&)> function_exists);

 private:
  struct Impl;
  explicit ObjectService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace haneul::objects
