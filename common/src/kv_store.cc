// KvStore over RocksDB.
#include "haneul/common/kv_store.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

namespace haneul {

struct KvStore::Impl {
  std::unique_ptr<rocksdb::DB> db;
};

KvStore::KvStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KvStore::~KvStore() = default;

Result<std::unique_ptr<KvStore>> KvStore::Open(const std::string& directory) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.max_open_files = 256;
  options.keep_log_file_num = 2;
  rocksdb::DB* db = nullptr;
  rocksdb::Status status = rocksdb::DB::Open(options, directory, &db);
  if (!status.ok()) return Status::IoError("open store " + directory + ": " + status.ToString());
  auto impl = std::make_unique<Impl>();
  impl->db.reset(db);
  return std::unique_ptr<KvStore>(new KvStore(std::move(impl)));
}

Status KvStore::Put(std::string_view key, std::string_view value, bool sync) {
  rocksdb::WriteOptions options;
  options.sync = sync;
  auto status = impl_->db->Put(options, rocksdb::Slice(key.data(), key.size()),
                               rocksdb::Slice(value.data(), value.size()));
  if (!status.ok()) return Status::IoError("store put: " + status.ToString());
  return Status::Ok();
}

Status KvStore::PutBatch(const std::vector<std::pair<std::string, std::string>>& pairs,
                         bool sync) {
  rocksdb::WriteBatch batch;
  for (const auto& [key, value] : pairs) batch.Put(key, value);
  rocksdb::WriteOptions options;
  options.sync = sync;
  auto status = impl_->db->Write(options, &batch);
  if (!status.ok()) return Status::IoError("store batch: " + status.ToString());
  return Status::Ok();
}

Status KvStore::Delete(std::string_view key, bool sync) {
  rocksdb::WriteOptions options;
  options.sync = sync;
  auto status = impl_->db->Delete(options, rocksdb::Slice(key.data(), key.size()));
  if (!status.ok()) return Status::IoError("store delete: " + status.ToString());
  return Status::Ok();
}

Result<std::string> KvStore::Get(std::string_view key) {
  std::string value;
  auto status = impl_->db->Get(rocksdb::ReadOptions(), rocksdb::Slice(key.data(), key.size()),
                               &value);
  if (status.IsNotFound()) return Status::NotFound(std::string(key));
  if (!status.ok()) return Status::IoError("store get: " + status.ToString());
  return value;
}

Status KvStore::Scan(std::string_view prefix, std::string_view start,
                     const std::function<bool(std::string_view, std::string_view)>& visit) {
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(rocksdb::ReadOptions()));
  std::string_view from = start.empty() || start < prefix ? prefix : start;
  for (it->Seek(rocksdb::Slice(from.data(), from.size())); it->Valid(); it->Next()) {
    std::string_view key(it->key().data(), it->key().size());
    if (!key.starts_with(prefix)) break;
    if (!visit(key, std::string_view(it->value().data(), it->value().size()))) break;
  }
  if (!it->status().ok()) return Status::IoError("store scan: " + it->status().ToString());
  return Status::Ok();
}

}  // namespace haneul
