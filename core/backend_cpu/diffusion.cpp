// CPU adapters for cfg_combine, ddpm_step, ddim_step, adamw_step and ema_update.
#include "kernels/cpu/diffusion.h"

#include "core/backend_cpu/adapter.h"
#include "core/backend_cpu/cpu_ops.h"
#include "kernels/cpu/optim.h"

namespace ldm::cpu_backend {

using kernels::AdamWArgs;
using kernels::CfgCombineArgs;
using kernels::DdimStepArgs;
using kernels::DdpmStepArgs;
using kernels::EmaArgs;
namespace k = kernels::cpu;

void cfg_combine_forward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    k::cfg_combine_forward<T>(c.args<CfgCombineArgs>(), in_ptr<T>(c, 0), out_ptr<T>(c, 0));
  });
}
void cfg_combine_backward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    k::cfg_combine_backward<T>(c.args<CfgCombineArgs>(), in_ptr<T>(c, 0), out_ptr<T>(c, 0));
  });
}

void ddpm_step_forward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    k::ddpm_step_forward<T>(c.args<DdpmStepArgs>(), in_ptr<T>(c, 0), in_ptr<T>(c, 1),
                            in_ptr<T>(c, 2), out_ptr<T>(c, 0));
  });
}
void ddpm_step_backward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    k::ddpm_step_backward<T>(c.args<DdpmStepArgs>(), in_ptr<T>(c, 0), out_ptr<T>(c, 0),
                             out_ptr<T>(c, 1), out_ptr<T>(c, 2));
  });
}

void ddim_step_forward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    k::ddim_step_forward<T>(c.args<DdimStepArgs>(), in_ptr<T>(c, 0), in_ptr<T>(c, 1),
                            in_ptr<T>(c, 2), out_ptr<T>(c, 0));
  });
}
void ddim_step_backward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    k::ddim_step_backward<T>(c.args<DdimStepArgs>(), in_ptr<T>(c, 0), out_ptr<T>(c, 0),
                             out_ptr<T>(c, 1), out_ptr<T>(c, 2));
  });
}

void adamw_step_forward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    k::adamw_step<T>(c.args<AdamWArgs>(), out_ptr<T>(c, 0), in_ptr<T>(c, 0), out_ptr<T>(c, 1),
                     out_ptr<T>(c, 2));
  });
}

void ema_update_forward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    k::ema_update<T>(c.args<EmaArgs>(), out_ptr<T>(c, 0), in_ptr<T>(c, 0));
  });
}

}  // namespace ldm::cpu_backend
