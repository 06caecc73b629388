// Pixel transforms shared by the loaders and the writers: uint8 -> [0, 1] -> resized -> [-1, 1]
// on the way in, [-1, 1] -> uint8 on the way out.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/tensor.h"

namespace ldm::data {

// pixels (row-major, `shape`) -> f32 tensor of value / 255, exactly as torch's
// `t.float() / 255` rounds it.
Tensor u8_to_unit(std::span<const uint8_t> pixels, const Shape& shape);

// x [N, C, H, W] -> [N, C, H_out, W_out] by ops::resize_bilinear (PyTorch's
// interpolate(mode="bilinear", align_corners=False), no antialiasing); returns x itself when
// the size already matches. Never recorded on the autograd tape.
Tensor resize_images(const Tensor& x, int64_t H_out, int64_t W_out);

// In place: x -> 2x - 1, mapping [0, 1] to [-1, 1].
void unit_to_signed(Tensor& x);

// The whole MedMNIST pipeline: uint8 [N, H, W] -> f32 [N, 1, size, size] in [-1, 1]. The
// order (divide, resize, then scale) is the one the PyTorch reference uses, so results agree
// to float rounding. size <= 0 keeps H x W.
Tensor prepare_images(std::span<const uint8_t> pixels, int64_t N, int64_t H, int64_t W,
                      int64_t size);

// Bilinear interpolation without antialiasing aliases badly when shrinking by more than 2x
// (a 1024-pixel X-ray to 32). Before such a resize, this averages 2x2 (or 2x1) blocks while
// each axis stays at least twice its target, like a mipmap: [H, W] floats in, smaller out,
// with H and W updated. An odd last row or column is dropped.
std::vector<float> box_halve_until(std::vector<float> pixels, int64_t& H, int64_t& W,
                                   int64_t H_target, int64_t W_target);

// Floating tensors are taken as [-1, 1] (clamped; NaN -> mid grey) and mapped to
// round((x+1)*127.5); i32 tensors must already hold 0..255. Any shape; the bytes follow the
// tensor's order.
std::vector<uint8_t> to_u8(const Tensor& x);

}  // namespace ldm::data
