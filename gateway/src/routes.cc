// Route key parsing and most-specific-route selection (see routes.h).
#include "routes.h"

#include <algorithm>

#include "haneul/common/http.h"

namespace haneul::gateway {

namespace {

constexpr std::string_view kMethods[] = {"ANY", "GET",     "POST", "PUT",
                                         "DELETE", "PATCH", "HEAD", "OPTIONS"};

bool ValidName(std::string_view name) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) {
      return false;
    }
  }
  return true;
}

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> parts;
  if (path.empty() || path == "/") return parts;
  size_t start = path.front() == '/' ? 1 : 0;
  while (true) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) {
      parts.push_back(path.substr(start));
      break;
    }
    parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return parts;
}

}  // namespace

Result<RouteTemplate> ParseRouteKey(std::string_view key) {
  RouteTemplate route;
  if (key == "$default") {
    route.is_default = true;
    return route;
  }
  size_t space = key.find(' ');
  if (space == std::string_view::npos) {
    return Status::InvalidArgument("Invalid route key " + std::string(key) +
                                   ": expected \"METHOD /path\" or \"$default\"");
  }
  std::string_view method = key.substr(0, space);
  std::string_view path = key.substr(space + 1);
  if (std::find(std::begin(kMethods), std::end(kMethods), method) == std::end(kMethods)) {
    return Status::InvalidArgument("Invalid HTTP method " + std::string(method) +
                                   " in route key " + std::string(key));
  }
  if (path.empty() || path.front() != '/') {
    return Status::InvalidArgument("Route key path must start with '/': " + std::string(key));
  }
  route.method = std::string(method);
  route.path = std::string(path);
  std::vector<std::string_view> parts = SplitPath(path);
  for (size_t i = 0; i < parts.size(); ++i) {
    std::string_view part = parts[i];
    RouteTemplate::Segment segment;
    if (!part.empty() && part.front() == '{') {
      if (part.size() < 3 || part.back() != '}') {
        return Status::InvalidArgument("Invalid path variable " + std::string(part) +
                                       " in route key " + std::string(key));
      }
      std::string_view name = part.substr(1, part.size() - 2);
      if (name.back() == '+') {
        if (i + 1 != parts.size()) {
          return Status::InvalidArgument("Greedy path variable " + std::string(part) +
                                         " must be the last segment of route key " +
                                         std::string(key));
        }
        segment.kind = RouteTemplate::Kind::kGreedy;
        name.remove_suffix(1);
      } else {
        segment.kind = RouteTemplate::Kind::kParam;
      }
      if (!ValidName(name)) {
        return Status::InvalidArgument("Invalid path variable name " + std::string(part) +
                                       " in route key " + std::string(key));
      }
      segment.text = std::string(name);
    } else {
      if (part.find_first_of("{}") != std::string_view::npos) {
        return Status::InvalidArgument("Invalid path segment " + std::string(part) +
                                       " in route key " + std::string(key));
      }
      if (part.empty() && i + 1 != parts.size()) {
        return Status::InvalidArgument("Empty path segment in route key " + std::string(key));
      }
      segment.kind = RouteTemplate::Kind::kLiteral;
      segment.text = PercentDecode(part);
    }
    route.segments.push_back(std::move(segment));
  }
  return route;
}

RouteTable::RouteTable(const std::vector<std::string>& route_keys) {
  for (const std::string& key : route_keys) {
    auto parsed = ParseRouteKey(key);
    if (parsed.ok()) {
      routes_.emplace_back(std::move(*parsed));
    } else {
      routes_.emplace_back(std::nullopt);
    }
  }
}

std::optional<RouteMatch> RouteTable::Match(std::string_view method,
                                            std::string_view path) const {
  std::vector<std::string_view> parts = SplitPath(path);
  std::optional<RouteMatch> best;
  std::vector<int> best_rank;
  bool best_exact_method = false;
  std::optional<size_t> fallback;
  for (size_t index = 0; index < routes_.size(); ++index) {
    if (!routes_[index]) continue;
    const RouteTemplate& route = *routes_[index];
    if (route.is_default) {
      fallback = index;
      continue;
    }
    bool exact_method = route.method == method;
    if (!exact_method && route.method != "ANY") continue;
    RouteMatch match;
    match.index = index;
    std::vector<int> rank;
    bool matched = true;
    size_t i = 0;
    for (; i < route.segments.size(); ++i) {
      const auto& segment = route.segments[i];
      if (segment.kind == RouteTemplate::Kind::kGreedy) {
        if (i >= parts.size()) {
          matched = false;
          break;
        }
        // The rest of the path, as one value; it must not be empty.
        size_t begin = parts[i].data() - path.data();
        std::string_view rest = path.substr(begin);
        if (rest.empty()) {
          matched = false;
          break;
        }
        match.path_parameters[segment.text] = PercentDecode(rest);
        rank.push_back(2);
        i = parts.size();
        break;
      }
      if (i >= parts.size()) {
        matched = false;
        break;
      }
      if (segment.kind == RouteTemplate::Kind::kParam) {
        if (parts[i].empty()) {
          matched = false;
          break;
        }
        match.path_parameters[segment.text] = PercentDecode(parts[i]);
        rank.push_back(1);
      } else {
        if (PercentDecode(parts[i]) != segment.text) {
          matched = false;
          break;
        }
        rank.push_back(0);
      }
    }
    if (!matched || i != parts.size()) continue;
    bool better = !best || rank < best_rank ||
                  (rank == best_rank && exact_method && !best_exact_method);
    if (better) {
      best = std::move(match);
      best_rank = std::move(rank);
      best_exact_method = exact_method;
    }
  }
  if (!best && fallback) {
    RouteMatch match;
    match.index = *fallback;
    best = std::move(match);
  }
  return best;
}

}  // namespace haneul::gateway
