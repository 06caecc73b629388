// safetensors round trips, interoperability with a by-hand NumPy reader, rejection of damaged
// files (always an ldm::Error naming the file), and atomicity of writes.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/safetensors.h"
#include "tests/temp_dir.h"

namespace ldm::test {
namespace {

namespace fs = std::filesystem;
using Catch::Matchers::Contains;

using ldm::test::TempDir;

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

std::string le64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[static_cast<size_t>(i)] = static_cast<char>(v >> (8 * i));
  return s;
}

// A file with the given header text and data bytes; the length field is the header's size
// unless `claimed_length` overrides it.
std::string make_file(const std::string& header, const std::string& data,
                      int64_t claimed_length = -1) {
  const uint64_t length =
      claimed_length < 0 ? header.size() : static_cast<uint64_t>(claimed_length);
  return le64(length) + header + data;
}

// The ldm::Error message of load_safetensors(path), or a marker when it did not throw one.
std::string load_error(const std::string& path) {
  try {
    load_safetensors(path);
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("(not an ldm::Error: ") + e.what() + ")";
  }
  return "(no error)";
}

std::map<std::string, Tensor> sample_tensors() {
  return {
      {"encoder.conv_in.weight",
       Tensor::from_vector<float>({0.5f, -1.25f, 3.0e-8f, 1.0e30f, -0.0f, 7.0f}, {1, 2, 3})},
      {"double", Tensor::from_vector<double>({0.1, -2.0 / 3.0, 1e-300, 12345.678}, {4})},
      {"labels", Tensor::from_vector<int32_t>({0, -1, 2147483647, -2147483647 - 1}, {2, 2})},
      {"scalar", Tensor::full({}, 2.5)},
      {"empty", Tensor::zeros({0, 3})},
  };
}

void check_same(const std::map<std::string, Tensor>& expected,
                const std::map<std::string, Tensor>& actual) {
  REQUIRE(actual.size() == expected.size());
  for (const auto& [name, t] : expected) {
    INFO("tensor " << name);
    REQUIRE(actual.count(name) == 1);
    const Tensor& u = actual.at(name);
    CHECK(u.dtype() == t.dtype());
    CHECK(u.shape() == t.shape());
    REQUIRE(u.nbytes() == t.nbytes());
    CHECK(std::memcmp(u.raw_data(), t.raw_data(), t.nbytes()) == 0);  // bit-exact
  }
}

TEST_CASE("safetensors round trip of f32, f64 and i32 tensors with metadata", "[safetensors]") {
  TempDir dir;
  const std::string path = dir.file("model.safetensors");
  const auto tensors = sample_tensors();
  const std::map<std::string, std::string> metadata = {
      {"format", "pt"}, {"step", "1200"}, {"config", R"({"base": 16, "note": "a \"quote\""})"}};
  save_safetensors(path, tensors, metadata);
  const SafetensorsContents loaded = load_safetensors(path);
  check_same(tensors, loaded.tensors);
  CHECK(loaded.metadata == metadata);
  CHECK(dir.listing() == std::vector<std::string>{"model.safetensors"});  // no .tmp left

  // The layout the format prescribes: length, JSON header, then exactly the tensor bytes.
  const std::string bytes = read_bytes(path);
  uint64_t header_size = 0;
  for (int i = 0; i < 8; ++i)
    header_size |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[static_cast<size_t>(i)]))
                   << (8 * i);
  size_t data_bytes = 0;
  for (const auto& [name, t] : tensors) data_bytes += t.nbytes();
  CHECK(bytes.size() == 8 + header_size + data_bytes);
  CHECK(header_size % 8 == 0);  // recommended alignment of the data section

  // No tensors and no metadata is still a valid file.
  save_safetensors(path, {});
  const SafetensorsContents nothing = load_safetensors(path);
  CHECK(nothing.tensors.empty());
  CHECK(nothing.metadata.empty());
}

