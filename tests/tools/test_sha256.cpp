// SHA-256 against the FIPS 180-2 known answers, the padding boundaries (55/56/64 bytes), pieces
// of every size fed incrementally, and files read in chunks.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <string>
#include <vector>

#include "tests/temp_dir.h"
#include "tools/sha256.h"
#include "tools_test_util.h"

namespace ldm::tools {
namespace {

std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  REQUIRE(out.good());
}

TEST_CASE("sha256: FIPS 180-2 known answers", "[tools_sha256]") {
  CHECK(sha256_hex(bytes_of("")) ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex(bytes_of("abc")) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex(bytes_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")) ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(sha256_hex(bytes_of(std::string(1000000, 'a'))) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("sha256: padding boundaries", "[tools_sha256]") {
  // 55 bytes leave room for the length in the last block, 56 do not (Python's hashlib).
  const std::vector<std::pair<size_t, std::string>> known = {
      {55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
      {56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
      {63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
      {64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
      {65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"},
      {119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"},
      {120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"},
  };
  for (const auto& [n, hex] : known) {
    INFO(n << " bytes");
    CHECK(sha256_hex(bytes_of(std::string(n, 'a'))) == hex);
  }
}

TEST_CASE("sha256: incremental updates in any pieces equal one call", "[tools_sha256]") {
  std::vector<uint8_t> message(1000);
  for (size_t i = 0; i < message.size(); ++i) message[i] = static_cast<uint8_t>(i * 131 + 7);
  const std::string whole = sha256_hex(message);
  for (size_t piece : {1, 3, 55, 63, 64, 65, 127, 999}) {
    INFO("pieces of " << piece);
    Sha256 hash;
    for (size_t pos = 0; pos < message.size(); pos += piece)
      hash.update(std::span(message).subspan(pos, std::min(piece, message.size() - pos)));
    CHECK(hash.hex_digest() == whole);
  }
  // digest() starts over: the same object hashes the next message from scratch.
  Sha256 hash;
  hash.update(bytes_of("garbage"));
  (void)hash.digest();
  hash.update(bytes_of("abc"));
  CHECK(hash.hex_digest() == sha256_hex(bytes_of("abc")));
}

TEST_CASE("sha256: files", "[tools_sha256]") {
  test::TempDir dir("ldm-sha256");
  write_file(dir.file("abc.txt"), "abc");
  CHECK(sha256_file(dir.file("abc.txt")) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  write_file(dir.file("empty"), "");
  CHECK(sha256_file(dir.file("empty")) == sha256_hex({}));

  // Larger than the read chunk (1 MiB), not a multiple of it.
  std::string big(3 * 1024 * 1024 + 123, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i % 251);
  write_file(dir.file("big.bin"), big);
  CHECK(sha256_file(dir.file("big.bin")) == sha256_hex(bytes_of(big)));

  const std::string missing = dir.file("missing.bin");
  CHECK_LDM_ERROR(sha256_file(missing), missing);
  CHECK_LDM_ERROR(sha256_file(dir.path().string()), dir.path().string());
  if (::geteuid() != 0) {  // root reads anything
    write_file(dir.file("secret"), "x");
    REQUIRE(::chmod(dir.file("secret").c_str(), 0) == 0);
    CHECK_LDM_ERROR(sha256_file(dir.file("secret")), "secret");
  }
}

}  // namespace
}  // namespace ldm::tools
