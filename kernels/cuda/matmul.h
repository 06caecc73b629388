// CUDA linear layers, batched matmul, softmax and fused scaled dot-product attention (as
// kernels/cpu/matmul.h). The GEMMs are shared-memory tiled with a register micro-tile per
// thread; attention fuses q k^T, the softmax and probs v for one (head, query block) per block,
// which suits the short sequences here (L <= 256). Every reduction runs in a fixed order: no
// float atomics. Device pointers; launches go on `stream`.
#pragma once

#include "kernels/args.h"
#include "kernels/cuda/dialect.h"

namespace ldm::kernels::cuda::inline LDM_CUDA_TARGET {

// y[M, N] = x[M, K] w[N, K]^T + bias[N]; bias may be nullptr. a.batch must be 1.
void linear_forward(const MatmulArgs& a, const float* x, const float* w, const float* bias,
                    float* y, cudaStream_t stream);
// x [M, K], w [N, K], dy [M, N] -> dx [M, K], dw [N, K], db [N]; any output may be nullptr.
void linear_backward(const MatmulArgs& a, const float* x, const float* w, const float* dy,
                     float* dx, float* dw, float* db, cudaStream_t stream);

// out[B, M, N] = x[B, M, K] y[B, K, N], B = a.batch.
void matmul_forward(const MatmulArgs& a, const float* x, const float* y, float* out,
                    cudaStream_t stream);
// x [B, M, K], y [B, K, N], dout [B, M, N] -> dx [B, M, K], dy [B, K, N]; either may be nullptr.
void matmul_backward(const MatmulArgs& a, const float* x, const float* y, const float* dout,
                     float* dx, float* dy, cudaStream_t stream);

// y[rows, cols] = softmax of x over the last dim (max-subtracted); y may be x.
void softmax_forward(const SoftmaxArgs& a, const float* x, float* y, cudaStream_t stream);
// y, dy [rows, cols] -> dx = y * (dy - sum(y * dy)) per row; dx may be dy.
void softmax_backward(const SoftmaxArgs& a, const float* y, const float* dy, float* dx,
                      cudaStream_t stream);

// q, k, v [BH, L, D] -> out [BH, L, D] = probs v, probs [BH, L, L] = softmax(q k^T * scale);
// probs is kept for attention_backward. Fused for D <= 128 and L <= 256; larger heads run
// q k^T, the softmax and probs v as separate passes through probs (no scratch either way).
void attention_forward(const AttentionArgs& a, const float* q, const float* k, const float* v,
                       float* out, float* probs, cudaStream_t stream);
// q, k, v, dout [BH, L, D], probs [BH, L, L] -> dq, dk, dv [BH, L, D]; any may be nullptr.
// Fused at any L for D <= 128; wider heads take slow unfused kernels (no scratch either way).
void attention_backward(const AttentionArgs& a, const float* q, const float* k, const float* v,
                        const float* probs, const float* dout, float* dq, float* dk, float* dv,
                        cudaStream_t stream);

}  // namespace ldm::kernels::cuda::inline LDM_CUDA_TARGET
