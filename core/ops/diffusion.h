// Sampler building blocks: classifier-free-guidance combine and the DDPM / DDIM updates.
// They are differentiable (all linear), which the gradient checks exercise.
#pragma once

#include "core/tensor.h"
#include "kernels/args.h"

namespace ldm::ops {

// eps_both [2N, ...]: the conditional predictions, then the unconditional ones (one batched
// U-Net pass). Returns eps_u + scale * (eps_c - eps_u), [N, ...].
Tensor cfg_combine(const Tensor& eps_both, double scale);

// x_prev = coef_x * x_t - coef_eps * eps + sigma * noise (see kernels::DdpmStepArgs; n is
// filled in here). noise may be undefined when sigma == 0 (the last step).
Tensor ddpm_step(const Tensor& x_t, const Tensor& eps, const Tensor& noise,
                 kernels::DdpmStepArgs coefficients);

// One DDIM step (see kernels::DdimStepArgs); noise may be undefined when sigma == 0.
Tensor ddim_step(const Tensor& x_t, const Tensor& eps, const Tensor& noise,
                 kernels::DdimStepArgs coefficients);

}  // namespace ldm::ops
