// The .npy/.npz reader and the MedMNIST loader: valid files in every form NumPy writes, one
// test per way a file can be wrong (each an ldm::Error naming the file and the problem), the
// lookup order of find_medmnist, and the real PneumoniaMNIST file against PyTorch.
#include <sys/wait.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "data/medmnist.h"
#include "data_test_util.h"

namespace ldm::data::test {
namespace {

using Catch::Matchers::Contains;

std::vector<uint8_t> le32(const std::vector<int32_t>& values) {
  std::vector<uint8_t> out;
  for (int32_t v : values)
    for (int b = 0; b < 4; ++b)
      out.push_back(static_cast<uint8_t>(static_cast<uint32_t>(v) >> (8 * b)));
  return out;
}

std::vector<uint8_t> be32(const std::vector<int32_t>& values) {
  std::vector<uint8_t> out;
  for (int32_t v : values)
    for (int b = 3; b >= 0; --b)
      out.push_back(static_cast<uint8_t>(static_cast<uint32_t>(v) >> (8 * b)));
  return out;
}

// A valid 3-image 4x4 split with labels 0, 1, 1 (N x 1 uint8).
std::vector<NpzEntry> small_split(const std::string& split = "train") {
  return {{split + "_images", npy_bytes("|u1", {3, 4, 4}, ramp(48))},
          {split + "_labels", npy_bytes("|u1", {3, 1}, {0, 1, 1})}};
}

// Replaces (or adds) one entry of a fixture.
std::vector<NpzEntry> with(std::vector<NpzEntry> entries, NpzEntry entry) {
  for (auto& e : entries)
    if (e.name == entry.name) {
      e = std::move(entry);
      return entries;
    }
  entries.push_back(std::move(entry));
  return entries;
}

TEST_CASE("parse_npy reads versions 1, 2 and 3 and every integer byte order", "[data_npz]") {
  const std::vector<uint8_t> data = le32({1, -2, 300});
  for (int major : {1, 2, 3}) {
    const NpyArray a = parse_npy(
        npy_with_dict("{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", data, major),
        std::to_string(major) + ".npy");
    CHECK(a.shape == Shape{3});
    CHECK(a.to_int64() == std::vector<int64_t>{1, -2, 300});
  }
  // Big-endian, Python 2 style long dims, double quotes, no trailing comma, keys reordered.
  const NpyArray be =
      parse_npy(npy_with_dict("{\"shape\": (3L,), \"fortran_order\": False, \"descr\": \">i4\"}",
                              be32({1, -2, 300})),
                "be");
  CHECK(be.to_int64() == std::vector<int64_t>{1, -2, 300});
  // A 0-d array and a 2-D one.
  CHECK(parse_npy(npy_bytes("|u1", {}, {7}), "scalar").to_int64() == std::vector<int64_t>{7});
  const NpyArray two = parse_npy(npy_bytes("<i8", {2, 1}, std::vector<uint8_t>(16, 0xff)), "i8");
  CHECK(two.shape == Shape{2, 1});
  CHECK(two.to_int64() == std::vector<int64_t>{-1, -1});
  // npy_header writes what NumPy writes: 64-byte aligned, 1-tuples with a trailing comma.
  const std::vector<uint8_t> header = npy_header("|u1", {5});
  CHECK(header.size() % 64 == 0);
  CHECK_THAT(std::string(header.begin(), header.end()), Contains("'shape': (5,)"));
}

TEST_CASE("parse_npy rejects malformed .npy data with a message naming it", "[data_npz]") {
  const std::vector<uint8_t> four = {1, 2, 3, 4};
  const auto header = [&](const std::string& dict) { return npy_with_dict(dict, four); };

  std::vector<uint8_t> bad_magic = npy_bytes("|u1", {4}, four);
  bad_magic[1] = 'X';
  CHECK_THROWS_WITH(parse_npy(bad_magic, "f.npy"), Contains("f.npy") && Contains("bad magic"));
  CHECK_THROWS_WITH(parse_npy({0x93, 'N'}, "f.npy"), Contains("bad magic"));

  std::vector<uint8_t> bad_version = npy_bytes("|u1", {4}, four);
  bad_version[6] = 9;
  CHECK_THROWS_WITH(parse_npy(bad_version, "f.npy"), Contains("version 9.0"));

  std::vector<uint8_t> short_header = npy_bytes("|u1", {4}, four);
  short_header.resize(40);
  CHECK_THROWS_WITH(parse_npy(short_header, "f.npy"), Contains("truncated .npy header"));

  CHECK_THROWS_WITH(parse_npy(header("{'descr': '|u1', 'shape': (4,), }"), "f.npy"),
                    Contains("no 'fortran_order' key"));
  CHECK_THROWS_WITH(
      parse_npy(header("{'descr': '|u1', 'fortran_order': False, 'shape': (4,), 'x': 1}"), "f.npy"),
      Contains("bad .npy header"));
  CHECK_THROWS_WITH(
      parse_npy(header("{'descr': '|u1', 'fortran_order': False, 'shape': (4,)"), "f.npy"),
      Contains("bad .npy header"));
  CHECK_THROWS_WITH(parse_npy(header("[1, 2]"), "f.npy"), Contains("bad .npy header"));
  CHECK_THROWS_WITH(
      parse_npy(header("{'descr': '|u1', 'fortran_order': 0, 'shape': (4,)}"), "f.npy"),
      Contains("bad .npy header"));
  CHECK_THROWS_WITH(parse_npy(header("{'descr': [('a', '<i4')], 'fortran_order': False, "
                                     "'shape': (1,)}"),
                              "f.npy"),
                    Contains("structured dtypes are not supported"));
  CHECK_THROWS_WITH(
      parse_npy(header("{'descr': '|O', 'fortran_order': False, 'shape': (1,)}"), "f.npy"),
      Contains("unsupported .npy dtype '|O'"));
  CHECK_THROWS_WITH(
      parse_npy(header("{'descr': '<c8', 'fortran_order': False, 'shape': (1,)}"), "f.npy"),
      Contains("unsupported .npy dtype '<c8'"));
  CHECK_THROWS_WITH(parse_npy(npy_bytes("|u1", {2, 2}, four, /*fortran_order=*/true), "f.npy"),
                    Contains("f.npy") && Contains("Fortran order"));
  CHECK_THROWS_WITH(parse_npy(npy_bytes("|u1", {2, 3}, four), "f.npy"),
                    Contains("truncated .npy data") && Contains("needs 6 bytes, the file has 4"));
  CHECK_THROWS_WITH(parse_npy(npy_bytes("|u1", {3}, four), "f.npy"),
                    Contains("unexpected bytes after the .npy data"));
}

TEST_CASE("NpzFile errors: missing file, not a zip, truncated, missing key, corrupt entry",
          "[data_npz]") {
  TempDir dir;
  const std::string missing = dir.file("nothing.npz");
  CHECK_THROWS_WITH(NpzFile(missing), Contains(missing) && Contains("no such file"));
  CHECK_THROWS_WITH(NpzFile(dir.path().string()), Contains("is a directory"));

  const std::string text = dir.file("text.npz");
  write_bytes(text, {'h', 'e', 'l', 'l', 'o', '\n'});
  CHECK_THROWS_WITH(NpzFile(text), Contains(text) && Contains("not a zip archive"));
  const std::string empty = dir.file("empty.npz");
  write_bytes(empty, {});
  CHECK_THROWS_WITH(NpzFile(empty), Contains("not a zip archive"));

  const std::string good = dir.file("good.npz");
  write_npz(good, small_split());
  const std::vector<uint8_t> bytes = read_bytes(good);
  for (size_t keep : {bytes.size() / 2, bytes.size() - 10}) {
    const std::string cut = dir.file("cut.npz");
    write_bytes(cut, std::vector<uint8_t>(bytes.begin(), bytes.begin() + static_cast<long>(keep)));
    CHECK_THROWS_WITH(NpzFile(cut), Contains(cut) && Contains("truncated or corrupt"));
  }

  const NpzFile npz(good);
  CHECK(npz.keys() == std::vector<std::string>{"train_images", "train_labels"});
  CHECK_THROWS_WITH(npz.read("val_images"), Contains(good) && Contains("no 'val_images' array") &&
                                                Contains("train_images, train_labels"));

  // A flipped byte inside the stored (uncompressed) data fails the entry's CRC.
  const std::string stored = dir.file("stored.npz");
  write_npz(stored, small_split(), Compression::kStore);
  std::vector<uint8_t> damaged = read_bytes(stored);
  const std::string marker = "'descr'";
  const auto at = std::search(damaged.begin(), damaged.end(), marker.begin(), marker.end());
  REQUIRE(at != damaged.end());
  *(at + 2) ^= 0x20;
  write_bytes(stored, damaged);
  CHECK_THROWS_WITH(NpzFile(stored).read("train_images"),
                    Contains("train_images.npy") && Contains("corrupt zip entry"));
}

TEST_CASE("load_medmnist reads a small split, deflated or stored", "[data_npz]") {
  TempDir dir;
  for (Compression c : {Compression::kDeflate, Compression::kStore}) {
    const std::string path = dir.file("tiny.npz");
    write_npz(path, small_split("val"), c);
    const ImageDataset native = load_medmnist(path, "val", 0);
    REQUIRE(native.images.shape() == Shape{3, 1, 4, 4});
    CHECK(native.labels == std::vector<int32_t>{0, 1, 1});
    CHECK(native.label_names == std::vector<std::string>{"0", "1"});
    CHECK(native.label_counts() == std::vector<int64_t>{1, 2});
    const std::vector<uint8_t> pixels = ramp(48);
    const float* p = native.images.data<float>();
    for (size_t i = 0; i < pixels.size(); ++i)
      CHECK(p[i] == static_cast<float>(pixels[i]) / 255.0f * 2.0f - 1.0f);

    const ImageDataset resized = load_medmnist(path, "val", 8);
    CHECK(resized.images.shape() == Shape{3, 1, 8, 8});
  }
  // Labels as a flat int64 vector, and big-endian int32 labels, are integral too.
  const std::string flat = dir.file("flat.npz");
  write_npz(flat, with(small_split(), {"train_labels",
                                       npy_bytes("<i8", {3}, {2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                                              0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0})}));
  const ImageDataset f = load_medmnist(flat, "train", 0);
  CHECK(f.labels == std::vector<int32_t>{2, 0, 1});
  CHECK(f.label_names == std::vector<std::string>{"0", "1", "2"});
  const std::string big = dir.file("big.npz");
  write_npz(big, with(small_split(), {"train_labels", npy_bytes(">i4", {3, 1}, be32({1, 0, 1}))}));
  CHECK(load_medmnist(big, "train", 0).labels == std::vector<int32_t>{1, 0, 1});
  // PneumoniaMNIST is recognised by its file name.
  const std::string named = dir.file("pneumoniamnist.npz");
  write_npz(named, small_split());
  CHECK(load_medmnist(named, "train").label_names ==
        std::vector<std::string>{"normal", "pneumonia"});
}

TEST_CASE("load_medmnist rejects wrong dtypes, shapes and counts, naming the file", "[data_npz]") {
  TempDir dir;
  const std::string path = dir.file("bad.npz");
  const auto load_with = [&](NpzEntry entry) {
    write_npz(path, with(small_split(), std::move(entry)));
    return load_medmnist(path, "train");
  };
  CHECK_THROWS_WITH(
      load_with({"train_images", npy_bytes("<f8", {3, 4, 4}, std::vector<uint8_t>(384))}),
      Contains(path) && Contains("train_images.npy") && Contains("must be uint8") &&
          Contains("'<f8'"));
  CHECK_THROWS_WITH(load_with({"train_labels", npy_bytes("<f4", {3, 1}, std::vector<uint8_t>(12))}),
                    Contains("train_labels.npy") && Contains("labels must be integers"));
  CHECK_THROWS_WITH(load_with({"train_images", npy_bytes("|u1", {3, 16}, ramp(48))}),
                    Contains("must be N x H x W") && Contains("[3, 16]"));
  CHECK_THROWS_WITH(load_with({"train_images", npy_bytes("|u1", {3, 4, 4, 3}, ramp(144))}),
                    Contains("must be N x H x W"));
  CHECK_THROWS_WITH(load_with({"train_labels", npy_bytes("|u1", {3, 2}, ramp(6))}),
                    Contains("labels must be N x 1 or N") && Contains("[3, 2]"));
  CHECK_THROWS_WITH(load_with({"train_labels", npy_bytes("|u1", {2, 1}, {0, 1})}),
                    Contains(path) && Contains("2 train labels for 3 train images"));
  CHECK_THROWS_WITH(load_with({"train_images", npy_bytes("|u1", {3, 4, 4}, ramp(48), true)}),
                    Contains("train_images.npy") && Contains("Fortran order"));
  CHECK_THROWS_WITH(load_with({"train_images", npy_bytes("|u1", {3, 4, 4}, ramp(40))}),
                    Contains("truncated .npy data"));
  CHECK_THROWS_WITH(load_with({"train_labels", npy_bytes("<i4", {3}, le32({0, -1, 1}))}),
                    Contains("label -1 of image 1 is out of range"));
  CHECK_THROWS_WITH(load_with({"train_images", npy_bytes("|u1", {0, 4, 4}, {})}),
                    Contains("empty image array"));

  write_npz(path, small_split());
  CHECK_THROWS_WITH(load_medmnist(path, "training"), Contains("unknown MedMNIST split 'training'"));
  CHECK_THROWS_WITH(load_medmnist(path, "test"), Contains("no 'test_images' array"));
  // Labels beyond PneumoniaMNIST's two classes.
  const std::string named = dir.file("pneumoniamnist.npz");
  write_npz(named, with(small_split(), {"train_labels", npy_bytes("|u1", {3, 1}, {0, 2, 1})}));
  CHECK_THROWS_WITH(load_medmnist(named, "train"),
                    Contains("label 2 of image 1 is out of range") && Contains("(2 classes)"));
}

TEST_CASE("find_medmnist looks at --data, then $MEDMNIST_ROOT, then ~/.medmnist", "[data_npz]") {
  TempDir dir;
  const fs::path home = dir.path() / "home";
  const fs::path root = dir.path() / "root";
  fs::create_directories(home / ".medmnist");
  fs::create_directories(root);
  const std::string in_home = (home / ".medmnist" / "pneumoniamnist.npz").string();
  const std::string in_root = (root / "pneumoniamnist.npz").string();
  const std::string flagged = dir.file("mine.npz");
  for (const std::string& p : {in_home, in_root, flagged}) write_bytes(p, {1});

  const EnvGuard home_guard("HOME", home.string());
  {
    const EnvGuard root_guard("MEDMNIST_ROOT", root.string());
    CHECK(find_medmnist(flagged) == flagged);
    CHECK(find_medmnist(dir.path().string() + "/root") == in_root);  // a directory flag
    CHECK(find_medmnist("") == in_root);
    // An explicit --data that names nothing never falls back to another copy.
    CHECK_THROWS_WITH(find_medmnist(dir.file("typo.npz")),
                      Contains("--data") && Contains("typo.npz") && Contains("no such file"));
    CHECK_THROWS_WITH(find_medmnist(home.string()),
                      Contains("the directory has no pneumoniamnist.npz"));
  }
  {
    const EnvGuard root_guard("MEDMNIST_ROOT", in_root);  // the file itself
    CHECK(find_medmnist("") == in_root);
  }
  {
    const EnvGuard root_guard("MEDMNIST_ROOT", std::nullopt);
    CHECK(find_medmnist("") == in_home);
    fs::remove(in_home);
    CHECK_THROWS_WITH(find_medmnist(""),
                      Contains("cannot find the MedMNIST file pneumoniamnist.npz") &&
                          Contains("--data: not given") && Contains("$MEDMNIST_ROOT: not set") &&
                          Contains(in_home + ": not found"));
  }
  {
    const EnvGuard root_guard("MEDMNIST_ROOT", (dir.path() / "elsewhere").string());
    CHECK_THROWS_WITH(find_medmnist(""), Contains("elsewhere/pneumoniamnist.npz not found"));
  }
}

// The real dataset: sizes, class balance, value range, and the whole train split resized
// 28 -> 32 against PyTorch's F.interpolate on the same file read by NumPy.
constexpr const char* kReferenceScript = R"PY(
import sys
try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError as e:
    print("missing:", e)
    sys.exit(3)
path, split, out = sys.argv[1], sys.argv[2], sys.argv[3]
with np.load(path) as z:
    images = z[split + "_images"]
x = torch.from_numpy(images).float().div(255).unsqueeze(1)
y = F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False).mul(2).sub(1)
y.numpy().astype("<f4").tofile(out)
)PY";

