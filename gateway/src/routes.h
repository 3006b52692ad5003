// Route keys and route selection for HTTP APIs: parsing "GET /items/{id}", "ANY /{proxy+}" and
// "$default", and picking the most specific route for a request the way API Gateway does (a full
// literal match beats a {param}, which beats a greedy {proxy+}; a method beats ANY; $default is
// the fallback). Pure functions and value types; thread-compatible.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "haneul/common/status.h"

namespace haneul::gateway {

struct RouteTemplate {
  enum class Kind { kLiteral, kParam, kGreedy };
  struct Segment {
    Kind kind = Kind::kLiteral;
    std::string text;  // the literal, or the parameter's name
  };
  bool is_default = false;  // "$default"
  std::string method;       // "GET", ..., or "ANY"
  std::string path;         // "/items/{id}" as written
  std::vector<Segment> segments;
};

// Parses a route key. InvalidArgument names what is wrong (API Gateway's BadRequest wording).
Result<RouteTemplate> ParseRouteKey(std::string_view key);

struct RouteMatch {
  size_t index = 0;  // into the candidates given to RouteTable
  std::map<std::string, std::string> path_parameters;  // percent-decoded
};

// A compiled set of routes. Build once per deployment, match per request.
class RouteTable {
 public:
  // Keys that fail to parse are skipped (they were validated when stored).
  explicit RouteTable(const std::vector<std::string>& route_keys);
  // The best route for method + path (path percent-encoded, without the stage), or nullopt.
  std::optional<RouteMatch> Match(std::string_view method, std::string_view path) const;
  size_t size() const { return routes_.size(); }

 private:
  std::vector<std::optional<RouteTemplate>> routes_;
};

}  // namespace haneul::gateway
