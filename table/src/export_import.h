// ExportImport: DynamoDB's ExportTableToPointInTime / DescribeExport / ListExports and
// ImportTable / DescribeImport / ListImports against the object store (TableObjectStore).
// An export writes exactly DynamoDB's layout: `<prefix>/AWSDynamoDB/<exportId>/_started`,
// `data/<name>.json.gz` (gzip'd `{"Item":{...}}` lines), `manifest-files.json` (one line per data
// file), `manifest-summary.json` and their `.checksum` files. An import reads every object under
// a key prefix (DynamoDB JSON or CSV, gzip or not) into a table it creates, counting malformed
// lines (ErrorCount, each logged to the server log) and importing the rest.
// Jobs run on threads of their own: an export reads the table through a RocksDB iterator taken
// at request time (a consistent view) plus the point-in-time log; everything that touches
// single-threaded state (the object store, item writes, descriptions on disk) is posted to the
// loop and waited for. Descriptions persist in the default family (`export/<arn>`,
// `import/<arn>`); a job cut short by a restart is FAILED when the service opens again.
// Thread-safety: construct, Dispatch and destroy on the loop thread; the destructor stops and
// joins the jobs. Without a loop a job runs inline, inside the request that started it.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "haneul/common/event_loop.h"
#include "haneul/common/http.h"
#include "haneul/table/table_service.h"
#include "storage.h"
#include "value.h"

namespace haneul::table {

// What the jobs need from the table service.
struct ExportImportHost {
  Storage* storage = nullptr;
  EventLoop* loop = nullptr;  // null: jobs run inline
  std::string region;
  std::string account;
  std::function<int64_t()> now_ms;
  TableObjectStore objects;
  // Runs one table operation (CreateTable, PutItem, DeleteTable) as a request would, with its
  // durability and streams; on the loop thread.
  std::function<HttpResponse(const std::string& operation, const std::string& body)> execute;
  // Makes the writes of execute calls made outside a request durable (group commit) and tells
  // stream listeners; loop thread.
  std::function<void()> commit;
};

class ExportImport {
 public:
  explicit ExportImport(ExportImportHost host);
  ~ExportImport();
  ExportImport(const ExportImport&) = delete;
  ExportImport& operator=(const ExportImport&) = delete;

  static bool Handles(const std::string& operation);
  MaybeError Dispatch(const std::string& operation, json& request, json* response);

 private:
  struct ExportJob;
  struct ImportJob;

  MaybeError ExportTableToPointInTime(json& request, json* response);
  MaybeError DescribeExport(json& request, json* response);
  MaybeError ListExports(json& request, json* response);
  MaybeError ImportTable(json& request, json* response);
  MaybeError DescribeImport(json& request, json* response);
  MaybeError ListImports(json& request, json* response);

  void RunExport(const std::shared_ptr<ExportJob>& job);
  void RunImport(const std::shared_ptr<ImportJob>& job);
  // Runs fn on the loop thread and waits for it; false when the service is stopping (fn may then
  // never run).
  bool RunOnLoop(const std::function<void()>& fn);
  void Start(std::function<void()> job);
  // Copies a description (under the lock) and persists it; loop thread.
  void Save(const std::string& kind, const std::string& arn);
  void Load();
  void DropPartialTable(const json& description);
  int64_t Now() const;

  ExportImportHost host_;
  std::mutex mutex_;                     // guards the descriptions
  std::map<std::string, json> exports_;  // by ExportArn: the ExportDescription
  std::map<std::string, json> imports_;  // by ImportArn: the ImportTableDescription
  // ClientToken -> (request fingerprint, arn, time) for idempotent retries.
  std::map<std::string, std::tuple<std::string, std::string, int64_t>> export_tokens_;
  std::map<std::string, std::tuple<std::string, std::string, int64_t>> import_tokens_;
  struct Worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  std::vector<Worker> threads_;  // finished ones are joined when the next job starts
  std::atomic<bool> stopping_{false};
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace haneul::table
