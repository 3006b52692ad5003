// Fuzz target: untrusted OpenAPI documents (import-api bodies), route keys and the events and
// response mapping built from arbitrary bytes must never crash. libFuzzer under clang; under GCC
// the corpus is replayed by common/fuzz/replay_main.cc.
#include <cstddef>
#include <cstdint>
#include <string>

#include "events.h"
#include "openapi.h"
#include "routes.h"

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
  (void)haneul::gateway::MapResponseV1(input);
  (void)haneul::gateway::MapResponseV2(input);
  return 0;
}
