// CPU parameter updates that never appear on the autograd tape: the AdamW step and the EMA of
// the weights. Both are one fused, memory-bound pass over the parameter vector.
#pragma once

#include "kernels/args.h"

namespace ldm::kernels::cpu {

// param, grad, m, v [n]; updates param, m, v in place exactly as torch.optim.AdamW (1.13
// single-tensor path, amsgrad and maximize off) with t = a.step >= 1:
//   param *= 1 - lr * wd;  m = b1 * m + (1 - b1) * g;  v = b2 * v + (1 - b2) * g * g;
//   param -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
// Scalar coefficients are computed in double and rounded to T once, as torch does.
template <typename T>
void adamw_step(const AdamWArgs& a, T* param, const T* grad, T* m, T* v);

// ema, param [n]: ema = decay * ema + (1 - decay) * param, in place.
template <typename T>
void ema_update(const EmaArgs& a, T* ema, const T* param);

}  // namespace ldm::kernels::cpu
