// CPU linear layers, batched matmul, softmax and scaled dot-product self-attention. The large
// GEMMs go to OpenBLAS; attention heads are small (L <= 64), so each head runs as direct loops
// on one core and heads are spread across cores, which beats a gemm call per head.
#pragma once

#include "kernels/args.h"

namespace ldm::kernels::cpu {

// y[M, N] = x[M, K] w[N, K]^T + bias[N]. bias may be nullptr (a.has_bias is not consulted;
// the pointer decides). a.batch must be 1.
template <typename T>
void linear_forward(const MatmulArgs& a, const T* x, const T* w, const T* bias, T* y);

// x [M, K], w [N, K], dy [M, N] -> dx [M, K], dw [N, K], db [N]; any output may be nullptr.
template <typename T>
void linear_backward(const MatmulArgs& a, const T* x, const T* w, const T* dy, T* dx, T* dw,
                     T* db);

// out[B, M, N] = x[B, M, K] y[B, K, N], B = a.batch.
template <typename T>
void matmul_forward(const MatmulArgs& a, const T* x, const T* y, T* out);

// x [B, M, K], y [B, K, N], dout [B, M, N] -> dx [B, M, K], dy [B, K, N]; either may be nullptr.
template <typename T>
void matmul_backward(const MatmulArgs& a, const T* x, const T* y, const T* dout, T* dx, T* dy);

// y[rows, cols] = softmax of x over the last dim (max-subtracted, so no overflow); y may be x.
template <typename T>
void softmax_forward(const SoftmaxArgs& a, const T* x, T* y);

// y, dy [rows, cols] -> dx [rows, cols] = y * (dy - sum(y * dy)) per row; dx may be dy.
template <typename T>
void softmax_backward(const SoftmaxArgs& a, const T* y, const T* dy, T* dx);

// q, k, v [BH, L, D] -> out [BH, L, D] = probs v, probs [BH, L, L] = softmax(q k^T * scale).
// probs is an output and must be kept for attention_backward.
template <typename T>
void attention_forward(const AttentionArgs& a, const T* q, const T* k, const T* v, T* out,
                       T* probs);

// q, k, v, dout [BH, L, D], probs [BH, L, L] from attention_forward -> dq, dk, dv [BH, L, D];
// any gradient may be nullptr.
template <typename T>
void attention_backward(const AttentionArgs& a, const T* q, const T* k, const T* v,
                        const T* probs, const T* dout, T* dq, T* dk, T* dv);

}  // namespace ldm::kernels::cpu
