// CUDA activations, forward and backward, with the contracts of kernels/cpu/elementwise.h:
// x, y, dy, dx [n]; a backward skips a null dx. Pointers are device pointers (host memory under
// the emulator); launches go on stream.
#pragma once

#include <cstdint>

#include "kernels/args.h"
#include "kernels/cuda/dialect.h"

namespace ldm::kernels::cuda::inline LDM_CUDA_TARGET {

void silu_forward(int64_t n, const float* x, float* y, cudaStream_t stream);
void silu_backward(int64_t n, const float* x, const float* dy, float* dx, cudaStream_t stream);
void tanh_forward(int64_t n, const float* x, float* y, cudaStream_t stream);
// y is the forward output: tanh' = 1 - y^2.
void tanh_backward(int64_t n, const float* y, const float* dy, float* dx, cudaStream_t stream);
// y = clamp(x, min_val, max_val); dx = dy strictly inside the bounds, else 0 (PyTorch's rule).
void hardtanh_forward(const ElementwiseArgs& a, const float* x, float* y, cudaStream_t stream);
void hardtanh_backward(const ElementwiseArgs& a, const float* x, const float* dy, float* dx,
                       cudaStream_t stream);

}  // namespace ldm::kernels::cuda::inline LDM_CUDA_TARGET
