// CodeStore: function packages on disk. A zip is kept as <dir>/<sha256-hex>.zip and unpacked once
// into <dir>/<sha256-hex>/, shared read-only by every environment that runs it. Unpacking refuses
// absolute paths, "..", links, and more than Lambda's unzipped size limit.
// Thread-compatible: the invoker calls it from the loop thread.
#pragma once

#include <set>
#include <string>

#include "haneul/common/aws_error.h"
#include "haneul/common/status.h"

namespace haneul::invoker {

// Lambda's limit on a function's unzipped code.
inline constexpr uint64_t kMaxUnzippedBytes = 262144000;
// Lambda's limit on a zip uploaded directly in the request.
inline constexpr uint64_t kMaxZipBytes = 52428800;

class CodeStore {
 public:
  explicit CodeStore(std::string directory) : directory_(std::move(directory)) {}

  // Validates, stores (fsynced) and unpacks a zip; returns its hex SHA-256 id. Bad zips are
  // InvalidParameterValueException as Lambda reports them.
  bool Put(const std::string& zip, std::string* code_id, AwsError* error);
  // The unpacked folder of a stored zip, unpacking again if it is missing (after a crash).
  Result<std::string> Directory(const std::string& code_id);
  std::string ZipPath(const std::string& code_id) const;

 private:
  Status Unpack(const std::string& zip_path, const std::string& target);
  std::string directory_;
  std::set<std::string> unpacked_;
};

}  // namespace haneul::invoker
