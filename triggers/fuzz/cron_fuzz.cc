// Fuzz target: EventBridge schedule expressions (PutRule's ScheduleExpression, untrusted) and the
// next-firing computation over them. With clang: clang++ -fsanitize=fuzzer,address ...; the GCC
// build replays fuzz/cron_corpus through replay_main.cc as a regression test.
#include <cstddef>
#include <cstdint>
#include <string>

#include "cron.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  auto parsed = haneul::triggers::ScheduleExpression::Parse(input);
  if (parsed.ok()) {
    int64_t at = 1700000000000;
    for (int i = 0; i < 4; ++i) {
      auto next = parsed->NextAfter(at, 1700000000000);
      if (!next) break;
      at = *next;
    }
  }
  return 0;
}
