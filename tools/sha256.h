// SHA-256 (FIPS 180-4) of byte buffers and files: checkpoints and run records carry the hash of
// the data and weights they were made from, so a result can be traced to its exact inputs.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>

namespace ldm::tools {

// Incremental hashing, for data that arrives in pieces (a file read in chunks, a checkpoint
// hashed while it is serialized).
class Sha256 {
 public:
  Sha256();
  void update(std::span<const uint8_t> bytes);
  // Pads, finishes and returns the 32-byte digest; the object then starts over empty.
  std::array<uint8_t, 32> digest();
  // The digest as 64 lowercase hex digits; starts over like digest().
  std::string hex_digest();

 private:
  void compress(const uint8_t* block);
  void reset();

  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_;
  size_t buffered_ = 0;
  uint64_t total_bytes_ = 0;
};

// 64 lowercase hex digits.
std::string sha256_hex(std::span<const uint8_t> bytes);

// Streams the file in chunks (any size, constant memory). An unreadable file (missing,
// a directory, no permission, read error) is an ldm::Error naming it.
std::string sha256_file(const std::string& path);

}  // namespace ldm::tools
