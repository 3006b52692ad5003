// RocksDB-backed table storage; see storage.h.
#include "storage.h"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

namespace haneul::table {

namespace {

constexpr char kMetaPrefix[] = "meta/";

std::string TableFamilyName(const TableMeta& table) { return "t/" + table.id; }
std::string IndexFamilyName(const TableMeta& table, const IndexMeta& index) {
  return "i/" + table.id + "/" + index.name;
}

ApiError StorageError(const rocksdb::Status& status) {
  return ApiError::Internal("Internal server error: storage: " + status.ToString());
}

json KeySchemaJson(const KeySchema& key) {
  json out = json::array({{{"AttributeName", key.hash}, {"KeyType", "HASH"}}});
  if (!key.range.empty()) out.push_back({{"AttributeName", key.range}, {"KeyType", "RANGE"}});
  return out;
}

bool KeySchemaFromJson(const json& value, KeySchema* out) {
  if (!value.is_array()) return false;
  for (const auto& element : value) {
    if (!element.is_object()) return false;
    std::string name = element.value("AttributeName", "");
    std::string type = element.value("KeyType", "");
    if (type == "HASH")
      out->hash = name;
    else if (type == "RANGE")
      out->range = name;
  }
  return !out->hash.empty();
}

rocksdb::ColumnFamilyOptions FamilyOptions() {
  rocksdb::ColumnFamilyOptions options;
  options.OptimizeForPointLookup(64);
  return options;
}

}  // namespace

json TableMeta::ToJson() const {
  json indexes_json = json::array();
  for (const auto& index : indexes) {
    indexes_json.push_back({{"IndexName", index.name},
                            {"Global", index.global},
                            {"KeySchema", KeySchemaJson(index.key)},
                            {"ProjectionType", index.projection_type},
                            {"NonKeyAttributes", index.non_key_attributes},
                            {"ProvisionedThroughput", index.provisioned}});
  }
  return {{"magic", "haneul-table"},
          {"version", 1},
          {"TableName", name},
          {"TableId", id},
          {"Created", created},
          {"KeySchema", KeySchemaJson(key)},
          {"AttributeTypes", attribute_types},
          {"BillingMode", billing_mode},
          {"ProvisionedThroughput", provisioned},
          {"Indexes", indexes_json},
          {"Tags", tags},
          {"StreamEnabled", stream_enabled},
          {"StreamViewType", stream_view_type},
          {"LatestStreamArn", latest_stream_arn},
          {"LatestStreamLabel", latest_stream_label},
          {"TtlAttribute", ttl_attribute},
          {"PitrSince", pitr_since_ms}};
}

std::optional<TableMeta> TableMeta::FromJson(const json& value) {
  if (!value.is_object() || value.value("magic", "") != "haneul-table" ||
      value.value("version", 0) != 1) {
    return std::nullopt;
  }
  TableMeta table;
  table.name = value.value("TableName", "");
  table.id = value.value("TableId", "");
  table.created = value.value("Created", 0.0);
  if (!KeySchemaFromJson(value["KeySchema"], &table.key)) return std::nullopt;
  for (const auto& [name, type] : value["AttributeTypes"].items()) {
    table.attribute_types[name] = type.get<std::string>();
  }
  table.billing_mode = value.value("BillingMode", "PROVISIONED");
  table.provisioned = value["ProvisionedThroughput"];
  for (const auto& element : value["Indexes"]) {
    IndexMeta index;
    index.name = element.value("IndexName", "");
    index.global = element.value("Global", true);
    if (!KeySchemaFromJson(element["KeySchema"], &index.key)) return std::nullopt;
    index.projection_type = element.value("ProjectionType", "ALL");
    for (const auto& attribute : element["NonKeyAttributes"]) {
      index.non_key_attributes.push_back(attribute.get<std::string>());
    }
    index.provisioned = element["ProvisionedThroughput"];
    table.indexes.push_back(std::move(index));
  }
  table.tags = value.contains("Tags") ? value["Tags"] : json::object();
  table.stream_enabled = value.value("StreamEnabled", false);
  table.stream_view_type = value.value("StreamViewType", "");
  table.latest_stream_arn = value.value("LatestStreamArn", "");
  table.latest_stream_label = value.value("LatestStreamLabel", "");
  table.ttl_attribute = value.value("TtlAttribute", "");
  table.pitr_since_ms = value.value("PitrSince", int64_t{0});
  return table;
}

json StreamMeta::ToJson() const {
  return {{"magic", "haneul-stream"},
          {"version", 1},
          {"StreamArn", arn},
          {"StreamLabel", label},
          {"TableName", table_name},
          {"TableId", table_id},
          {"StreamViewType", view_type},
          {"ShardId", shard_id},
          {"KeySchema", KeySchemaJson(key)},
          {"Enabled", enabled},
          {"Created", created_ms},
          {"Disabled", disabled_ms},
          {"Starting", starting},
          {"Ending", ending},
          {"TrimmedThrough", trimmed_through}};
}

std::optional<StreamMeta> StreamMeta::FromJson(const json& value) {
  if (!value.is_object() || value.value("magic", "") != "haneul-stream" ||
      value.value("version", 0) != 1) {
    return std::nullopt;
  }
  StreamMeta stream;
  stream.arn = value.value("StreamArn", "");
  stream.label = value.value("StreamLabel", "");
  stream.table_name = value.value("TableName", "");
  stream.table_id = value.value("TableId", "");
  stream.view_type = value.value("StreamViewType", "");
  stream.shard_id = value.value("ShardId", "");
  if (!value.contains("KeySchema") || !KeySchemaFromJson(value["KeySchema"], &stream.key)) {
    return std::nullopt;
  }
  stream.enabled = value.value("Enabled", false);
  stream.created_ms = value.value("Created", int64_t{0});
  stream.disabled_ms = value.value("Disabled", int64_t{0});
  stream.starting = value.value("Starting", uint64_t{0});
  stream.ending = value.value("Ending", uint64_t{0});
  stream.trimmed_through = value.value("TrimmedThrough", uint64_t{0});
  return stream;
}

const IndexMeta* TableMeta::FindIndex(const std::string& index_name) const {
  for (const auto& index : indexes) {
    if (index.name == index_name) return &index;
  }
  return nullptr;
}

MaybeError Storage::Open(const std::string& directory, bool sync, std::unique_ptr<Storage>* out) {
  std::unique_ptr<Storage> storage(new Storage());
  storage->sync_ = sync;
  rocksdb::DBOptions options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  std::vector<std::string> names;
  rocksdb::Status status = rocksdb::DB::ListColumnFamilies(options, directory, &names);
  if (!status.ok() || names.empty()) names = {rocksdb::kDefaultColumnFamilyName};
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& name : names) {
    descriptors.emplace_back(name, name == rocksdb::kDefaultColumnFamilyName
                                       ? rocksdb::ColumnFamilyOptions()
                                       : FamilyOptions());
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  status = rocksdb::DB::Open(options, directory, descriptors, &handles, &db);
  if (!status.ok()) return StorageError(status);
  storage->db_.reset(db);
  for (size_t i = 0; i < names.size(); ++i) storage->families_[names[i]] = handles[i];

  for (auto [name, slot] : {std::pair{"streams", &storage->stream_family_},
                            std::pair{"pitr", &storage->pitr_family_},
                            std::pair{"backups", &storage->backup_family_}}) {
    MaybeError error;
    *slot = storage->OpenFamily(name, &error);
    if (error) return error;
  }
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(kMetaPrefix); it->Valid() && it->key().starts_with(kMetaPrefix); it->Next()) {
    auto value = json::parse(it->value().ToString(), nullptr, false);
    auto meta = TableMeta::FromJson(value);
    if (!meta) return ApiError::Internal("corrupt table metadata: " + it->key().ToString());
    auto table = std::make_unique<TableMeta>(std::move(*meta));
    MaybeError error;
    table->family = storage->OpenFamily(TableFamilyName(*table), &error);
    if (error) return error;
    for (auto& index : table->indexes) {
      index.family = storage->OpenFamily(IndexFamilyName(*table, index), &error);
      if (error) return error;
    }
    storage->tables_[table->name] = std::move(table);
  }
  *out = std::move(storage);
  return std::nullopt;
}

