// ImportTable's input parsers; see import_parsers.h.
#include "import_parsers.h"

#include <zlib.h>

#include <cstring>

namespace haneul::table {

namespace {

bool IsTypeName(const std::string& type) {
  static const char* kTypes[] = {"S", "N", "B", "BOOL", "NULL", "L", "M", "SS", "NS", "BS"};
  for (const char* name : kTypes) {
    if (type == name) return true;
  }
  return false;
}

}  // namespace

bool ParseDynamoDbJsonLine(std::string_view line, json* item, std::string* error) {
  json parsed = json::parse(line, nullptr, false);
  if (parsed.is_discarded()) {
    *error = "not valid JSON";
    return false;
  }
  if (!parsed.is_object()) {
    *error = "a line must be a JSON object {\"Item\":{...}}";
    return false;
  }
  auto found = parsed.find("Item");
  if (found == parsed.end() || !found->is_object()) {
    *error = "no \"Item\" object";
    return false;
  }
  if (found->empty()) {
    *error = "\"Item\" has no attributes";
    return false;
  }
  for (auto& [name, value] : found->items()) {
    if (name.empty()) {
      *error = "an attribute name is empty";
      return false;
    }
    if (!value.is_object() || value.size() != 1 || !IsTypeName(value.begin().key())) {
      *error = "attribute \"" + name + "\" is not a DynamoDB attribute value ({\"S\":...})";
      return false;
    }
  }
  *item = std::move(*found);
  return true;
}

void CsvReader::SkipToNextLine() {
  while (position_ < text_.size() && text_[position_] != '\n') ++position_;
  if (position_ < text_.size()) {
    ++position_;
    ++current_line_;
  }
}

CsvReader::Row CsvReader::Next(std::vector<std::string>* fields, std::string* error) {
  fields->clear();
  // Blank lines (also "\r\n") separate nothing and are skipped.
  while (position_ < text_.size()) {
    if (text_[position_] == '\n') {
      ++position_;
      ++current_line_;
    } else if (text_[position_] == '\r' && position_ + 1 < text_.size() &&
               text_[position_ + 1] == '\n') {
      position_ += 2;
      ++current_line_;
    } else {
      break;
    }
  }
  if (position_ >= text_.size()) return Row::kEnd;
  record_line_ = current_line_;
  std::string field;
  while (true) {
    field.clear();
    if (position_ < text_.size() && text_[position_] == '"') {
      // Quoted: "" is a quote; delimiters and newlines are data.
      ++position_;
      bool closed = false;
      while (position_ < text_.size()) {
        char c = text_[position_++];
        if (c == '"') {
          if (position_ < text_.size() && text_[position_] == '"') {
            field += '"';
            ++position_;
          } else {
            closed = true;
            break;
          }
        } else {
          if (c == '\n') ++current_line_;
          field += c;
        }
      }
      if (!closed) {
        *error = "unterminated quoted field";
        return Row::kMalformed;
      }
      if (position_ < text_.size() && text_[position_] == '\r' && position_ + 1 < text_.size() &&
          text_[position_ + 1] == '\n') {
        ++position_;
      }
      if (position_ < text_.size() && text_[position_] != delimiter_ && text_[position_] != '\n') {
        *error = "unexpected text after a closing quote";
        SkipToNextLine();
        return Row::kMalformed;
      }
    } else {
      while (position_ < text_.size() && text_[position_] != delimiter_ &&
             text_[position_] != '\n') {
        if (text_[position_] == '"') {
          *error = "a quote inside an unquoted field";
          SkipToNextLine();
          return Row::kMalformed;
        }
        field += text_[position_++];
      }
      if (!field.empty() && field.back() == '\r' &&
          (position_ >= text_.size() || text_[position_] == '\n')) {
        field.pop_back();
      }
    }
    fields->push_back(field);
    if (position_ >= text_.size()) return Row::kRecord;
    if (text_[position_] == '\n') {
      ++position_;
      ++current_line_;
      return Row::kRecord;
    }
    ++position_;  // the delimiter
    if (position_ >= text_.size()) {
      fields->emplace_back();  // a trailing delimiter ends with an empty field
      return Row::kRecord;
    }
  }
}

bool CsvRecordToItem(const std::vector<std::string>& headers,
                     const std::vector<std::string>& fields,
                     const std::map<std::string, std::string>& key_types, json* item,
                     std::string* error) {
  if (fields.size() != headers.size()) {
    *error = "the record has " + std::to_string(fields.size()) + " fields, the header " +
             std::to_string(headers.size());
    return false;
  }
  json out = json::object();
  for (size_t i = 0; i < headers.size(); ++i) {
    if (headers[i].empty()) continue;  // an unnamed column carries nothing
    auto type = key_types.find(headers[i]);
    if (type == key_types.end()) {
      out[headers[i]] = {{"S", fields[i]}};
      continue;
    }
    if (fields[i].empty()) {
      *error = "key attribute \"" + headers[i] + "\" is empty";
      return false;
    }
    if (type->second != "S" && type->second != "N" && type->second != "B") {
      *error = "key attribute \"" + headers[i] + "\" has type " + type->second;
      return false;
    }
    out[headers[i]] = {{type->second, fields[i]}};
  }
  if (out.empty()) {
    *error = "the record has no attributes";
    return false;
  }
  *item = std::move(out);
  return true;
}

std::string GzipCompress(std::string_view data) {
  z_stream stream;
  std::memset(&stream, 0, sizeof(stream));
  // 15 + 16: a gzip header and trailer rather than zlib's.
  if (deflateInit2(&stream, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    return std::string();
  }
  std::string out;
  out.resize(deflateBound(&stream, static_cast<uLong>(data.size())) + 32);
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  int result = deflate(&stream, Z_FINISH);
  size_t written = out.size() - stream.avail_out;
  deflateEnd(&stream);
  if (result != Z_STREAM_END) return std::string();
  out.resize(written);
  return out;
}

bool GzipDecompress(std::string_view data, size_t max_output, std::string* out,
                    std::string* error) {
  out->clear();
  size_t offset = 0;
  char buffer[64 * 1024];
  while (offset < data.size()) {
    z_stream stream;
    std::memset(&stream, 0, sizeof(stream));
    if (inflateInit2(&stream, 15 + 16) != Z_OK) {
      *error = "cannot start gzip decompression";
      return false;
    }
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + offset));
    stream.avail_in = static_cast<uInt>(data.size() - offset);
    int result = Z_OK;
    while (result != Z_STREAM_END) {
      stream.next_out = reinterpret_cast<Bytef*>(buffer);
      stream.avail_out = sizeof(buffer);
      result = inflate(&stream, Z_NO_FLUSH);
      if (result != Z_OK && result != Z_STREAM_END) {
        inflateEnd(&stream);
        *error = result == Z_BUF_ERROR ? "truncated gzip data" : "not gzip data";
        return false;
      }
      out->append(buffer, sizeof(buffer) - stream.avail_out);
      if (out->size() > max_output) {
        inflateEnd(&stream);
        *error = "decompressed data over " + std::to_string(max_output) + " bytes";
        return false;
      }
    }
    offset = data.size() - stream.avail_in;
    inflateEnd(&stream);
  }
  return true;
}

}  // namespace haneul::table
