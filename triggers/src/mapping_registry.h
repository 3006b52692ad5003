// MappingRegistry: Lambda's event source mapping API (botocore `lambda` rest-json:
// Create/Get/Update/Delete/ListEventSourceMappings under /2015-03-31/event-source-mappings/)
// over durable configurations in the KvStore ("triggers/esm/<UUID>"). Each mapping is handed to
// the MappingSource that accepts its EventSourceArn. States follow Lambda's: Creating -> Enabled,
// Updating/Enabling -> Enabled, Disabling -> Disabled, Deleting (gone at once); the transient
// state is what the answer shows, the settled one is reached on the next loop turn.
// Thread-safety: loop thread only.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "event_source.h"
#include "haneul/common/event_loop.h"
#include "haneul/common/http.h"
#include "haneul/common/kv_store.h"

namespace haneul::triggers {

class MappingRegistry {
 public:
  MappingRegistry(EventLoop& loop, KvStore& store, std::string region, std::string account,
                  std::function<bool(const std::string& name)> function_exists,
                  std::vector<MappingSource*> sources);
  ~MappingRegistry();

  // Loads the durable mappings and attaches the enabled ones.
  Status Start();
  bool Handle(HttpRequest& request, const std::shared_ptr<Responder>& responder);

 private:
  struct Entry {
    MappingConfig config;
    std::string state;
    std::string state_reason = "USER_INITIATED";
    double last_modified = 0;  // epoch seconds
    MappingSource* source = nullptr;
  };

  void Create(HttpRequest& request, const std::shared_ptr<Responder>& responder);
  void Get(const std::string& uuid, const std::shared_ptr<Responder>& responder);
  void Update(HttpRequest& request, const std::string& uuid,
              const std::shared_ptr<Responder>& responder);
  void Delete(const std::string& uuid, const std::shared_ptr<Responder>& responder);
  void List(HttpRequest& request, const std::shared_ptr<Responder>& responder);

  nlohmann::json Describe(const Entry& entry) const;
  Status Save(const Entry& entry);
  // Settles a transient state on the next loop turn (Creating -> Enabled, ...).
  void Settle(const std::string& uuid);

  EventLoop& loop_;
  KvStore& store_;
  std::string region_;
  std::string account_;
  std::function<bool(const std::string&)> function_exists_;
  std::vector<MappingSource*> sources_;
  std::map<std::string, Entry> entries_;  // by UUID
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace haneul::triggers
