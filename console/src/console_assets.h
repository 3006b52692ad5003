// The console's static files, compiled in by embed.cmake. Immutable; thread-safe.
#pragma once

#include <string_view>
#include <vector>

namespace haneul::console {

struct Asset {
  std::string_view name;  // "index.html", "app.js", ...
  std::string_view content;
};

const std::vector<Asset>& Assets();

}  // namespace haneul::console
