// Elementwise ops: activations, scaling, and broadcasting add/mul.
#pragma once

#include "core/tensor.h"

namespace ldm::ops {

Tensor silu(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor hardtanh(const Tensor& x, double min_val = -1.0, double max_val = 1.0);
Tensor scale(const Tensor& x, double alpha);  // alpha * x

// Broadcasting as in NumPy: shapes are aligned at the right, and each dim of a and b equals the
// result's or is 1 (e.g. [N, C, H, W] + [N, C, 1, 1]).
Tensor add(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);  // add(a, scale(b, -1))

}  // namespace ldm::ops
