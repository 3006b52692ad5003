// Fuzz target: CloudWatch Logs filter patterns (FilterLogEvents' filterPattern, untrusted) and
// their matching. The input's first line is the pattern, the rest the message it is matched with.
// With clang: clang++ -fsanitize=fuzzer,address ...; the GCC build replays
// fuzz/filter_pattern_corpus through replay_main.cc as a regression test.
#include <cstddef>
#include <cstdint>
#include <string>

#include "filter_pattern.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  size_t newline = input.find('\n');
  std::string pattern = input.substr(0, newline);
  std::string message = newline == std::string::npos ? input : input.substr(newline + 1);
  auto parsed = haneul::invoker::FilterPattern::Parse(pattern);
  if (parsed.ok()) {
    (void)parsed->Matches(message);
    (void)parsed->Matches(pattern);
  }
  return 0;
}