TEST_CASE("the real PneumoniaMNIST file loads with the official split sizes", "[data_npz]") {
  const std::string path = LDM_PNEUMONIAMNIST_NPZ;
  if (!fs::exists(path)) {
    std::cout << "SKIPPED: " << path << " is absent\n";
    return;
  }
  struct Expect {
    const char* split;
    int64_t n, normal, pneumonia;
  };
  for (const Expect& e : {Expect{"train", 4708, 1214, 3494}, Expect{"val", 524, 135, 389},
                          Expect{"test", 624, 234, 390}}) {
    const auto start = std::chrono::steady_clock::now();
    const ImageDataset d = load_medmnist(path, e.split);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << "pneumoniamnist " << e.split << ": " << d.size() << " images loaded and resized "
              << "to 32x32 in " << seconds * 1000 << " ms\n";
    CHECK(d.images.shape() == Shape{e.n, 1, 32, 32});
    CHECK(d.size() == e.n);
    CHECK(d.label_counts() == std::vector<int64_t>{e.normal, e.pneumonia});
    CHECK(d.label_names == std::vector<std::string>{"normal", "pneumonia"});
    const std::vector<float> v = d.images.to_vector<float>();
    const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    CHECK(*lo >= -1.0f);
    CHECK(*hi <= 1.0f);
    CHECK(*lo < -0.9f);  // the scale really spans the range
    CHECK(*hi > 0.9f);
    // Generous: a few hundred ms here; seconds would mean something is badly wrong.
    if (std::string(e.split) == "train") CHECK(seconds < 5.0);
  }
}

