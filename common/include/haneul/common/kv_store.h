// KvStore: the one embedded RocksDB instance of a data directory, behind a small interface so that
// RocksDB stays out of every other header. Keys are namespaced by prefix per owner ("lambda/",
// "logs/", ...). Thread-safe (RocksDB is).
// Durability: Put/Delete with sync=true return after the write-ahead log is fsynced, so an
// acknowledged write survives a crash; sync=false writes survive a process crash but not a power
// loss.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "haneul/common/status.h"

namespace haneul {

class KvStore {
 public:
  static Result<std::unique_ptr<KvStore>> Open(const std::string& directory);
  ~KvStore();
  KvStore(const KvStore&) = delete;
  KvStore& operator=(const KvStore&) = delete;

  Status Put(std::string_view key, std::string_view value, bool sync);
  Status Delete(std::string_view key, bool sync);
  // Writes every pair atomically, in one write-ahead-log record.
  Status PutBatch(const std::vector<std::pair<std::string, std::string>>& pairs, bool sync);
  // NotFound when absent.
  Result<std::string> Get(std::string_view key);
  // Visits keys >= start that begin with prefix, in order, until visit returns false.
  Status Scan(std::string_view prefix, std::string_view start,
              const std::function<bool(std::string_view key, std::string_view value)>& visit);

 private:
  struct Impl;
  explicit KvStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace haneul
