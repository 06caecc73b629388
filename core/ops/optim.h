// In-place parameter updates: AdamW and EMA. They never go on the autograd tape.
#pragma once

#include "core/tensor.h"
#include "kernels/args.h"

namespace ldm::ops {

// One AdamW step on param with gradient grad and moment buffers m, v (all the same shape);
// hyper.step counts from 1. torch.optim.AdamW semantics.
void adamw_step(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v,
                kernels::AdamWArgs hyper);

// ema = decay * ema + (1 - decay) * param.
void ema_update(const Tensor& ema, const Tensor& param, double decay);

}  // namespace ldm::ops
