// `haneul schedules list | put | delete`: scheduled rules (EventBridge's events API on the
// server, see docs/triggers.md) from the command line, as a thin client over the HTTP API.
// Single-threaded; each call is one short-lived process.
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "client_commands.h"
#include "schedule_commands.h"
#include "haneul/common/http_client.h"

namespace haneul::cli {

namespace {

using Json = nlohmann::json;

constexpr char kSchedulesUsage[] =
    "usage: haneul schedules list [--endpoint URL]\n"
    "       haneul schedules put NAME --schedule 'rate(5 minutes)|cron(...)' --function NAME|ARN\n"
    "                            [--input JSON] [--disabled] [--endpoint URL]\n"
    "       haneul schedules delete NAME [--endpoint URL]\n";

int Usage(const std::string& why) {
  std::fprintf(stderr, "haneul schedules: %s\n%s", why.c_str(), kSchedulesUsage);
  return 2;
}

// One events API call; prints the error and returns nullopt when it fails.
std::optional<Json> Call(HttpClient& client, const std::string& endpoint,
                         const std::string& operation, const Json& body) {
  Headers headers;
  headers.Set("Content-Type", "application/x-amz-json-1.1");
  headers.Set("X-Amz-Target", "AWSEvents." + operation);
  auto response = client.Send("POST", endpoint + "/", headers, body.dump());
  if (!response.ok()) {
    std::fprintf(stderr, "%s\n", FormatUnreachable(endpoint, response.status()).c_str());
    return std::nullopt;
  }
  Json parsed = Json::parse(response->body, nullptr, false);
  if (response->status != 200 || !parsed.is_object()) {
    std::string type = parsed.is_object() ? parsed.value("__type", "") : "";
    std::string message = parsed.is_object() ? parsed.value("message", "") : response->body;
    std::fprintf(stderr, "haneul: %s: %s\n", type.empty() ? "error" : type.c_str(),
                 message.c_str());
    return std::nullopt;
  }
  return parsed;
}

std::string FunctionArn(const std::string& function) {
  if (function.starts_with("arn:")) return function;
  return "arn:aws:lambda:us-east-1:000000000000:function:" + function;
}

}  // namespace

int Schedules(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto flags = ParseFlags(args, {.value_flags = {"endpoint", "schedule", "function", "input"},
                                 .switches = {"disabled"}});
  if (!flags.ok()) return Usage(flags.status().message());
  if (flags->switches.contains("help")) {
    std::fputs(kSchedulesUsage, stdout);
    return 0;
  }
  auto value = [&](const char* name) -> std::string {
    auto found = flags->values.find(name);
    return found == flags->values.end() ? "" : found->second;
  };
  std::optional<std::string> endpoint_flag;
  if (!value("endpoint").empty()) endpoint_flag = value("endpoint");
  std::string endpoint = ResolveEndpoint(endpoint_flag, std::getenv("HANEUL_ENDPOINT"));
  const auto& positional = flags->positional;
  if (positional.empty()) return Usage("expected list, put or delete");
  HttpClient client;
  const std::string& verb = positional[0];
  if (verb == "list" && positional.size() == 1) {
    std::string token;
    do {
      Json request = Json::object();
      if (!token.empty()) request["NextToken"] = token;
      auto page = Call(client, endpoint, "ListRules", request);
      if (!page) return 1;
      for (const Json& rule : page->value("Rules", Json::array())) {
        std::string name = rule.value("Name", "");
        auto targets = Call(client, endpoint, "ListTargetsByRule", {{"Rule", name}});
        std::string arns;
        if (targets) {
          for (const Json& target : targets->value("Targets", Json::array())) {
            arns += (arns.empty() ? "" : ",") + target.value("Arn", "");
          }
        }
        std::printf("%s\t%s\t%s\t%s\n", name.c_str(), rule.value("State", "").c_str(),
                    rule.value("ScheduleExpression", "").c_str(), arns.c_str());
      }
      token = page->value("NextToken", "");
    } while (!token.empty());
    return 0;
  }
  if (verb == "put" && positional.size() == 2) {
    if (value("schedule").empty() || value("function").empty()) {
      return Usage("put needs --schedule and --function");
    }
    Json rule = {{"Name", positional[1]},
                 {"ScheduleExpression", value("schedule")},
                 {"State", flags->switches.contains("disabled") ? "DISABLED" : "ENABLED"}};
    auto put = Call(client, endpoint, "PutRule", rule);
    if (!put) return 1;
    Json target = {{"Id", "function"}, {"Arn", FunctionArn(value("function"))}};
    if (!value("input").empty()) target["Input"] = value("input");
    auto targets = Call(client, endpoint, "PutTargets",
                        {{"Rule", positional[1]}, {"Targets", Json::array({target})}});
    if (!targets) return 1;
    if (targets->value("FailedEntryCount", 0) > 0) {
      std::fprintf(stderr, "haneul: %s\n", (*targets)["FailedEntries"].dump().c_str());
      return 1;
    }
    std::printf("%s\n", put->value("RuleArn", "").c_str());
    return 0;
  }
  if (verb == "delete" && positional.size() == 2) {
    auto targets = Call(client, endpoint, "ListTargetsByRule", {{"Rule", positional[1]}});
    if (!targets) return 1;
    Json ids = Json::array();
    for (const Json& target : targets->value("Targets", Json::array())) ids.push_back(target["Id"]);
    if (!ids.empty() &&
        !Call(client, endpoint, "RemoveTargets", {{"Rule", positional[1]}, {"Ids", ids}})) {
      return 1;
    }
    return Call(client, endpoint, "DeleteRule", {{"Name", positional[1]}}) ? 0 : 1;
  }
  return Usage("expected list, put NAME or delete NAME");
}

}  // namespace haneul::cli
