// Image folders: labels from sorted subfolder names, PNG/JPEG/colour/nested files, mixed sizes
// resized to the target (with the box pre-shrink against aliasing), and every error case.
// Fixture images are written at test time.
#include <stb/stb_image_write.h>

#include <cmath>

#include "data/image_folder.h"
#include "data/image_io.h"
#include "data_test_util.h"

namespace ldm::data::test {
namespace {

using Catch::Matchers::Contains;

void constant_png(const fs::path& path, int64_t H, int64_t W, uint8_t value, int64_t C = 1) {
  fs::create_directories(path.parent_path());
  write_png_u8(path.string(), std::vector<uint8_t>(static_cast<size_t>(H * W * C), value), H, W, C);
}

float scaled(double v) {
  return static_cast<float>(v / 255.0 * 2.0 - 1.0);
}

TEST_CASE("an image folder loads with labels from sorted subfolder names", "[data_folder]") {
  TempDir dir;
  const fs::path root = dir.path();
  constant_png(root / "pneumonia" / "x.png", 28, 28, 40);
  constant_png(root / "normal" / "b.png", 28, 28, 20);
  constant_png(root / "normal" / "a.png", 28, 28, 10);
  constant_png(root / "normal" / "sub" / "c.PNG", 28, 28, 30);  // nested, upper-case extension
  constant_png(root / "normal" / "rgb.png", 28, 28, 90, 3);     // colour becomes gray
  const std::vector<uint8_t> jpeg_pixels(28 * 28, 60);
  REQUIRE(stbi_write_jpg((root / "pneumonia" / "y.jpg").string().c_str(), 28, 28, 1,
                         jpeg_pixels.data(), 95) != 0);
  write_bytes((root / "normal" / "notes.txt").string(), {'h', 'i'});  // skipped
  constant_png(root / "normal" / ".hidden.png", 28, 28, 255);         // skipped
  constant_png(root / ".cache" / "z.png", 28, 28, 255);               // hidden folder: no label

  const ImageDataset d = load_image_folder(root.string(), 32);
  CHECK(d.label_names == std::vector<std::string>{"normal", "pneumonia"});
  CHECK(d.labels == std::vector<int32_t>{0, 0, 0, 0, 1, 1});
  CHECK(d.label_counts() == std::vector<int64_t>{4, 2});
  REQUIRE(d.images.shape() == Shape{6, 1, 32, 32});
  // Sorted paths: normal/a, normal/b, normal/rgb, normal/sub/c, pneumonia/x, pneumonia/y.
  const double expected[] = {10, 20, 90, 30, 40, 60};
  const float* p = d.images.data<float>();
  for (int64_t i = 0; i < 6; ++i)
    for (int64_t k = 0; k < 32 * 32; ++k) {
      // A constant JPEG decodes to within a level or two of its value.
      const float tolerance = i == 5 ? 2.5f / 127.5f : 1e-6f;
      REQUIRE(std::abs(p[i * 1024 + k] - scaled(expected[i])) <= tolerance);
    }

  // target_size <= 0 keeps the images' own size when they agree.
  CHECK(load_image_folder(root.string(), 0).images.shape() == Shape{6, 1, 28, 28});
}

TEST_CASE("images of mixed sizes are all resized to the target", "[data_folder]") {
  TempDir dir;
  const fs::path root = dir.path();
  constant_png(root / "a" / "small.png", 28, 28, 100);
  constant_png(root / "a" / "wide.png", 48, 64, 150);
  // A fine checkerboard 8x the target: bilinear alone would alias it to black or white;
  // the box pre-shrink turns it into the mid grey it looks like.
  std::vector<uint8_t> checker(256 * 256);
  for (size_t y = 0; y < 256; ++y)
    for (size_t x = 0; x < 256; ++x) checker[y * 256 + x] = (x + y) % 2 ? 255 : 0;
  fs::create_directories(root / "b");
  write_png_u8((root / "b" / "checker.png").string(), checker, 256, 256, 1);

  const ImageDataset d = load_image_folder(root.string(), 32);
  REQUIRE(d.images.shape() == Shape{3, 1, 32, 32});
  const float* p = d.images.data<float>();
  for (int64_t k = 0; k < 1024; ++k) {
    REQUIRE(std::abs(p[k] - scaled(100)) < 1e-6f);
    REQUIRE(std::abs(p[1024 + k] - scaled(150)) < 1e-6f);
    REQUIRE(std::abs(p[2048 + k]) < 1e-6f);
  }
  CHECK_THROWS_WITH(load_image_folder(root.string(), 0), Contains("mixed sizes") &&
                                                             Contains("small.png is 28x28") &&
                                                             Contains("wide.png is 48x64"));
}

TEST_CASE("image folder errors name the path and the problem", "[data_folder]") {
  TempDir dir;
  const fs::path root = dir.path();
  const std::string missing = (root / "missing").string();
  CHECK_THROWS_WITH(load_image_folder(missing),
                    Contains(missing) && Contains("no such image folder"));
  write_bytes((root / "file.png").string(), {1});
  CHECK_THROWS_WITH(load_image_folder((root / "file.png").string()), Contains("not a directory"));

  fs::create_directories(root / "empty");
  CHECK_THROWS_WITH(load_image_folder((root / "empty").string()),
                    Contains("empty image folder") && Contains(".png"));

  constant_png(root / "loose" / "one.png", 8, 8, 0);
  constant_png(root / "loose" / "two.png", 8, 8, 0);
  CHECK_THROWS_WITH(load_image_folder((root / "loose").string()),
                    Contains("has 2 images but no label subfolders"));

  constant_png(root / "partial" / "cats" / "c.png", 8, 8, 0);
  fs::create_directories(root / "partial" / "dogs");
  write_bytes((root / "partial" / "dogs" / "readme.txt").string(), {'x'});
  CHECK_THROWS_WITH(load_image_folder((root / "partial").string()),
                    Contains("dogs") && Contains("label folder holds no images"));

  constant_png(root / "corrupt" / "ok" / "fine.png", 8, 8, 0);
  const std::string broken = (root / "corrupt" / "ok" / "broken.png").string();
  write_bytes(broken, {0x89, 'P', 'N', 'G', 1, 2, 3, 4, 5});
  CHECK_THROWS_WITH(load_image_folder((root / "corrupt").string()),
                    Contains(broken) && Contains("cannot decode image"));
}

}  // namespace
}  // namespace ldm::data::test
