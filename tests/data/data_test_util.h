// Helpers shared by the data tests: a temporary directory, environment overrides, and .npy/.npz
// fixture writers (libzip), so no binary fixture is ever committed.
#pragma once

#include <stdlib.h>
#include <unistd.h>
#include <zip.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "data/npy.h"
#include "tests/temp_dir.h"

namespace ldm::data::test {

namespace fs = std::filesystem;

using ldm::test::TempDir;

// Sets (or with nullopt unsets) an environment variable for its lifetime.
class EnvGuard {
 public:
  EnvGuard(std::string name, const std::optional<std::string>& value) : name_(std::move(name)) {
    if (const char* old = std::getenv(name_.c_str())) old_ = old;
    if (value)
      ::setenv(name_.c_str(), value->c_str(), 1);
    else
      ::unsetenv(name_.c_str());
  }
  ~EnvGuard() {
    if (old_)
      ::setenv(name_.c_str(), old_->c_str(), 1);
    else
      ::unsetenv(name_.c_str());
  }
  EnvGuard(const EnvGuard&) = delete;
  EnvGuard& operator=(const EnvGuard&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

// A .npy file: NumPy's header for (descr, shape) followed by `data` verbatim.
inline std::vector<uint8_t> npy_bytes(const std::string& descr, const Shape& shape,
                                      const std::vector<uint8_t>& data,
                                      bool fortran_order = false) {
  std::vector<uint8_t> out = npy_header(descr, shape, fortran_order);
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

// A .npy file with a hand-written header dict (padded like NumPy's), for malformed headers.
inline std::vector<uint8_t> npy_with_dict(const std::string& dict, const std::vector<uint8_t>& data,
                                          int major = 1) {
  std::string text = dict;
  const size_t prefix = major == 1 ? 10 : 12;
  const size_t total = (prefix + text.size() + 1 + 63) / 64 * 64;
  text.append(total - prefix - text.size() - 1, ' ');
  text += '\n';
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<uint8_t>(major), 0};
  const size_t n = text.size();
  out.push_back(static_cast<uint8_t>(n));
  out.push_back(static_cast<uint8_t>(n >> 8));
  if (major != 1) {
    out.push_back(static_cast<uint8_t>(n >> 16));
    out.push_back(static_cast<uint8_t>(n >> 24));
  }
  out.insert(out.end(), text.begin(), text.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

enum class Compression { kDeflate, kStore };

struct NpzEntry {
  std::string name;  // "train_images" (".npy" is appended)
  std::vector<uint8_t> bytes;
};

// Writes a .npz (zip) with libzip, as numpy.savez_compressed (deflate) or numpy.savez (store).
inline void write_npz(const std::string& path, const std::vector<NpzEntry>& entries,
                      Compression compression = Compression::kDeflate) {
  int error = 0;
  zip_t* zip = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &error);
  REQUIRE(zip != nullptr);
  for (const NpzEntry& e : entries) {
    zip_source_t* source = zip_source_buffer(zip, e.bytes.data(), e.bytes.size(), 0);
    REQUIRE(source != nullptr);
    const zip_int64_t index =
        zip_file_add(zip, (e.name + ".npy").c_str(), source, ZIP_FL_OVERWRITE);
    REQUIRE(index >= 0);
    REQUIRE(zip_set_file_compression(
                zip, static_cast<zip_uint64_t>(index),
                compression == Compression::kDeflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 0) == 0);
  }
  // The buffers must outlive zip_close, which is when libzip reads them.
  REQUIRE(zip_close(zip) == 0);
}

// uint8 pixels 0, 1, 2, ... (mod 256) for an [N, H, W] image array.
inline std::vector<uint8_t> ramp(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 37 % 256);
  return v;
}

}  // namespace ldm::data::test
