// CUDA sinusoidal timestep embedding, embedding lookup and the MSE loss (as
// kernels/cpu/embedding.h). The embedding backward gathers (one thread per table element walks
// the indices in order) and the loss is one block's fixed-order reduction in double, so both
// are deterministic. Device pointers; launches go on `stream`.
#pragma once

#include <cstdint>

#include "kernels/args.h"
#include "kernels/cuda/dialect.h"

namespace ldm::kernels::cuda::inline LDM_CUDA_TARGET {

// t [N] -> out [N, dim] (sin half, then cos half; an odd dim's last column is 0).
void timestep_embedding_forward(const TimestepEmbeddingArgs& a, const float* t, float* out,
                                cudaStream_t stream);
// t [N], dout [N, dim] -> dt [N].
void timestep_embedding_backward(const TimestepEmbeddingArgs& a, const float* t,
                                 const float* dout, float* dt, cudaStream_t stream);

// table [V, D], idx [N] (each in [0, V), checked by the caller) -> out [N, D].
void embedding_forward(const EmbeddingArgs& a, const float* table, const int32_t* idx,
                       float* out, cudaStream_t stream);
// idx [N], dout [N, D] -> dtable [V, D] (overwritten; rows no index hits are zero).
void embedding_backward(const EmbeddingArgs& a, const int32_t* idx, const float* dout,
                        float* dtable, cudaStream_t stream);

// x, y [n] -> loss (one float) = mean((x - y)^2); NaN for n == 0 (the mean of nothing, as the
// CPU kernel and PyTorch), so this launcher runs even then.
void mse_loss_forward(int64_t n, const float* x, const float* y, float* loss,
                      cudaStream_t stream);
// x, y [n], dloss (a device pointer to one float) -> dx = 2 (x - y) dloss / n, dy = -dx; either
// may be nullptr.
void mse_loss_backward(int64_t n, const float* x, const float* y, const float* dloss, float* dx,
                       float* dy, cudaStream_t stream);

}  // namespace ldm::kernels::cuda::inline LDM_CUDA_TARGET
