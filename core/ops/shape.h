// Ops that move data without arithmetic on it (concat, slice, permute) or resample it spatially.
#pragma once

#include <initializer_list>
#include <span>

#include "core/tensor.h"

namespace ldm::ops {

// Joins tensors along `dim`; all other dims must agree.
Tensor concat(std::span<const Tensor> tensors, int dim);
// x[..., start:end, ...] along `dim` (a copy).
Tensor slice(const Tensor& x, int dim, int64_t start, int64_t end);
// out.shape[k] = x.shape[order[k]], like torch.permute, but the result is contiguous (a copy).
// Rank 1..6; `order` is a permutation of 0..rank-1, e.g. {0, 2, 1} turns [N, C, L] into tokens
// [N, L, C].
Tensor permute(const Tensor& x, std::span<const int> order);
inline Tensor permute(const Tensor& x, std::initializer_list<int> order) {
  return permute(x, std::span<const int>(order.begin(), order.size()));
}
// x [N, C, H, W] -> [N, C, H * factor, W * factor], each pixel repeated.
Tensor upsample_nearest(const Tensor& x, int64_t factor = 2);
// x [N, C, H, W] -> [N, C, H_out, W_out], bilinear as interpolate(align_corners=False).
Tensor resize_bilinear(const Tensor& x, int64_t H_out, int64_t W_out);

}  // namespace ldm::ops
