// CUDA parameter updates: the AdamW step and the EMA of the weights, each one fused pass over
// the parameter vector (the formulas of kernels/cpu/optim.h, torch.optim.AdamW's single-tensor
// path). Pointers are device pointers (host memory under the emulator); launches go on stream.
#pragma once

#include "kernels/args.h"
#include "kernels/cuda/dialect.h"

namespace ldm::kernels::cuda::inline LDM_CUDA_TARGET {

// param, grad, m, v [n]; updates param, m and v in place.
void adamw_step(const AdamWArgs& a, float* param, const float* grad, float* m, float* v,
                cudaStream_t stream);

// ema, param [n]: ema = decay * ema + (1 - decay) * param, in place.
void ema_update(const EmaArgs& a, float* ema, const float* param, cudaStream_t stream);

}  // namespace ldm::kernels::cuda::inline LDM_CUDA_TARGET
