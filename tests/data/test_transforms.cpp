// Transforms: the uint8 -> [-1, 1] mapping and its inverse, the bilinear resize against the
// align_corners=False formula evaluated in double, and the box pre-shrink for large images.
#include <cmath>
#include <limits>

#include "data/transforms.h"
#include "data_test_util.h"

namespace ldm::data::test {
namespace {

using Catch::Matchers::Contains;

// PyTorch's upsample_bilinear2d with align_corners=False, in double for one [H, W] plane,
// except the scale in/out, which PyTorch (and our kernel) compute in float: in double, a
// 40 -> 9 resize would differ by 1e-6 for that reason alone.
std::vector<double> bilinear_reference(const std::vector<double>& x, int64_t H, int64_t W,
                                       int64_t H_out, int64_t W_out) {
  const auto taps = [](int64_t out, int64_t in, int64_t i, int64_t& i0, int64_t& i1, double& l1) {
    const double scale = static_cast<float>(in) / static_cast<float>(out);
    const double src = std::max(0.0, (static_cast<double>(i) + 0.5) * scale - 0.5);
    i0 = std::min(static_cast<int64_t>(src), in - 1);
    i1 = std::min(i0 + 1, in - 1);
    l1 = src - static_cast<double>(i0);
  };
  std::vector<double> y(static_cast<size_t>(H_out * W_out));
  for (int64_t oy = 0; oy < H_out; ++oy)
    for (int64_t ox = 0; ox < W_out; ++ox) {
      int64_t y0, y1, x0, x1;
      double ly, lx;
      taps(H_out, H, oy, y0, y1, ly);
      taps(W_out, W, ox, x0, x1, lx);
      const auto at = [&](int64_t r, int64_t c) { return x[static_cast<size_t>(r * W + c)]; };
      y[static_cast<size_t>(oy * W_out + ox)] =
          (1 - ly) * ((1 - lx) * at(y0, x0) + lx * at(y0, x1)) +
          ly * ((1 - lx) * at(y1, x0) + lx * at(y1, x1));
    }
  return y;
}

TEST_CASE("uint8 pixels map to [-1, 1] exactly at the ends and back without loss",
          "[data_transforms]") {
  std::vector<uint8_t> all(256);
  for (int i = 0; i < 256; ++i) all[static_cast<size_t>(i)] = static_cast<uint8_t>(i);
  const Tensor x = prepare_images(all, 1, 16, 16, 0);
  REQUIRE(x.shape() == Shape{1, 1, 16, 16});
  const float* p = x.data<float>();
  CHECK(p[0] == -1.0f);
  CHECK(p[255] == 1.0f);
  for (int i = 1; i < 256; ++i) CHECK(p[i] > p[i - 1]);
  CHECK(to_u8(x) == all);

  const Tensor unit = u8_to_unit(all, {256});
  for (int i = 0; i < 256; ++i) CHECK(unit.data<float>()[i] == static_cast<float>(i) / 255.0f);
}

TEST_CASE("to_u8 clamps, rounds and checks i32 images", "[data_transforms]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const Tensor f = Tensor::from_vector<float>({-1.0f, 1.0f, 0.0f, -3.0f, 7.0f, nan, -0.999f}, {7});
  CHECK(to_u8(f) == std::vector<uint8_t>{0, 255, 128, 0, 255, 128, 0});
  CHECK(to_u8(f.to(DType::kF64)) == to_u8(f));
  CHECK(to_u8(Tensor::from_vector<int32_t>({0, 17, 255}, {3})) == std::vector<uint8_t>{0, 17, 255});
  CHECK_THROWS_WITH(to_u8(Tensor::from_vector<int32_t>({0, 256}, {2})),
                    Contains("0..255") && Contains("256"));
}

TEST_CASE("28 -> 32 resize matches the align_corners=False formula", "[data_transforms]") {
  const int64_t N = 3, H = 28, W = 28, S = 32;
  const std::vector<uint8_t> pixels = ramp(static_cast<size_t>(N * H * W));
  const Tensor y = prepare_images(pixels, N, H, W, S);
  REQUIRE(y.shape() == Shape{N, 1, S, S});
  const float* p = y.data<float>();
  double max_diff = 0;
  for (int64_t n = 0; n < N; ++n) {
    std::vector<double> plane(static_cast<size_t>(H * W));
    for (int64_t i = 0; i < H * W; ++i)
      plane[static_cast<size_t>(i)] = pixels[static_cast<size_t>(n * H * W + i)] / 255.0;
    const std::vector<double> ref = bilinear_reference(plane, H, W, S, S);
    for (int64_t i = 0; i < S * S; ++i)
      max_diff =
          std::max(max_diff, std::abs(p[n * S * S + i] - (2 * ref[static_cast<size_t>(i)] - 1)));
  }
  // float rounding of a 4-tap blend of values <= 1, then 2x - 1.
  CHECK(max_diff < 1e-6);

  // Downscaling and non-square targets use the same formula.
  const Tensor x = u8_to_unit(ramp(40 * 30), {1, 1, 40, 30});
  const Tensor small = resize_images(x, 9, 13);
  const std::vector<float> values = x.to_vector<float>();
  const std::vector<double> plane(values.begin(), values.end());
  const std::vector<double> ref = bilinear_reference(plane, 40, 30, 9, 13);
  for (int64_t i = 0; i < 9 * 13; ++i)
    CHECK(std::abs(small.data<float>()[i] - ref[static_cast<size_t>(i)]) < 1e-6);
}

TEST_CASE("resize_images leaves matching sizes alone and keeps constants constant",
          "[data_transforms]") {
  const Tensor x = Tensor::full({2, 1, 28, 28}, 0.25);
  const Tensor same = resize_images(x, 28, 28);
  CHECK(same.raw_data() == x.raw_data());
  const Tensor up = resize_images(x, 32, 32);
  for (float v : up.to_vector<float>()) CHECK(v == 0.25f);
  CHECK_THROWS_WITH(resize_images(Tensor::zeros({28, 28}), 32, 32), Contains("[N, C, H, W]"));
}

TEST_CASE("box_halve_until halves each axis while it stays twice the target", "[data_transforms]") {
  int64_t H = 128, W = 101;
  std::vector<float> checker(static_cast<size_t>(H * W));
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x)
      checker[static_cast<size_t>(y * W + x)] = static_cast<float>((x + y) % 2);
  const std::vector<float> out = box_halve_until(checker, H, W, 32, 32);
  // H: 128 -> 64 -> 32; W: 101 -> 50 (the odd last column is dropped), then 50 < 64.
  CHECK(H == 32);
  CHECK(W == 50);
  REQUIRE(out.size() == 32 * 50);
  for (float v : out) CHECK(v == 0.5f);  // the checkerboard averages out instead of aliasing

  int64_t h = 40, w = 40;
  const std::vector<float> untouched =
      box_halve_until(std::vector<float>(1600, 0.3f), h, w, 32, 32);
  CHECK(h == 40);
  CHECK(w == 40);
  CHECK(untouched.size() == 1600);
}

}  // namespace
}  // namespace ldm::data::test
