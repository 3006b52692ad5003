// spdlog setup: one stderr logger for the whole process.
#include "haneul/common/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <string>

namespace haneul {

void InitLogging(std::string_view level) {
  auto logger = spdlog::stderr_color_mt("haneul");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);
  logger->set_level(spdlog::level::from_str(std::string(level)));
  spdlog::set_default_logger(logger);
}

}  // namespace haneul