Storage::~Storage() {
  if (!db_) return;
  for (auto& [name, handle] : families_) db_->DestroyColumnFamilyHandle(handle);
  families_.clear();
  db_->Close();
}

rocksdb::ColumnFamilyHandle* Storage::OpenFamily(const std::string& name, MaybeError* error) {
  auto it = families_.find(name);
  if (it != families_.end()) return it->second;
  rocksdb::ColumnFamilyHandle* handle = nullptr;
  rocksdb::Status status = db_->CreateColumnFamily(FamilyOptions(), name, &handle);
  if (!status.ok()) {
    *error = StorageError(status);
    return nullptr;
  }
  families_[name] = handle;
  return handle;
}

void Storage::CloseFamily(rocksdb::ColumnFamilyHandle* family) {
  if (family == nullptr) return;
  for (auto it = families_.begin(); it != families_.end(); ++it) {
    if (it->second == family) {
      db_->DropColumnFamily(family);
      db_->DestroyColumnFamilyHandle(family);
      families_.erase(it);
      return;
    }
  }
}

TableMeta* Storage::Find(const std::string& name) {
  auto it = tables_.find(name);
  return it == tables_.end() ? nullptr : it->second.get();
}

MaybeError Storage::Create(std::unique_ptr<TableMeta> table) {
  MaybeError error;
  table->family = OpenFamily(TableFamilyName(*table), &error);
  if (error) return error;
  for (auto& index : table->indexes) {
    index.family = OpenFamily(IndexFamilyName(*table, index), &error);
    if (error) return error;
  }
  TABLE_TRY(SaveMeta(*table));
  tables_[table->name] = std::move(table);
  return std::nullopt;
}

