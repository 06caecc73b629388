// The scalar coefficients that the CPU and CUDA kernels of an update derive from its args, in
// one place so that both backends fold the same formulas: computed in double, then rounded to
// the kernel's type once.
#pragma once

#include <algorithm>
#include <cmath>

#include "kernels/args.h"

namespace ldm::kernels {

// The DDIM step of DdimStepArgs folded into x_prev = x * x_t + eps * eps_pred + sigma * noise:
//   x   = sqrt(ab_prev / ab_t),
//   eps = sqrt(max(0, 1 - ab_prev - sigma^2)) - sqrt(ab_prev * (1 - ab_t) / ab_t)
// (the clamp absorbs rounding when sigma^2 is at its eta = 1 maximum).
struct DdimStepCoefs {
  double x, eps;
};

inline DdimStepCoefs ddim_step_coefs(const DdimStepArgs& a) {
  const double ab_t = a.alpha_bar_t, ab_prev = a.alpha_bar_prev;
  const double dir = std::sqrt(std::max(0.0, 1 - ab_prev - a.sigma * a.sigma));
  return {std::sqrt(ab_prev / ab_t), dir - std::sqrt(ab_prev * (1 - ab_t) / ab_t)};
}

// AdamW's per-step scalars as torch.optim.AdamW (1.13 single-tensor path) passes them: Python
// floats, here rounded to T once. step_size = lr / (1 - b1^t), bc2_sqrt = sqrt(1 - b2^t).
template <typename T>
struct AdamWCoefs {
  T decay, b1, one_minus_b1, b2, one_minus_b2, step_size, bc2_sqrt, eps;
};

template <typename T>
AdamWCoefs<T> adamw_coefs(const AdamWArgs& a) {
  const double t = static_cast<double>(a.step);
  return {static_cast<T>(1 - a.lr * a.weight_decay),
          static_cast<T>(a.beta1),
          static_cast<T>(1 - a.beta1),
          static_cast<T>(a.beta2),
          static_cast<T>(1 - a.beta2),
          static_cast<T>(a.lr / (1 - std::pow(a.beta1, t))),
          static_cast<T>(std::sqrt(1 - std::pow(a.beta2, t))),
          static_cast<T>(a.eps)};
}

}  // namespace ldm::kernels
