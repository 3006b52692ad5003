// Test helpers: builds tar streams byte by byte (so tests can craft hostile headers the
// project's own writer would never produce) and compresses them with gzip or zstd.
#pragma once

#include <zlib.h>
#include <zstd.h>

#include <cstdint>
#include <cstring>
#include <string>

namespace haneul::images::testing {

inline void PutOctal(char* field, size_t size, uint64_t value) {
  for (size_t i = size - 1; i-- > 0;) {
    field[i] = static_cast<char>('0' + (value & 7));
    value >>= 3;
  }
  field[size - 1] = '\0';
}

struct TarBuilder {
  std::string data;

  // Appends one header (+ data, padded). `declared_size` < 0 means data.size().
  TarBuilder& Entry(const std::string& name, char type, const std::string& body = "",
                    const std::string& link = "", uint32_t mode = 0644, int64_t declared_size = -1,
                    const std::string& prefix = "") {
    char h[512] = {};
    std::memcpy(h, name.data(), std::min<size_t>(name.size(), 100));
    PutOctal(h + 100, 8, mode);
    PutOctal(h + 108, 8, 0);
    PutOctal(h + 116, 8, 0);
    PutOctal(h + 124, 12, static_cast<uint64_t>(declared_size < 0 ? body.size() : declared_size));
    PutOctal(h + 136, 12, 1700000000);
    std::memset(h + 148, ' ', 8);
    h[156] = type;
    std::memcpy(h + 157, link.data(), std::min<size_t>(link.size(), 100));
    std::memcpy(h + 257, "ustar\0" "00", 8);
    std::memcpy(h + 345, prefix.data(), std::min<size_t>(prefix.size(), 155));
    unsigned sum = 0;
    for (unsigned char c : h) sum += c;
    PutOctal(h + 148, 7, sum);
    data.append(h, 512);
    data += body;
    data.append((512 - body.size() % 512) % 512, '\0');
    return *this;
  }
  TarBuilder& File(const std::string& name, const std::string& body, uint32_t mode = 0644) {
    return Entry(name, '0', body, "", mode);
  }
  TarBuilder& Dir(const std::string& name) { return Entry(name, '5', "", "", 0755); }
  TarBuilder& Symlink(const std::string& name, const std::string& target) {
    return Entry(name, '2', "", target, 0777);
  }
  TarBuilder& Hardlink(const std::string& name, const std::string& target) {
    return Entry(name, '1', "", target);
  }
  TarBuilder& Pax(const std::string& key, const std::string& value) {
    std::string body = " " + key + "=" + value + "\n";
    size_t length = body.size() + 1;
    while (std::to_string(length).size() + body.size() != length) ++length;
    return Entry("PaxHeaders/x", 'x', std::to_string(length) + body);
  }
  std::string Finish() const { return data + std::string(1024, '\0'); }
};

inline std::string Gzip(const std::string& in) {
  z_stream z{};
  deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, in.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

inline std::string Zstd(const std::string& in) {
  std::string out(ZSTD_compressBound(in.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3);
  out.resize(n);
  return out;
}

}  // namespace haneul::images::testing
