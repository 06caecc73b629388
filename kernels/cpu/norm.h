// CPU group normalization (PyTorch GroupNorm semantics: biased variance,
// rstd = 1 / sqrt(var + eps), per-channel affine gamma/beta).
#pragma once

#include <cstdint>

#include "kernels/args.h"

namespace ldm::kernels::cpu {

// x, y [N, C, HW]; gamma, beta [C] (nullptr means gamma = 1, beta = 0); mean, rstd
// [N, groups] are saved for the backward (either may be nullptr when no backward will run).
template <typename T>
void group_norm_forward(const GroupNormArgs& a, const T* x, const T* gamma, const T* beta, T* y,
                        T* mean, T* rstd);

// x, dy, dx [N, C, HW]; gamma [C] (nullptr means 1); mean, rstd [N, groups] from the forward;
// dgamma, dbeta [C] summed over N and HW. Any of dx, dgamma, dbeta may be nullptr.
template <typename T>
void group_norm_backward(const GroupNormArgs& a, const T* x, const T* gamma, const T* mean,
                         const T* rstd, const T* dy, T* dx, T* dgamma, T* dbeta);

}  // namespace ldm::kernels::cpu
