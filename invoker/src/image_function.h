// Image functions (PackageType: Image): resolving Code.ImageUri through the image store into a
// FunctionConfig, the Code member GetFunction shows for them, and what their worker runs (the
// image's entrypoint and command with the function's ImageConfig overrides, the image's
// environment under Lambda's variables, its working directory, its unpacked root filesystem).
// Pure functions over values, except ResolveImageCode, which blocks on the image store (pulls,
// imports and unpacks): call it where blocking is acceptable.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "function_config.h"
#include "haneul/common/aws_error.h"
#include "haneul/images/image_store.h"

namespace haneul::invoker {

// Resolves `image_uri` (a registry reference, oci:, oci-archive:, docker-archive: or a name in the
// store) and records the image in *config: digest, rootfs and the image's own configuration.
// Failure: InvalidParameterValueException naming the image and the reason.
bool ResolveImageCode(images::ImageStore& store, const std::string& image_uri,
                      FunctionConfig* config, AwsError* error);

// GetFunction's Code member for an image function.
nlohmann::json ImageCodeLocation(const FunctionConfig& config);

// How an image function's worker starts.
struct ImageLaunch {
  std::vector<std::string> argv;         // ENTRYPOINT + CMD after the function's overrides
  std::vector<std::string> environment;  // the image's ENV ("NAME=value")
  std::string working_directory;         // the override, else the image's, else /var/task
  std::string handler;                   // _HANDLER: the first CMD element, as on Lambda
};
ImageLaunch LaunchOf(const FunctionConfig& config);

}  // namespace haneul::invoker