MaybeError Storage::SaveMeta(const TableMeta& table) {
  rocksdb::WriteOptions options;
  options.sync = sync_;
  rocksdb::Status status = db_->Put(options, kMetaPrefix + table.name, table.ToJson().dump());
  if (!status.ok()) return StorageError(status);
  dirty_ = true;
  return std::nullopt;
}

MaybeError Storage::CreateIndexFamily(const TableMeta& table, IndexMeta* index) {
  MaybeError error;
  index->family = OpenFamily(IndexFamilyName(table, *index), &error);
  return error;
}

MaybeError Storage::DropIndexFamily(IndexMeta* index) {
  CloseFamily(index->family);
  index->family = nullptr;
  return std::nullopt;
}

MaybeError Storage::Drop(const std::string& name) {
  auto it = tables_.find(name);
  if (it == tables_.end()) return std::nullopt;
  // Metadata first: a crash after this leaves only orphan families, never a table without data.
  rocksdb::WriteOptions options;
  options.sync = sync_;
  rocksdb::Status status = db_->Delete(options, kMetaPrefix + name);
  if (!status.ok()) return StorageError(status);
  dirty_ = true;
  for (auto& index : it->second->indexes) CloseFamily(index.family);
  CloseFamily(it->second->family);
  tables_.erase(it);
  return std::nullopt;
}

MaybeError Storage::Get(rocksdb::ColumnFamilyHandle* family, const std::string& key,
                        std::optional<std::string>* value) {
  std::string data;
  rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), family, key, &data);
  if (status.IsNotFound()) {
    value->reset();
    return std::nullopt;
  }
  if (!status.ok()) return StorageError(status);
  *value = std::move(data);
  return std::nullopt;
}

MaybeError Storage::Write(rocksdb::WriteBatch* batch) {
  rocksdb::WriteOptions options;
  options.sync = sync_;
  rocksdb::Status status = db_->Write(options, batch);
  if (!status.ok()) return StorageError(status);
  dirty_ = true;
  return std::nullopt;
}

MaybeError Storage::SyncWal() {
  rocksdb::Status status = db_->SyncWAL();
  if (!status.ok()) return StorageError(status);
  return std::nullopt;
}

uint64_t Storage::EstimateKeys(rocksdb::ColumnFamilyHandle* family) {
  uint64_t keys = 0;
  if (!db_->GetIntProperty(family, "rocksdb.estimate-num-keys", &keys)) return 0;
  return keys;
}

rocksdb::ColumnFamilyHandle* Storage::default_family() const {
  return db_->DefaultColumnFamily();
}

std::unique_ptr<rocksdb::Iterator> Storage::NewIterator(rocksdb::ColumnFamilyHandle* family) {
  return std::unique_ptr<rocksdb::Iterator>(db_->NewIterator(rocksdb::ReadOptions(), family));
}

}  // namespace haneul::table
