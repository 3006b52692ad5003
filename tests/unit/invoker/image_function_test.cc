// Image functions: how their configuration is stored and shown, Lambda's rules for PackageType
// Image requests, and what their worker runs (the image's entrypoint and command under the
// function's ImageConfig overrides).
#include "image_function.h"

#include <gtest/gtest.h>

namespace haneul::invoker {
namespace {

FunctionConfig ImageFunction() {
  FunctionConfig config;
  config.name = "img";
  config.package_type = "Image";
  config.image_uri = "127.0.0.1:5000/team/app:1";
  config.image_digest = "sha256:abc";
  config.image_rootfs = "/data/images/rootfs/abc";
  config.image_entrypoint = {"/lambda-entrypoint.sh"};
  config.image_cmd = {"app.handler"};
  config.image_env = {"PATH=/var/lang/bin:/usr/bin", "LANG=C"};
  config.image_working_dir = "/var/task";
  return config;
}

TEST(ImageFunction, StorageRoundTripsEveryImageField) {
  FunctionConfig config = ImageFunction();
  config.override_command = std::vector<std::string>{"other.handler"};
  config.override_working_directory = "/tmp";
  auto back = FunctionConfig::FromStorage(config.ToStorage());
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->is_image());
  EXPECT_EQ(back->image_rootfs, config.image_rootfs);
  EXPECT_EQ(back->image_env, config.image_env);
  EXPECT_EQ(back->override_command, config.override_command);
  EXPECT_EQ(back->override_working_directory, config.override_working_directory);
  EXPECT_FALSE(back->override_entry_point);
  // A zip function stored before image functions existed still loads, as Zip.
  FunctionConfig zip;
  zip.name = "z";
  auto stored = zip.ToStorage();
  stored.erase("package_type");
  auto loaded = FunctionConfig::FromStorage(stored);
  ASSERT_TRUE(loaded);
  EXPECT_FALSE(loaded->is_image());
}

TEST(ImageFunction, ApiShapeHasNoRuntimeOrHandlerAndShowsOverrides) {
  FunctionConfig config = ImageFunction();
  config.override_entry_point = std::vector<std::string>{"/bin/sh"};
  auto api = config.ToApi(AccountInfo());
  EXPECT_EQ(api["PackageType"], "Image");
  EXPECT_FALSE(api.contains("Runtime"));
  EXPECT_FALSE(api.contains("Handler"));
  EXPECT_EQ(api["ImageConfigResponse"]["ImageConfig"]["EntryPoint"], nlohmann::json({"/bin/sh"}));
  auto code = ImageCodeLocation(config);
  EXPECT_EQ(code["RepositoryType"], "ECR");
  EXPECT_EQ(code["ResolvedImageUri"], "127.0.0.1:5000/team/app@sha256:abc");
}

TEST(ImageFunction, RequestsFollowLambdasRules) {
  AwsError error;
  FunctionConfig config;
  nlohmann::json body = {{"FunctionName", "f"}, {"Role", "arn:aws:iam::000000000000:role/r"},
                         {"PackageType", "Image"}, {"Runtime", "python3.12"}};
  EXPECT_FALSE(ApplyConfigRequest(body, true, &config, &error));
  EXPECT_EQ(error.type, "InvalidParameterValueException");
  FunctionConfig image;
  body.erase("Runtime");
  body["ImageConfig"] = {{"Command", {"app.handler"}}, {"WorkingDirectory", "/w"}};
  EXPECT_TRUE(ApplyConfigRequest(body, true, &image, &error)) << error.message;
  EXPECT_TRUE(image.is_image());
  EXPECT_EQ(image.override_command, std::vector<std::string>{"app.handler"});
  FunctionConfig zip;
  nlohmann::json zip_body = {{"FunctionName", "f"}, {"Role", "arn:aws:iam::000000000000:role/r"},
                             {"Runtime", "python3.12"}, {"Handler", "app.handler"},
                             {"ImageConfig", {{"Command", {"x"}}}}};
  EXPECT_FALSE(ApplyConfigRequest(zip_body, true, &zip, &error));
  EXPECT_EQ(error.type, "InvalidParameterValueException");
  FunctionConfig bad;
  body["PackageType"] = "Jar";
  EXPECT_FALSE(ApplyConfigRequest(body, true, &bad, &error));
  EXPECT_EQ(error.type, "ValidationException");
}

TEST(ImageFunction, LaunchAppliesOverridesAsLambdaDoes) {
  FunctionConfig config = ImageFunction();
  ImageLaunch launch = LaunchOf(config);
  EXPECT_EQ(launch.argv, (std::vector<std::string>{"/lambda-entrypoint.sh", "app.handler"}));
  EXPECT_EQ(launch.handler, "app.handler");
  EXPECT_EQ(launch.working_directory, "/var/task");
  config.override_command = std::vector<std::string>{"other.handler"};
  EXPECT_EQ(LaunchOf(config).argv,
            (std::vector<std::string>{"/lambda-entrypoint.sh", "other.handler"}));
  // An EntryPoint alone drops the image's command.
  config.override_command.reset();
  config.override_entry_point = std::vector<std::string>{"/bin/run"};
  EXPECT_EQ(LaunchOf(config).argv, (std::vector<std::string>{"/bin/run"}));
  config.image_working_dir.clear();
  config.override_entry_point.reset();
  EXPECT_EQ(LaunchOf(config).working_directory, "/var/task");
}

}  // namespace
}  // namespace haneul::invoker
