// Ops that move data without arithmetic on it (concat, slice) or resample it spatially.
#pragma once

#include <span>

#include "core/tensor.h"

namespace ldm::ops {

// Joins tensors along `dim`; all other dims must agree.
Tensor concat(std::span<const Tensor> tensors, int dim);
// x[..., start:end, ...] along `dim` (a copy).
Tensor slice(const Tensor& x, int dim, int64_t start, int64_t end);
// x [N, C, H, W] -> [N, C, H * factor, W * factor], each pixel repeated.
Tensor upsample_nearest(const Tensor& x, int64_t factor = 2);
// x [N, C, H, W] -> [N, C, H_out, W_out], bilinear as interpolate(align_corners=False).
Tensor resize_bilinear(const Tensor& x, int64_t H_out, int64_t W_out);

}  // namespace ldm::ops
