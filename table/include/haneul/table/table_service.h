// TableService: the DynamoDB-compatible table service (JSON 1.0 protocol, `X-Amz-Target:
// DynamoDB_20120810.<Op>`) over its own RocksDB instance, one column family per table and per
// secondary index. Control plane (CreateTable, DescribeTable, ListTables, UpdateTable,
// DeleteTable, tags, DescribeEndpoints, DescribeLimits) and data plane (Put/Get/Update/
// DeleteItem, Query, Scan, batch and transactional operations) with DynamoDB's expressions,
// limits and error messages.
// Durability: every write is one RocksDB WriteBatch through the write-ahead log, index
// maintenance included; with TableOptions::sync (the default) it is fsynced before the answer.
// Thread-safety: not thread-safe; call Handle on the server's event-loop thread only.
#pragma once

#include <memory>
#include <string>

#include "haneul/common/event_loop.h"
#include "haneul/common/http.h"
#include "haneul/common/status.h"

namespace haneul::table {

struct TableOptions {
  // fsync the write-ahead log before acknowledging a write (survives power loss, not only a
  // process crash). false: acknowledged writes survive a process crash (SIGKILL) only.
  bool sync = true;
  // With sync and a loop: group commit. Writes go to the WAL at once, their answers wait for one
  // fsync (on a background thread) that covers every write made before it started; answers are
  // sent on the loop. Without a loop every write is fsynced on the caller's thread.
  // Reads may see a write before its fsync (and so before it is acknowledged).
  EventLoop* loop = nullptr;
  std::string region = "us-east-1";
  std::string account = "000000000000";
};

class TableService {
 public:
  // Opens (creating if needed) the RocksDB instance at directory with every table in it.
  static Result<std::unique_ptr<TableService>> Open(const std::string& directory,
                                                    TableOptions options = {});
  ~TableService();
  TableService(const TableService&) = delete;
  TableService& operator=(const TableService&) = delete;

  // False when the request is not for this service (no DynamoDB X-Amz-Target); otherwise the
  // request is answered (synchronously) and true is returned.
  bool Handle(HttpRequest& request, const std::shared_ptr<Responder>& responder);

  // Answers one request body for an operation name: the JSON 1.0 response (for tests, fuzzing
  // and benchmarks without HTTP).
  HttpResponse Execute(const std::string& operation, const std::string& body);

 private:
  struct Impl;
  explicit TableService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace haneul::table