TEST_CASE("a saved file is read correctly by NumPy parsing the header by hand", "[safetensors]") {
  if (!fs::exists("/usr/bin/python3")) {
    WARN("no /usr/bin/python3: skipping the NumPy cross-check");
    return;
  }
  TempDir dir;
  const std::string path = dir.file("x.safetensors");
  const std::string script = dir.file("read.py");
  const auto tensors = sample_tensors();
  save_safetensors(path, tensors, {{"step", "7"}});
  write_bytes(script, R"(import json, struct, sys
import numpy as np
raw = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
header = json.loads(raw[8:8 + n])
data = raw[8 + n:]
types = {'F32': '<f4', 'F64': '<f8', 'I32': '<i4'}
out = {'__data_bytes__': len(data)}
for name, e in header.items():
    if name == '__metadata__':
        out[name] = e
        continue
    begin, end = e['data_offsets']
    a = np.frombuffer(data[begin:end], dtype=types[e['dtype']]).reshape(e['shape'])
    out[name] = {'dtype': e['dtype'], 'shape': list(a.shape),
                 'values': [float(v) for v in a.ravel()]}
print(json.dumps(out))
)");
  const std::string command = "/usr/bin/python3 " + script + " " + path;
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string output;
  char buffer[4096];
  for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) output.append(buffer, n);
  const int status = ::pclose(pipe);
  INFO("python output: " << output);
  REQUIRE(status == 0);
  const nlohmann::json parsed = nlohmann::json::parse(output);

  size_t data_bytes = 0;
  for (const auto& [name, t] : tensors) data_bytes += t.nbytes();
  CHECK(parsed.at("__data_bytes__").get<size_t>() == data_bytes);
  CHECK(parsed.at("__metadata__") == nlohmann::json{{"step", "7"}});
  const std::map<DType, std::string> names = {
      {DType::kF32, "F32"}, {DType::kF64, "F64"}, {DType::kI32, "I32"}};
  for (const auto& [name, t] : tensors) {
    INFO("tensor " << name);
    const nlohmann::json& entry = parsed.at(name);
    CHECK(entry.at("dtype").get<std::string>() == names.at(t.dtype()));
    CHECK(entry.at("shape").get<Shape>() == t.shape());
    // Python floats are doubles and JSON carries them exactly.
    CHECK(entry.at("values").get<std::vector<double>>() == t.to_vector<double>());
  }
}

