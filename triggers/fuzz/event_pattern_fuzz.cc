// Fuzz target: Lambda event-filter patterns (FilterCriteria, untrusted) and their matching. The
// input's first line is the pattern, the rest the event (JSON) it is matched against.
// With clang: clang++ -fsanitize=fuzzer,address ...; the GCC build replays
// fuzz/event_pattern_corpus through replay_main.cc as a regression test.
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "event_pattern.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  size_t newline = input.find('\n');
  std::string pattern = input.substr(0, newline);
  std::string event = newline == std::string::npos ? "{}" : input.substr(newline + 1);
  auto parsed = haneul::triggers::EventPattern::Parse(pattern);
  if (parsed.ok()) {
    nlohmann::json json = nlohmann::json::parse(event, nullptr, false);
    (void)parsed->Matches(json);
  }
  return 0;
}
