// Image-folder loading. Decoding dominates (a few ms per JPEG), so files decode in parallel
// with OpenMP; the resize then runs once per distinct decoded size through the op layer.
#include "data/image_folder.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <utility>

#include "data/image_io.h"
#include "data/transforms.h"

namespace ldm::data {
namespace {

namespace fs = std::filesystem;

constexpr const char* kExtensions[] = {".png", ".jpg", ".jpeg", ".bmp",
                                       ".pgm", ".ppm", ".pnm",  ".tga"};

bool hidden(const fs::path& p) {
  return p.filename().string().starts_with(".");
}

bool is_image_file(const fs::directory_entry& entry) {
  std::error_code ec;
  if (!entry.is_regular_file(ec) || hidden(entry.path())) return false;
  std::string ext = entry.path().extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::find(std::begin(kExtensions), std::end(kExtensions), ext) != std::end(kExtensions);
}

std::string extension_list() {
  std::string s;
  for (const char* e : kExtensions) s += (s.empty() ? "" : ", ") + std::string(e);
  return s;
}

// Image files under `folder`, recursively, in sorted path order.
std::vector<fs::path> images_under(const fs::path& folder) {
  std::vector<fs::path> files;
  std::error_code ec;
  // Symlinked subfolders are not followed: a link to an ancestor would never end.
  fs::recursive_directory_iterator it(folder, ec);
  if (ec) fail(folder.string(), ": cannot list: ", ec.message());
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) fail(folder.string(), ": cannot list: ", ec.message());
    if (it->is_directory(ec) && hidden(it->path())) {
      it.disable_recursion_pending();
      continue;
    }
    if (is_image_file(*it)) files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

struct Decoded {
  std::vector<float> pixels;  // [H, W] in [0, 1], already box-halved towards the target
  int64_t H = 0, W = 0;
  std::string error;
};

}  // namespace

ImageDataset load_image_folder(const std::string& dir, int64_t target_size) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) fail(dir, ": no such image folder");
  if (!fs::is_directory(dir, ec)) fail(dir, ": not a directory (expected one subfolder per label)");

  std::vector<fs::path> label_dirs;
  int64_t loose_images = 0;
  for (fs::directory_iterator it(dir, fs::directory_options::follow_directory_symlink, ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    if (hidden(it->path())) continue;
    std::error_code kind_ec;
    if (it->is_directory(kind_ec))
      label_dirs.push_back(it->path());
    else if (is_image_file(*it))
      ++loose_images;
  }
  if (ec) fail(dir, ": cannot list: ", ec.message());
  if (label_dirs.empty()) {
    if (loose_images > 0)
      fail(dir, ": has ", loose_images,
           " images but no label subfolders; put them in one "
           "subfolder per label (e.g. ",
           dir, "/normal/, ", dir, "/pneumonia/)");
    fail(dir, ": empty image folder (expected one subfolder per label holding ", extension_list(),
         " files)");
  }
  std::sort(label_dirs.begin(), label_dirs.end());

  ImageDataset out;
  std::vector<fs::path> files;
  for (const fs::path& label_dir : label_dirs) {
    const std::vector<fs::path> found = images_under(label_dir);
    if (found.empty())
      fail(label_dir.string(), ": label folder holds no images (", extension_list(), ")");
    const auto label = static_cast<int32_t>(out.label_names.size());
    out.label_names.push_back(label_dir.filename().string());
    files.insert(files.end(), found.begin(), found.end());
    out.labels.insert(out.labels.end(), found.size(), label);
  }

  const auto n = static_cast<int64_t>(files.size());
  std::vector<Decoded> decoded(static_cast<size_t>(n));
#pragma omp parallel for schedule(dynamic)
  for (int64_t i = 0; i < n; ++i) {
    Decoded& d = decoded[static_cast<size_t>(i)];
    try {
      const DecodedImage image = read_image(files[static_cast<size_t>(i)].string(), 1);
      d.H = image.H;
      d.W = image.W;
      d.pixels.resize(image.pixels.size());
      for (size_t k = 0; k < image.pixels.size(); ++k)
        d.pixels[k] = static_cast<float>(image.pixels[k]) / 255.0f;
      if (target_size > 0)
        d.pixels = box_halve_until(std::move(d.pixels), d.H, d.W, target_size, target_size);
    } catch (const Error& e) {
      d.error = e.what();
    }
  }
  for (const Decoded& d : decoded)
    if (!d.error.empty()) fail(d.error);

  const int64_t H_out = target_size > 0 ? target_size : decoded[0].H;
  const int64_t W_out = target_size > 0 ? target_size : decoded[0].W;
  if (target_size <= 0)
    for (int64_t i = 1; i < n; ++i) {
      const Decoded& d = decoded[static_cast<size_t>(i)];
      if (d.H != H_out || d.W != W_out)
        fail(dir, ": images of mixed sizes (", files[0].string(), " is ", H_out, "x", W_out, ", ",
             files[static_cast<size_t>(i)].string(), " is ", d.H, "x", d.W,
             "); give a target size to resize them all");
    }

  // One resize per distinct size: a folder usually holds one or a few.
  out.images = Tensor::empty({n, 1, H_out, W_out}, DType::kF32, Device::cpu());
  float* dst = out.images.data<float>();
  std::map<std::pair<int64_t, int64_t>, std::vector<int64_t>> by_size;
  for (int64_t i = 0; i < n; ++i) {
    const Decoded& d = decoded[static_cast<size_t>(i)];
    by_size[{d.H, d.W}].push_back(i);
  }
  const int64_t plane_out = H_out * W_out;
  for (const auto& [size, members] : by_size) {
    const auto [H, W] = size;
    const auto m = static_cast<int64_t>(members.size());
    Tensor group = Tensor::empty({m, 1, H, W}, DType::kF32, Device::cpu());
    float* g = group.data<float>();
    for (int64_t j = 0; j < m; ++j) {
      const std::vector<float>& px =
          decoded[static_cast<size_t>(members[static_cast<size_t>(j)])].pixels;
      std::copy(px.begin(), px.end(), g + j * H * W);
    }
    const Tensor resized = resize_images(group, H_out, W_out);
    const float* r = resized.data<float>();
    for (int64_t j = 0; j < m; ++j)
      std::copy(r + j * plane_out, r + (j + 1) * plane_out,
                dst + members[static_cast<size_t>(j)] * plane_out);
  }
  unit_to_signed(out.images);
  return out;
}

}  // namespace ldm::data
