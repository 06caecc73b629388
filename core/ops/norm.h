// Group normalization, PyTorch semantics.
#pragma once

#include "core/tensor.h"

namespace ldm::ops {

// x [N, C, H, W] (or [N, C]), gamma/beta [C]; C divisible by groups.
Tensor group_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, int64_t groups,
                  double eps = 1e-5);

}  // namespace ldm::ops
