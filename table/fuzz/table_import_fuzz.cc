// Fuzz target: ImportTable's parsers of untrusted bucket objects. The first byte picks the
// parser (DynamoDB JSON lines, CSV with one of DynamoDB's delimiters, gzip then both), the rest
// is the file. Every parser must return (a record, a counted error, or the end) and never crash
// or loop.
// With clang: clang++ -fsanitize=fuzzer,address ... to fuzz for real; the GCC build replays
// fuzz/import_corpus through replay_main.cc as a regression test.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "import_parsers.h"

namespace {

void Lines(std::string_view text) {
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    haneul::table::json item;
    std::string error;
    (void)haneul::table::ParseDynamoDbJsonLine(text.substr(start, end - start), &item, &error);
    start = end + 1;
  }
}

void Csv(std::string_view text, char delimiter) {
  haneul::table::CsvReader reader(text, delimiter);
  std::vector<std::string> headers, fields;
  std::string error;
  const std::map<std::string, std::string> key_types = {{"pk", "S"}, {"n", "N"}, {"b", "B"}};
  // Bounded: every call consumes input, so at most one record per byte (plus the end).
  for (size_t i = 0; i <= text.size() + 1; ++i) {
    auto row = reader.Next(&fields, &error);
    if (row == haneul::table::CsvReader::Row::kEnd) return;
    if (row != haneul::table::CsvReader::Row::kRecord) continue;
    if (headers.empty()) {
      headers = fields;
      continue;
    }
    haneul::table::json item;
    (void)haneul::table::CsvRecordToItem(headers, fields, key_types, &item, &error);
  }
  __builtin_trap();  // the reader did not advance
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  static const char kDelimiters[] = {',', '\t', ':', ';', '|', ' '};
  switch (data[0] % 8) {
    case 0:
    case 1:
      Lines(text);
      break;
    case 7: {
      std::string out, error;
      if (haneul::table::GzipDecompress(text, 1 << 20, &out, &error)) {
        Lines(out);
        Csv(out, ',');
      }
      break;
    }
    default:
      Csv(text, kDelimiters[data[0] % 6]);
      break;
  }
  return 0;
}
