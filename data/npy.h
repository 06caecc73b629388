// NumPy .npy arrays and .npz archives (a zip of .npy files, stored or deflated), read through
// libzip. Only what MedMNIST needs is accepted: simple dtypes (bool, ints, floats) in C order;
// everything else (structured dtypes, object arrays, Fortran order) is a clear ldm::Error.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/tensor.h"

using zip_t = struct zip;  // libzip's handle; keeps <zip.h> out of this header

namespace ldm::data {

// A simple NumPy dtype from its descr string, e.g. "|u1", "<i8", ">f4".
struct NpyDType {
  std::string descr;
  char kind = 'u';  // 'b' bool, 'i' signed, 'u' unsigned, 'f' float
  int itemsize = 1;
  bool big_endian = false;
  bool integral() const { return kind == 'i' || kind == 'u' || kind == 'b'; }
};

struct NpyArray {
  std::string name;  // for messages: "file.npz: train_images.npy"
  NpyDType dtype;
  Shape shape;
  std::vector<uint8_t> bytes;  // the whole .npy file; the data starts at data_offset
  size_t data_offset = 0;

  int64_t numel() const { return shape_numel(shape); }
  std::span<const uint8_t> data() const {
    return std::span<const uint8_t>(bytes).subspan(data_offset);
  }
  // The values of an integral array, converted from the file's byte order.
  std::vector<int64_t> to_int64() const;
};

// Parses and validates a whole .npy file (magic, version 1-3, header dict with exactly
// 'descr', 'fortran_order' and 'shape', data size). `name` prefixes every error message.
NpyArray parse_npy(std::vector<uint8_t> bytes, const std::string& name);

// A .npy header for `descr` and `shape` (version 1, padded to 64 bytes as NumPy does): for
// writing test fixtures and small exports.
std::vector<uint8_t> npy_header(const std::string& descr, const Shape& shape,
                                bool fortran_order = false);

class NpzFile {
 public:
  // Opens and lists the archive; missing file, not a zip, and truncated or corrupt archives
  // are ldm::Errors naming `path`.
  explicit NpzFile(const std::string& path);
  ~NpzFile();
  NpzFile(const NpzFile&) = delete;
  NpzFile& operator=(const NpzFile&) = delete;

  const std::string& path() const { return path_; }
  // Array names, without the ".npy" suffix, in archive order.
  const std::vector<std::string>& keys() const { return keys_; }
  bool contains(const std::string& key) const;
  // Decompresses and parses one array; a missing key is an error listing the keys present.
  NpyArray read(const std::string& key) const;

 private:
  std::string path_;
  zip_t* zip_ = nullptr;
  std::vector<std::string> keys_;
};

}  // namespace ldm::data
