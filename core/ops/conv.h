// Convolutions on NCHW tensors, PyTorch semantics (square kernels, no dilation or groups).
#pragma once

#include "core/tensor.h"

namespace ldm::ops {

// x [N, C_in, H, W], w [C_out, C_in, K, K], bias [C_out] or undefined -> [N, C_out, H', W'].
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, int64_t stride = 1,
              int64_t padding = 0);

// x [N, C_in, H, W], w [C_in, C_out, K, K], bias [C_out] or undefined
// -> [N, C_out, (H - 1) * stride - 2 * padding + K, ...].
Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& bias, int64_t stride = 2,
                        int64_t padding = 1);

}  // namespace ldm::ops
