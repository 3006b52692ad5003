// FunctionConfig: one function's configuration as stored, its validation against Lambda's rules,
// and its wire shape (FunctionConfiguration in botocore's lambda model). Also the parsing of the
// FunctionName path parameter (name, full ARN or partial ARN, with an optional qualifier).
// Pure functions and values: thread-compatible.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "haneul/common/aws_error.h"

namespace haneul::invoker {

// Where this server says its functions live.
struct AccountInfo {
  std::string region = "us-east-1";
  std::string account_id = "000000000000";
};

enum class RuntimeFamily { kPython, kNode, kProvided };

// The state of a published SnapStart version while and after its snapshot is taken (shared by
// every copy of the version's configuration, changed on the loop thread; not stored: a restarted
// server takes the snapshot again).
struct VersionState {
  std::string state = "Active";                   // Pending | Active | Failed
  std::string last_update_status = "Successful";  // InProgress | Successful | Failed
  std::string reason_code;                        // StateReasonCode (Creating, FunctionError, ...)
  std::string reason;                             // StateReason
};

struct FunctionConfig {
  std::string name;
  std::string runtime;
  std::string handler;
  std::string role;
  std::string description;
  int memory_mb = 128;
  int timeout_seconds = 3;
  int ephemeral_storage_mb = 512;
  std::map<std::string, std::string> environment;
  std::string code_sha256;  // base64 of the zip's SHA-256, as Lambda reports it
  std::string code_id;      // hex SHA-256: the name of the stored zip and its unpacked folder
  int64_t code_size = 0;
  int64_t last_modified_ms = 0;
  std::string revision_id;
  // Bumped by every code or configuration change: environments of older revisions retire.
  uint64_t revision = 0;
  // "$LATEST" for the editable function, "1", "2", ... for published (immutable) versions.
  std::string version = "$LATEST";
  // For a published version: the $LATEST revision it was published from (PublishVersion is a
  // no-op while $LATEST stays at that revision).
  uint64_t published_from = 0;

  // "Zip", or "Image" for a container-image function, whose code is the image: its unpacked root
  // filesystem and its own configuration, with the function's ImageConfig overrides on top.
  std::string package_type = "Zip";
  std::string image_uri;         // as given in Code.ImageUri
  std::string image_digest;      // the manifest digest it resolved to ("sha256:...")
  std::string image_rootfs;      // host path of the unpacked root filesystem (shared, read-only)
  std::vector<std::string> image_entrypoint;
  std::vector<std::string> image_cmd;
  std::vector<std::string> image_env;  // "NAME=value"
  std::string image_working_dir;
  std::optional<std::vector<std::string>> override_entry_point;  // ImageConfig.EntryPoint
  std::optional<std::vector<std::string>> override_command;      // ImageConfig.Command
  std::optional<std::string> override_working_directory;         // ImageConfig.WorkingDirectory

  // SnapStart.ApplyOn: "PublishedVersions" or "None".
  std::string snap_start_apply_on = "None";
  // Published SnapStart versions only: the snapshot's progress (State in the API).
  std::shared_ptr<VersionState> version_state;
  bool snap_start() const { return snap_start_apply_on == "PublishedVersions" && !is_latest(); }
  // LoggingConfig. The levels apply to the JSON format only (empty there: INFO).
  std::string log_format = "Text";    // "Text" | "JSON"
  std::string application_log_level;  // TRACE DEBUG INFO WARN ERROR FATAL
  std::string system_log_level;       // DEBUG INFO WARN
  std::string log_group;              // empty: /aws/lambda/NAME
  std::string LogGroup() const { return log_group.empty() ? "/aws/lambda/" + name : log_group; }
  bool json_logs() const { return log_format == "JSON"; }

  bool is_image() const { return package_type == "Image"; }
  bool is_latest() const { return version == "$LATEST"; }
  // The unqualified ARN for $LATEST, "...:function:NAME:N" for a version (as Lambda reports it).
  std::string Arn(const AccountInfo& account) const;
  std::string UnqualifiedArn(const AccountInfo& account) const;
  // The pool an environment of this configuration belongs to: "NAME:VERSION".
  std::string PoolKey() const { return name + ":" + version; }

  nlohmann::json ToApi(const AccountInfo& account) const;  // FunctionConfiguration
  nlohmann::json ToStorage() const;
  static std::optional<FunctionConfig> FromStorage(const nlohmann::json& stored);
};

std::optional<RuntimeFamily> FamilyOf(const std::string& runtime);

// The FunctionName of a path: "name", "name:qualifier", "arn:aws:lambda:REGION:ACCOUNT:function:
// name[:qualifier]" or "ACCOUNT:function:name[:qualifier]".
struct FunctionRef {
  std::string name;
  std::string qualifier;  // empty when none
};
// Returns a ValidationException-shaped error for a malformed name.
std::optional<FunctionRef> ParseFunctionRef(const std::string& text, const AccountInfo& account,
                                            AwsError* error);

// Applies the fields of a CreateFunction (create=true) or UpdateFunctionConfiguration request
// body to config, validating each as Lambda does. On failure returns false and sets *error
// (ValidationException with Lambda's "N validation error(s) detected: ..." text, or
// InvalidParameterValueException), leaving config partly changed: apply to a copy.
bool ApplyConfigRequest(const nlohmann::json& body, bool create, FunctionConfig* config,
                        AwsError* error);

// Parses a request body as a JSON object, or explains why not (InvalidRequestContentException).
std::optional<nlohmann::json> ParseJsonObject(const std::string& body, AwsError* error);

}  // namespace haneul::invoker
