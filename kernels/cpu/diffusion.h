// CPU sampler kernels: classifier-free guidance combine and one DDPM / DDIM update step. All are
// linear in their inputs, so each backward is its forward's coefficients applied to dout.
#pragma once

#include "kernels/args.h"

namespace ldm::kernels::cpu {

// eps_both [2n] (conditional half, then unconditional half) -> out [n] =
// eps_u + scale * (eps_c - eps_u).
template <typename T>
void cfg_combine_forward(const CfgCombineArgs& a, const T* eps_both, T* out);

// dout [n] -> deps_both [2n] = [scale * dout, (1 - scale) * dout]; deps_both may be nullptr.
template <typename T>
void cfg_combine_backward(const CfgCombineArgs& a, const T* dout, T* deps_both);

// x_t, eps, noise [n] -> x_prev [n] = coef_x * x_t - coef_eps * eps + sigma * noise. noise is
// not read when sigma == 0 or noise is nullptr (then it counts as zero).
template <typename T>
void ddpm_step_forward(const DdpmStepArgs& a, const T* x_t, const T* eps, const T* noise,
                       T* x_prev);

// dout [n] -> dx_t = coef_x * dout, deps = -coef_eps * dout, dnoise = sigma * dout [n]; any
// output may be nullptr.
template <typename T>
void ddpm_step_backward(const DdpmStepArgs& a, const T* dout, T* dx_t, T* deps, T* dnoise);

// x_t, eps, noise [n] -> x_prev [n], the DDIM step of kernels/args.h folded into
//   x_prev = c_x * x_t + c_eps * eps + sigma * noise,
//   c_x   = sqrt(ab_prev / ab_t),
//   c_eps = sqrt(max(0, 1 - ab_prev - sigma^2)) - sqrt(ab_prev * (1 - ab_t) / ab_t),
// coefficients computed once in double (the clamp absorbs rounding when sigma^2 is at its
// eta = 1 maximum). noise is not read when sigma == 0 or noise is nullptr (counts as zero).
template <typename T>
void ddim_step_forward(const DdimStepArgs& a, const T* x_t, const T* eps, const T* noise,
                       T* x_prev);

// dout [n] -> dx_t = c_x * dout, deps = c_eps * dout, dnoise = sigma * dout [n]; any output may
// be nullptr.
template <typename T>
void ddim_step_backward(const DdimStepArgs& a, const T* dout, T* dx_t, T* deps, T* dnoise);

}  // namespace ldm::kernels::cpu
