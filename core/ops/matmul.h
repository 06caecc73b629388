// Dense layers, batched matmul, softmax and scaled dot-product attention.
#pragma once

#include "core/tensor.h"

namespace ldm::ops {

// x [..., K], w [N, K], bias [N] or undefined -> [..., N] = x w^T + bias.
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias);
// a [B, M, K] x b [B, K, N] -> [B, M, N]; rank-2 operands are a batch of one.
Tensor matmul(const Tensor& a, const Tensor& b);
// Softmax over the last dim.
Tensor softmax(const Tensor& x);
// softmax(q k^T * scale) v for q, k, v [..., L, D] (leading dims are batch x heads);
// scale <= 0 means 1/sqrt(D).
Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, double scale = 0.0);

}  // namespace ldm::ops
