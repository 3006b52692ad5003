// Table metadata (key schema, attribute definitions, indexes, billing, tags) and the RocksDB
// instance that holds it with every table's items: one column family per table ("t/<TableId>")
// and per secondary index ("i/<TableId>/<IndexName>"), metadata in the default family under
// "meta/<TableName>". Item keys are the order-preserving encodings of the key attributes
// (value.h), index entries are index key + table key so they are unique.
// Thread-safety: single-threaded (the service runs on the event-loop thread).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "value.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class WriteBatch;
class Iterator;
}  // namespace rocksdb

namespace haneul::table {

struct KeySchema {
  std::string hash;
  std::string range;  // empty when the key has no sort key
};

struct IndexMeta {
  std::string name;
  bool global = true;
  KeySchema key;
  std::string projection_type = "ALL";  // ALL, KEYS_ONLY, INCLUDE
  std::vector<std::string> non_key_attributes;
  json provisioned;  // {"ReadCapacityUnits","WriteCapacityUnits"} or null
  rocksdb::ColumnFamilyHandle* family = nullptr;
};

struct TableMeta {
  std::string name;
  std::string id;
  double created = 0;  // unix seconds
  KeySchema key;
  std::map<std::string, std::string> attribute_types;  // AttributeDefinitions
  std::string billing_mode = "PROVISIONED";
  json provisioned;  // {"ReadCapacityUnits","WriteCapacityUnits"}
  std::vector<IndexMeta> indexes;
  json tags = json::object();
  rocksdb::ColumnFamilyHandle* family = nullptr;
  // Streams: the current specification and the newest stream ever created (kept when disabled,
  // as DescribeTable's LatestStreamArn is).
  bool stream_enabled = false;
  std::string stream_view_type;
  std::string latest_stream_arn;
  std::string latest_stream_label;
  // Time to live: the attribute name, empty when disabled.
  std::string ttl_attribute;
  // Point-in-time recovery: enabled since (unix ms), 0 when disabled.
  int64_t pitr_since_ms = 0;

  json ToJson() const;
  static std::optional<TableMeta> FromJson(const json& value);
  const IndexMeta* FindIndex(const std::string& index_name) const;
};

// One stream of a table (one shard per stream). Kept after its table is deleted or the stream
// disabled, until its records age out.
struct StreamMeta {
  std::string arn;
  std::string label;
  std::string table_name;
  std::string table_id;
  std::string view_type;
  std::string shard_id;
  KeySchema key;
  bool enabled = true;
  int64_t created_ms = 0;
  int64_t disabled_ms = 0;
  uint64_t starting = 0;         // first sequence counter the shard may hold
  uint64_t ending = 0;           // last one, once the shard is closed (0 while open)
  uint64_t trimmed_through = 0;  // every record up to this counter has been trimmed
  uint64_t last = 0;             // newest record written (not persisted: found on open)

  json ToJson() const;
  static std::optional<StreamMeta> FromJson(const json& value);
};

// The storage engine: tables, their column families, and atomic writes.
class Storage {
 public:
  // sync: every Write is fsynced before it returns. Otherwise writes reach the WAL (surviving a
  // process crash) and SyncWal() makes them durable: the service's group commit.
  static MaybeError Open(const std::string& directory, bool sync, std::unique_ptr<Storage>* out);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  TableMeta* Find(const std::string& name);
  const std::map<std::string, std::unique_ptr<TableMeta>>& tables() const { return tables_; }

  // Creates the table's (and its indexes') column families and stores its metadata.
  MaybeError Create(std::unique_ptr<TableMeta> table);
  // Drops the families and the metadata.
  MaybeError Drop(const std::string& name);
  // Rewrites the metadata of an existing table.
  MaybeError SaveMeta(const TableMeta& table);
  MaybeError CreateIndexFamily(const TableMeta& table, IndexMeta* index);
  MaybeError DropIndexFamily(IndexMeta* index);

  // NotFound as nullopt; an error only when RocksDB fails.
  MaybeError Get(rocksdb::ColumnFamilyHandle* family, const std::string& key,
                 std::optional<std::string>* value);
  MaybeError Write(rocksdb::WriteBatch* batch);
  // fsyncs the write-ahead log. Thread-safe (may run beside Write on another thread).
  MaybeError SyncWal();
  // True when a Write happened since the last call.
  bool TakeDirty() {
    bool dirty = dirty_;
    dirty_ = false;
    return dirty;
  }
  // RocksDB's estimate of the number of keys in a family (cheap; may be off after deletes).
  uint64_t EstimateKeys(rocksdb::ColumnFamilyHandle* family);
  // The caller checks range bounds itself.
  std::unique_ptr<rocksdb::Iterator> NewIterator(rocksdb::ColumnFamilyHandle* family);
  // The default family (metadata, counters) and the auxiliary families of streams, TTL and
  // backups ("streams", "pitr", "backups"), opened with the database.
  rocksdb::ColumnFamilyHandle* default_family() const;
  rocksdb::ColumnFamilyHandle* stream_family() const { return stream_family_; }
  rocksdb::ColumnFamilyHandle* pitr_family() const { return pitr_family_; }
  rocksdb::ColumnFamilyHandle* backup_family() const { return backup_family_; }

 private:
  Storage() = default;
  rocksdb::ColumnFamilyHandle* OpenFamily(const std::string& name, MaybeError* error);
  void CloseFamily(rocksdb::ColumnFamilyHandle* family);

  std::unique_ptr<rocksdb::DB> db_;
  bool sync_ = true;
  bool dirty_ = false;
  std::map<std::string, rocksdb::ColumnFamilyHandle*> families_;  // every open family by name
  std::map<std::string, std::unique_ptr<TableMeta>> tables_;
  rocksdb::ColumnFamilyHandle* stream_family_ = nullptr;
  rocksdb::ColumnFamilyHandle* pitr_family_ = nullptr;
  rocksdb::ColumnFamilyHandle* backup_family_ = nullptr;
};

}  // namespace haneul::table
