// CUDA group normalization (PyTorch GroupNorm semantics, as kernels/cpu/norm.h): one block per
// (sample, group) reduces mean and variance with warp shuffles and a shared-memory tree, in a
// fixed order, so results are deterministic. Device pointers; launches go on `stream`.
#pragma once

#include "kernels/args.h"
#include "kernels/cuda/dialect.h"

namespace ldm::kernels::cuda::inline LDM_CUDA_TARGET {

// x, y [N, C, HW]; gamma, beta [C] (nullptr means gamma = 1, beta = 0); mean, rstd
// [N, groups] are saved for the backward (either may be nullptr).
void group_norm_forward(const GroupNormArgs& a, const float* x, const float* gamma,
                        const float* beta, float* y, float* mean, float* rstd,
                        cudaStream_t stream);

// x, dy, dx [N, C, HW]; gamma [C] (nullptr means 1); mean, rstd [N, groups] from the forward;
// dgamma, dbeta [C] summed over N and HW. Any of dx, dgamma, dbeta may be nullptr.
void group_norm_backward(const GroupNormArgs& a, const float* x, const float* gamma,
                         const float* mean, const float* rstd, const float* dy, float* dx,
                         float* dgamma, float* dbeta, cudaStream_t stream);

}  // namespace ldm::kernels::cuda::inline LDM_CUDA_TARGET
