// CUDA sampler kernels: classifier-free guidance combine and one DDPM / DDIM update step, each
// forward and backward, plus the sampler's fused step (CFG combine and update in one pass).
// The formulas are those of kernels/cpu/diffusion.h: coefficients are computed on the host in
// double and rounded to float once, so the emulated kernels match the CPU ones bitwise.
// Pointers are device pointers (host memory under the emulator); launches go on `stream`.
#pragma once

#include "kernels/args.h"
#include "kernels/cuda/dialect.h"

namespace ldm::kernels::cuda::inline LDM_CUDA_TARGET {

void cfg_combine_forward(const CfgCombineArgs& a, const float* eps_both, float* out,
                         cudaStream_t stream);
void cfg_combine_backward(const CfgCombineArgs& a, const float* dout, float* deps_both,
                          cudaStream_t stream);

void ddpm_step_forward(const DdpmStepArgs& a, const float* x_t, const float* eps,
                       const float* noise, float* x_prev, cudaStream_t stream);
void ddpm_step_backward(const DdpmStepArgs& a, const float* dout, float* dx_t, float* deps,
                        float* dnoise, cudaStream_t stream);

void ddim_step_forward(const DdimStepArgs& a, const float* x_t, const float* eps,
                       const float* noise, float* x_prev, cudaStream_t stream);
void ddim_step_backward(const DdimStepArgs& a, const float* dout, float* dx_t, float* deps,
                        float* dnoise, cudaStream_t stream);

// The sampler's step with guidance folded in: eps = eps_u + scale * (eps_c - eps_u) from
// eps_both [2n] (conditional half first), then the DDPM or DDIM update, without writing eps.
// cfg.n must equal the step's n.
void ddpm_step_cfg_forward(const CfgCombineArgs& cfg, const DdpmStepArgs& a, const float* x_t,
                           const float* eps_both, const float* noise, float* x_prev,
                           cudaStream_t stream);
void ddim_step_cfg_forward(const CfgCombineArgs& cfg, const DdimStepArgs& a, const float* x_t,
                           const float* eps_both, const float* noise, float* x_prev,
                           cudaStream_t stream);

}  // namespace ldm::kernels::cuda::inline LDM_CUDA_TARGET
