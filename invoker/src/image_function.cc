// Image functions: see image_function.h.
#include "image_function.h"

namespace haneul::invoker {

bool ResolveImageCode(images::ImageStore& store, const std::string& image_uri,
                      FunctionConfig* config, AwsError* error) {
  auto resolved = store.Resolve(image_uri);
  if (!resolved.ok()) {
    *error = AwsError::InvalidParameterValue("Source image " + image_uri +
                                             " could not be used: " + resolved.status().message());
    return false;
  }
  config->package_type = "Image";
  config->image_uri = image_uri;
  config->image_digest = resolved->digest;
  config->image_rootfs = resolved->rootfs;
  config->image_entrypoint = resolved->config.entrypoint;
  config->image_cmd = resolved->config.cmd;
  config->image_env = resolved->config.env;
  config->image_working_dir = resolved->config.working_dir;
  // Lambda reports an image's CodeSha256 as the manifest digest's hex, and no code size.
  std::string hex = resolved->digest;
  if (hex.starts_with("sha256:")) hex = hex.substr(7);
  config->code_sha256 = hex;
  config->code_id.clear();
  config->code_size = 0;
  return true;
}

nlohmann::json ImageCodeLocation(const FunctionConfig& config) {
  std::string repository = config.image_uri;
  // "repo:tag" or "repo@sha256:..." -> "repo@<digest>".
  size_t at = repository.find('@');
  if (at != std::string::npos) repository = repository.substr(0, at);
  size_t slash = repository.rfind('/');
  size_t colon = repository.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    repository = repository.substr(0, colon);
  }
  return {{"RepositoryType", "ECR"},
          {"ImageUri", config.image_uri},
          {"ResolvedImageUri", repository + "@" + config.image_digest}};
}

ImageLaunch LaunchOf(const FunctionConfig& config) {
  images::ImageConfig base;
  base.entrypoint = config.image_entrypoint;
  base.cmd = config.image_cmd;
  base.env = config.image_env;
  base.working_dir = config.image_working_dir;
  images::LambdaImageOverrides overrides;
  overrides.entry_point = config.override_entry_point;
  overrides.command = config.override_command;
  overrides.working_directory = config.override_working_directory;
  images::ImageConfig effective = images::ApplyOverrides(base, overrides);
  ImageLaunch launch;
  launch.argv = images::Argv(effective);
  launch.environment = effective.env;
  launch.working_directory = effective.working_dir.empty() ? "/var/task" : effective.working_dir;
  if (!effective.cmd.empty()) launch.handler = effective.cmd.front();
  return launch;
}

}  // namespace haneul::invoker
