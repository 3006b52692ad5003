// The parsers of ImportTable's input files (untrusted bytes from a bucket): DynamoDB JSON lines
// (`{"Item":{"name":{"S":"..."}}}` per line, the format ExportTableToPointInTime writes), CSV
// records (RFC 4180 quoting with a configurable one-character delimiter, records may span lines
// inside quotes) and gzip. Each malformed line or record is reported on its own so an import
// counts it and goes on with the rest, as DynamoDB's ImportTable does.
// Pure functions and a cursor over caller-owned text; thread-compatible.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "value.h"

namespace haneul::table {

// One line of DynamoDB JSON: fills *item with the attribute map under "Item". False (with a
// reason) for anything else: not JSON, not an object, no "Item" map, an attribute value that is
// not a one-member object naming a DynamoDB type. Full value validation (numbers, sets, sizes)
// is PutItem's when the item is written.
bool ParseDynamoDbJsonLine(std::string_view line, json* item, std::string* error);

// A cursor over CSV text.
class CsvReader {
 public:
  enum class Row { kRecord, kMalformed, kEnd };
  CsvReader(std::string_view text, char delimiter) : text_(text), delimiter_(delimiter) {}

  // The next record into *fields. kMalformed (with a reason) for a record with text after a
  // closing quote or an unterminated quote; the cursor then resumes at the next line. Blank lines
  // are skipped. `line()` is the 1-based line where the last record started.
  Row Next(std::vector<std::string>* fields, std::string* error);
  size_t line() const { return record_line_; }

 private:
  void SkipToNextLine();

  std::string_view text_;
  char delimiter_;
  size_t position_ = 0;
  size_t current_line_ = 1;
  size_t record_line_ = 0;
};

// A CSV record as an item: headers name the attributes; attributes in key_types (the table's
// AttributeDefinitions: its and its indexes' keys) take that type (S, N or B as base64), every
// other value is a string, as DynamoDB's CSV import types them. False (with a reason) when the
// record has more or fewer fields than headers, or a key value does not fit its type.
bool CsvRecordToItem(const std::vector<std::string>& headers,
                     const std::vector<std::string>& fields,
                     const std::map<std::string, std::string>& key_types, json* item,
                     std::string* error);

// gzip (RFC 1952) compression and decompression. Decompression refuses output beyond
// max_output bytes and anything that is not a complete gzip stream (concatenated members are
// read in sequence).
std::string GzipCompress(std::string_view data);
bool GzipDecompress(std::string_view data, size_t max_output, std::string* out, std::string* error);

}  // namespace haneul::table