TEST_CASE("damaged files throw ldm::Error naming the file", "[safetensors]") {
  TempDir dir;
  const std::string good = dir.file("good.safetensors");
  save_safetensors(good, sample_tensors());
  const std::string bytes = read_bytes(good);
  const std::string path = dir.file("bad.safetensors");
  const std::string f32x3 = R"({"t":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}})";
  const std::string twelve(12, '\0');

  SECTION("missing") {
    CHECK_THAT(load_error(dir.file("nope.safetensors")), Contains("nope.safetensors"));
  }
  SECTION("empty") {
    write_bytes(path, "");
    CHECK_THAT(load_error(path), Contains(path));
  }
  SECTION("truncated inside the length") {
    write_bytes(path, bytes.substr(0, 5));
    CHECK_THAT(load_error(path), Contains(path));
  }
  SECTION("truncated inside the header") {
    write_bytes(path, bytes.substr(0, 20));
    CHECK_THAT(load_error(path), Contains(path));
  }
  SECTION("truncated inside the data") {
    write_bytes(path, bytes.substr(0, bytes.size() - 3));
    CHECK_THAT(load_error(path), Contains(path) && Contains("truncated"));
  }
  SECTION("header length beyond the file") {
    write_bytes(path, make_file(f32x3, twelve, int64_t{1} << 40));
    CHECK_THAT(load_error(path), Contains(path));
  }
  SECTION("header length of 2^64 - 1") {
    std::string b = make_file(f32x3, twelve);
    b.replace(0, 8, le64(~uint64_t{0}));
    write_bytes(path, b);
    CHECK_THAT(load_error(path), Contains(path));
  }
  SECTION("header not JSON") {
    write_bytes(path, make_file("this is not json", twelve));
    CHECK_THAT(load_error(path), Contains(path) && Contains("JSON"));
  }
  SECTION("header JSON but not an object") {
    write_bytes(path, make_file("[1, 2, 3]", ""));
    CHECK_THAT(load_error(path), Contains(path));
  }
  SECTION("entry missing its fields") {
    write_bytes(path, make_file(R"({"t":{"dtype":"F32"}})", ""));
    CHECK_THAT(load_error(path), Contains(path) && Contains("'t'"));
  }
  SECTION("entry of the wrong JSON type") {
    write_bytes(path, make_file(R"({"t":[1,2]})", ""));
    CHECK_THAT(load_error(path), Contains(path));
  }
  SECTION("offsets beyond the file") {
    write_bytes(path, make_file(f32x3, std::string(8, '\0')));
    CHECK_THAT(load_error(path), Contains(path) && Contains("'t'"));
  }
  SECTION("offsets that do not match the shape") {
    write_bytes(path,
                make_file(R"({"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", twelve));
    CHECK_THAT(load_error(path), Contains(path));
  }
  SECTION("reversed offsets") {
    write_bytes(path,
                make_file(R"({"t":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", twelve));
    CHECK_THAT(load_error(path), Contains(path));
  }
  SECTION("negative dimension") {
    write_bytes(
        path, make_file(R"({"t":{"dtype":"F32","shape":[-1,-3],"data_offsets":[0,12]}})", twelve));
    CHECK_THAT(load_error(path), Contains(path));
  }
  SECTION("unknown dtype") {
    write_bytes(path,
                make_file(R"({"t":{"dtype":"Q7","shape":[3],"data_offsets":[0,12]}})", twelve));
    CHECK_THAT(load_error(path), Contains(path) && Contains("Q7"));
  }
  SECTION("a dtype the format knows but this build cannot hold (BF16)") {
    // PyTorch checkpoints are often bf16: the user must learn which file and tensor it was.
    write_bytes(path,
                make_file(R"({"w":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}})", "abcd"));
    CHECK_THAT(load_error(path), Contains(path));
  }
  SECTION("metadata values that are not strings") {
    write_bytes(path, make_file(R"({"__metadata__":{"step":12}})", ""));
    CHECK_THAT(load_error(path), Contains(path));
  }
}

TEST_CASE("a failed save leaves the previous file intact and no temporary behind",
          "[safetensors]") {
  TempDir dir;
  const std::string path = dir.file("ckpt.safetensors");
  const auto old_tensors = sample_tensors();
  save_safetensors(path, old_tensors, {{"step", "1"}});
  const std::string old_bytes = read_bytes(path);
  const auto check_old_file_intact = [&] {
    CHECK(read_bytes(path) == old_bytes);
    CHECK(load_safetensors(path).metadata.at("step") == "1");
    CHECK(dir.listing() == std::vector<std::string>{"ckpt.safetensors"});
  };

  SECTION("a tensor-level failure (an undefined tensor)") {
    std::map<std::string, Tensor> tensors = {{"a", Tensor::full({4}, 1.0)}, {"b", Tensor()}};
    std::string message = "(no error)";
    try {
      save_safetensors(path, tensors);
    } catch (const Error& e) {
      message = e.what();
    }
    CHECK_THAT(message, Contains("'b'"));
    check_old_file_intact();
  }
  SECTION("the disk refuses the data midway (file size limit)") {
    // RLIMIT_FSIZE makes write() fail with EFBIG after 4 KiB of a 256 KiB tensor: a real
    // failure in the middle of the data. SIGXFSZ would kill the process, so it is ignored.
    const std::map<std::string, Tensor> big = {{"w", Tensor::full({65536}, 3.0)}};
    rlimit saved_limit{};
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &saved_limit) == 0);
    const auto saved_handler = std::signal(SIGXFSZ, SIG_IGN);
    rlimit small = saved_limit;
    small.rlim_cur = 4096;
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
    std::string message = "(no error)";
    try {
      save_safetensors(path, big);
    } catch (const Error& e) {
      message = e.what();
    }
    ::setrlimit(RLIMIT_FSIZE, &saved_limit);
    std::signal(SIGXFSZ, saved_handler);
    CHECK_THAT(message, Contains(path) && Contains("File too large"));  // EFBIG, midway
    check_old_file_intact();
  }
  SECTION("the target is a directory (rename fails after the data is written)") {
    const std::string target = dir.file("is_a_dir");
    fs::create_directory(target);
    std::string message = "(no error)";
    try {
      save_safetensors(target, old_tensors);
    } catch (const Error& e) {
      message = e.what();
    }
    CHECK_THAT(message, Contains(target));
    CHECK(!fs::exists(target + ".tmp"));
    CHECK(fs::is_directory(target));
    fs::remove(target);
    check_old_file_intact();
  }
  SECTION("the directory does not exist") {
    const std::string missing = dir.file("no/such/dir/ckpt.safetensors");
    std::string message = "(no error)";
    try {
      save_safetensors(missing, old_tensors);
    } catch (const Error& e) {
      message = e.what();
    }
    CHECK_THAT(message, Contains(missing));
    check_old_file_intact();
  }
  SECTION("a successful save replaces the file") {
    const std::map<std::string, Tensor> next = {{"w", Tensor::full({2}, -1.0)}};
    save_safetensors(path, next, {{"step", "2"}});
    const SafetensorsContents loaded = load_safetensors(path);
    check_same(next, loaded.tensors);
    CHECK(loaded.metadata.at("step") == "2");
    CHECK(dir.listing() == std::vector<std::string>{"ckpt.safetensors"});
  }
}

}  // namespace
}  // namespace ldm::test
