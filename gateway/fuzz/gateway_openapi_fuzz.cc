// Fuzz target: untrusted OpenAPI documents (import-api bodies, JSON or YAML), route keys, mock
// templates, parameter mapping and the events and response mapping built from arbitrary bytes
// must never crash. libFuzzer under clang; under GCC
// the corpus is replayed by common/fuzz/replay_main.cc.
#include <cstddef>
#include <cstdint>
#include <string>

#include "events.h"
#include "mock.h"
#include "openapi.h"
#include "parameter_mapping.h"
#include "routes.h"
#include "yaml_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  auto imported = haneul::gateway::ImportOpenApi(input);
  if (imported.ok()) {
    std::vector<std::string> keys;
    for (const auto& route : imported->routes) keys.push_back(route.value("routeKey", ""));
    haneul::gateway::RouteTable table(keys);
    (void)table.Match("GET", "/a/b/c");
  }
  (void)haneul::gateway::ParseRouteKey(input);
  haneul::gateway::RouteTable table({"GET /items/{id}", "ANY /{proxy+}", "$default", input});
  (void)table.Match("GET", input);
  auto yaml = haneul::gateway::YamlToJson(input);
  if (yaml.ok()) (void)haneul::gateway::YamlToJson(haneul::gateway::JsonToYaml(*yaml));
  haneul::gateway::RequestInfo info;
  info.query = input;
  info.body = input;
  (void)haneul::gateway::RenderTemplate(input, info);
  (void)haneul::gateway::MockAnswer(
      nlohmann::json{{"requestTemplates", {{"application/json", input}}}},
      nlohmann::json::array({{{"integrationResponseKey", "$default"},
                              {"responseTemplates", {{"text/plain", input}}}}}),
      info);
  haneul::gateway::MappedRequest mapped;
  haneul::gateway::ApplyRequestParameters(
      nlohmann::json{{"overwrite:path", input}, {"append:querystring.q", "$request.body." + input},
                     {"overwrite:header.X", input}},
      info, &mapped);
  haneul::HttpResponse response{404, {}, input};
  haneul::gateway::ApplyResponseParameters(
      nlohmann::json{{"404", {{"overwrite:statuscode", input}, {"append:header.Y", "$response.body." + input}}}},
      info, &response);
  (void)haneul::gateway::MapResponseV1(input);
  (void)haneul::gateway::MapResponseV2(input);
  return 0;
}
