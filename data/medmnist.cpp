// MedMNIST loading: validate the two arrays of a split against each other, then run the shared
// uint8 -> [-1, 1] pipeline.
#include "data/medmnist.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "data/npy.h"
#include "data/transforms.h"

namespace ldm::data {
namespace {

namespace fs = std::filesystem;

// The class names of the MedMNIST sets this project knows, by file stem.
std::vector<std::string> known_label_names(const std::string& path) {
  const std::string stem = fs::path(path).stem().string();
  if (stem.starts_with("pneumoniamnist")) return {"normal", "pneumonia"};
  return {};
}

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

bool is_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

}  // namespace

std::string find_medmnist(const std::string& flag_value, const std::string& file_name) {
  if (!flag_value.empty()) {
    if (is_file(flag_value)) return flag_value;
    if (is_dir(flag_value)) {
      const fs::path inside = fs::path(flag_value) / file_name;
      if (is_file(inside)) return inside.string();
      fail("--data ", flag_value, ": the directory has no ", file_name);
    }
    fail("--data ", flag_value, ": no such file or directory");
  }
  std::string tried = "--data: not given";
  if (const char* root = std::getenv("MEDMNIST_ROOT"); root != nullptr && *root != '\0') {
    if (is_file(root)) return root;
    const fs::path inside = fs::path(root) / file_name;
    if (is_file(inside)) return inside.string();
    tried += "; $MEDMNIST_ROOT: " + inside.string() + " not found";
  } else {
    tried += "; $MEDMNIST_ROOT: not set";
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    const fs::path in_home = fs::path(home) / ".medmnist" / file_name;
    if (is_file(in_home)) return in_home.string();
    tried += "; " + in_home.string() + ": not found";
  } else {
    tried += "; ~/.medmnist/" + file_name + ": $HOME not set";
  }
  fail("cannot find the MedMNIST file ", file_name, " (", tried,
       "). Pass --data PATH, set MEDMNIST_ROOT, or download it with the medmnist Python "
       "package");
}

ImageDataset load_medmnist(const std::string& path, std::string_view split, int64_t target_size) {
  if (split != "train" && split != "val" && split != "test")
    fail("unknown MedMNIST split '", split, "' (expected train, val or test)");
  const NpzFile npz(path);
  const std::string prefix(split);
  const NpyArray images = npz.read(prefix + "_images");
  const NpyArray labels = npz.read(prefix + "_labels");

  if (images.dtype.kind != 'u' || images.dtype.itemsize != 1)
    fail(images.name, ": images must be uint8 ('|u1'), not '", images.dtype.descr, "'");
  if (images.shape.size() != 3)
    fail(images.name, ": images must be N x H x W (grayscale), not ", shape_str(images.shape));
  const int64_t N = images.shape[0], H = images.shape[1], W = images.shape[2];
  if (N == 0 || H == 0 || W == 0)
    fail(images.name, ": empty image array ", shape_str(images.shape));

  if (!labels.dtype.integral())
    fail(labels.name, ": labels must be integers, not '", labels.dtype.descr, "'");
  const bool label_shape_ok =
      (labels.shape.size() == 1) || (labels.shape.size() == 2 && labels.shape[1] == 1);
  if (!label_shape_ok)
    fail(labels.name, ": labels must be N x 1 or N (one class per image), not ",
         shape_str(labels.shape));
  if (labels.shape[0] != N)
    fail(path, ": ", labels.shape[0], " ", split, " labels for ", N, " ", split, " images");

  ImageDataset out;
  out.label_names = known_label_names(path);
  const std::vector<int64_t> raw = labels.to_int64();
  const int64_t max_label = *std::max_element(raw.begin(), raw.end());
  const int64_t known = static_cast<int64_t>(out.label_names.size());
  out.labels.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    const int64_t v = raw[i];
    if (v < 0 || v > INT32_MAX || (known > 0 && v >= known))
      fail(labels.name, ": label ", v, " of image ", i, " is out of range",
           known > 0 ? " (" + std::to_string(known) + " classes)" : std::string());
    out.labels.push_back(static_cast<int32_t>(v));
  }
  // A label far beyond the number of images is a corrupt file, not a class.
  if (known == 0 && max_label > std::max<int64_t>(N, 1000))
    fail(labels.name, ": label ", max_label, " is implausibly large for ", N, " images");
  if (known == 0)
    for (int64_t c = 0; c <= max_label; ++c) out.label_names.push_back(std::to_string(c));

  out.images = prepare_images(images.data(), N, H, W, target_size);
  return out;
}

}  // namespace ldm::data
