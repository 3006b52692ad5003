// Process-wide logging setup over spdlog. Thread-safe after InitLogging().
#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

namespace haneul {

// level: "trace", "debug", "info", "warn", "error". Logs go to stderr.
void InitLogging(std::string_view level);

}  // namespace haneul
