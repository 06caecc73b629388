// CUDA conv2d and conv_transpose2d (NCHW, PyTorch semantics, as kernels/cpu/conv.h): tiled
// implicit GEMM with shared-memory tiles of the input patches and the filters, for any kernel
// size, stride and padding (the models use k1/k3/k4, s1/s2). Backward passes are implicit GEMMs
// too (dx as a gather over the output gradient, dw as a reduction over N x H x W in a fixed
// order), so results are deterministic: no float atomics. Index math is 32-bit: every tensor
// must have fewer than 2^31 elements. Pointers are device pointers (host memory under the
// emulator); launches go on `stream`.
#pragma once

#include "kernels/args.h"
#include "kernels/cuda/dialect.h"

namespace ldm::kernels::cuda::inline LDM_CUDA_TARGET {

// x [N, C_in, H_in, W_in], w [C_out, C_in, K, K], bias [C_out] or nullptr
// -> y [N, C_out, H_out, W_out]. The bias pointer decides whether a bias is added.
void conv2d_forward(const Conv2dArgs& a, const float* x, const float* w, const float* bias,
                    float* y, cudaStream_t stream);

// x, w as above, dy [N, C_out, H_out, W_out] -> dx [N, C_in, H_in, W_in], dw [C_out, C_in, K, K],
// db [C_out]. Outputs are overwritten; any of them may be nullptr (not computed).
void conv2d_backward(const Conv2dArgs& a, const float* x, const float* w, const float* dy,
                     float* dx, float* dw, float* db, cudaStream_t stream);

// x [N, C_in, H_in, W_in], w [C_in, C_out, K, K], bias [C_out] or nullptr
// -> y [N, C_out, H_out, W_out], H_out = (H_in - 1) * s - 2p + K. The adjoint of conv2d.
void conv_transpose2d_forward(const Conv2dArgs& a, const float* x, const float* w,
                              const float* bias, float* y, cudaStream_t stream);

// x, w as above, dy [N, C_out, H_out, W_out] -> dx [N, C_in, H_in, W_in], dw [C_in, C_out, K, K],
// db [C_out]. Outputs are overwritten; any of them may be nullptr (not computed).
void conv_transpose2d_backward(const Conv2dArgs& a, const float* x, const float* w,
                               const float* dy, float* dx, float* dw, float* db,
                               cudaStream_t stream);

}  // namespace ldm::kernels::cuda::inline LDM_CUDA_TARGET
