// Transforms on host tensors. These run once per dataset load, so plain loops suffice; only the
// resize goes through the op layer, to share its PyTorch-exact kernel.
#include "data/transforms.h"

#include <algorithm>
#include <cmath>

#include "core/autograd.h"
#include "core/ops/shape.h"

namespace ldm::data {

Tensor u8_to_unit(std::span<const uint8_t> pixels, const Shape& shape) {
  LDM_CHECK(static_cast<int64_t>(pixels.size()) == shape_numel(shape),
            "u8_to_unit: ", pixels.size(), " pixels for shape ", shape_str(shape));
  Tensor out = Tensor::empty(shape, DType::kF32, Device::cpu());
  float* p = out.data<float>();
  for (size_t i = 0; i < pixels.size(); ++i) p[i] = static_cast<float>(pixels[i]) / 255.0f;
  return out;
}

Tensor resize_images(const Tensor& x, int64_t H_out, int64_t W_out) {
  if (x.rank() != 4) fail("resize_images: expected [N, C, H, W], got ", x.description());
  if (x.dim(2) == H_out && x.dim(3) == W_out) return x;
  NoGradGuard no_grad;
  return ops::resize_bilinear(x, H_out, W_out);
}

void unit_to_signed(Tensor& x) {
  LDM_CHECK(x.dtype() == DType::kF32, "unit_to_signed on ", x.description());
  float* p = x.data<float>();
  const int64_t n = x.numel();
  for (int64_t i = 0; i < n; ++i) p[i] = p[i] * 2.0f - 1.0f;
}

Tensor prepare_images(std::span<const uint8_t> pixels, int64_t N, int64_t H, int64_t W,
                      int64_t size) {
  Tensor x = u8_to_unit(pixels, {N, 1, H, W});
  if (size > 0) x = resize_images(x, size, size);
  unit_to_signed(x);
  return x;
}

std::vector<float> box_halve_until(std::vector<float> pixels, int64_t& H, int64_t& W,
                                   int64_t H_target, int64_t W_target) {
  LDM_CHECK(static_cast<int64_t>(pixels.size()) == H * W, "box_halve_until: size mismatch");
  while (H >= 2 * H_target || W >= 2 * W_target) {
    const int64_t fy = H >= 2 * H_target ? 2 : 1, fx = W >= 2 * W_target ? 2 : 1;
    const int64_t H2 = H / fy, W2 = W / fx;
    const float scale = 1.0f / static_cast<float>(fy * fx);
    std::vector<float> out(static_cast<size_t>(H2 * W2));
    for (int64_t y = 0; y < H2; ++y)
      for (int64_t x = 0; x < W2; ++x) {
        float sum = 0;
        for (int64_t dy = 0; dy < fy; ++dy)
          for (int64_t dx = 0; dx < fx; ++dx)
            sum += pixels[static_cast<size_t>((y * fy + dy) * W + x * fx + dx)];
        out[static_cast<size_t>(y * W2 + x)] = sum * scale;
      }
    pixels = std::move(out);
    H = H2;
    W = W2;
  }
  return pixels;
}

std::vector<uint8_t> to_u8(const Tensor& image) {
  const Tensor x = image.to(Device::cpu());
  const int64_t n = x.numel();
  std::vector<uint8_t> out(static_cast<size_t>(n));
  const auto convert = [&]<typename T>(const T* p) {
    for (int64_t i = 0; i < n; ++i) {
      const double v = static_cast<double>(p[i]);
      const double scaled = std::isnan(v) ? 127.5 : (std::clamp(v, -1.0, 1.0) + 1.0) * 127.5;
      out[static_cast<size_t>(i)] = static_cast<uint8_t>(std::floor(scaled + 0.5));
    }
  };
  switch (x.dtype()) {
    case DType::kF32:
      convert(x.data<float>());
      break;
    case DType::kF64:
      convert(x.data<double>());
      break;
    case DType::kI32: {
      const int32_t* p = x.data<int32_t>();
      for (int64_t i = 0; i < n; ++i) {
        if (p[i] < 0 || p[i] > 255)
          fail("to_u8: an i32 image must hold 0..255, found ", p[i], " at element ", i);
        out[static_cast<size_t>(i)] = static_cast<uint8_t>(p[i]);
      }
      break;
    }
    default:
      fail("to_u8: unsupported dtype ", dtype_name(x.dtype()));
  }
  return out;
}

}  // namespace ldm::data
