// CUDA adapters for cfg_combine, ddpm_step, ddim_step, adamw_step and ema_update.
#include "kernels/cuda/diffusion.h"

#include "core/backend_cuda/adapter.h"
#include "core/backend_cuda/cuda_ops.h"
#include "kernels/cuda/optim.h"

namespace ldm::cuda_backend::inline LDM_CUDA_TARGET {

namespace k = kernels::cuda;
using kernels::AdamWArgs;
using kernels::CfgCombineArgs;
using kernels::DdimStepArgs;
using kernels::DdpmStepArgs;
using kernels::EmaArgs;

void cfg_combine_forward(const OpCall& c) {
  require_f32(c, "cfg_combine");
  k::cfg_combine_forward(c.args<CfgCombineArgs>(), in_f32(c, 0), out_f32(c, 0), stream());
}
void cfg_combine_backward(const OpCall& c) {
  k::cfg_combine_backward(c.args<CfgCombineArgs>(), in_f32(c, 0), out_f32(c, 0), stream());
}

void ddpm_step_forward(const OpCall& c) {
  require_f32(c, "ddpm_step");
  k::ddpm_step_forward(c.args<DdpmStepArgs>(), in_f32(c, 0), in_f32(c, 1), in_f32(c, 2),
                       out_f32(c, 0), stream());
}
void ddpm_step_backward(const OpCall& c) {
  k::ddpm_step_backward(c.args<DdpmStepArgs>(), in_f32(c, 0), out_f32(c, 0), out_f32(c, 1),
                        out_f32(c, 2), stream());
}

void ddim_step_forward(const OpCall& c) {
  require_f32(c, "ddim_step");
  k::ddim_step_forward(c.args<DdimStepArgs>(), in_f32(c, 0), in_f32(c, 1), in_f32(c, 2),
                       out_f32(c, 0), stream());
}
void ddim_step_backward(const OpCall& c) {
  k::ddim_step_backward(c.args<DdimStepArgs>(), in_f32(c, 0), out_f32(c, 0), out_f32(c, 1),
                        out_f32(c, 2), stream());
}

// in: grad; out: param, exp_avg, exp_avg_sq (updated in place).
void adamw_step_forward(const OpCall& c) {
  require_f32(c, "adamw_step");
  k::adamw_step(c.args<AdamWArgs>(), out_f32(c, 0), in_f32(c, 0), out_f32(c, 1), out_f32(c, 2),
                stream());
}
// in: param; out: ema (updated in place).
void ema_update_forward(const OpCall& c) {
  require_f32(c, "ema_update");
  k::ema_update(c.args<EmaArgs>(), out_f32(c, 0), in_f32(c, 0), stream());
}

}  // namespace ldm::cuda_backend::inline LDM_CUDA_TARGET