TEST_CASE("the 28 -> 32 resize of the train split equals PyTorch's F.interpolate", "[data_npz]") {
  const std::string path = LDM_PNEUMONIAMNIST_NPZ;
  if (!fs::exists(path)) {
    std::cout << "SKIPPED: " << path << " is absent\n";
    return;
  }
  TempDir dir;
  const std::string script = dir.file("reference.py");
  const std::string out = dir.file("reference.f32");
  {
    std::ofstream s(script);
    s << kReferenceScript;
  }
  const std::string command =
      std::string(LDM_SYSTEM_PYTHON) + " " + script + " '" + path + "' train " + out;
  const int status = std::system(command.c_str());
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) == 3 ||
      WEXITSTATUS(status) == 127) {
    std::cout << "SKIPPED: PyTorch reference unavailable (" << LDM_SYSTEM_PYTHON
              << " with numpy and torch)\n";
    return;
  }
  REQUIRE(WEXITSTATUS(status) == 0);
  const std::vector<uint8_t> raw = read_bytes(out);
  const ImageDataset d = load_medmnist(path, "train");
  REQUIRE(raw.size() == static_cast<size_t>(d.images.numel()) * 4);
  std::vector<float> ref(raw.size() / 4);
  std::memcpy(ref.data(), raw.data(), raw.size());
  const float* ours = d.images.data<float>();
  double max_diff = 0;
  int64_t exact = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double diff = std::abs(static_cast<double>(ours[i]) - ref[i]);
    max_diff = std::max(max_diff, diff);
    exact += diff == 0;
    // resize_bilinear is within 1 ulp of PyTorch for one channel; 2 ulp of 1.0 after 2x - 1.
    if (diff > 2.5e-7) FAIL("pixel " << i << ": ours " << ours[i] << ", torch " << ref[i]);
  }
  std::cout << "torch F.interpolate reference: " << ref.size() << " pixels, " << exact
            << " bit-exact, max |diff| " << max_diff << "\n";
}

}  // namespace
}  // namespace ldm::data::test
