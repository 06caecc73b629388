// adamw_step and ema_update wrappers. Backend calls (in -> out, out updated in place):
//   adamw_step  {grad} -> {param, m, v}
//   ema_update  {param} -> {ema}
#include "core/ops/optim.h"

#include "core/dispatch.h"
#include "core/ops/op_check.h"

namespace ldm::ops {

void adamw_step(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v,
                kernels::AdamWArgs hyper) {
  OpCheck check(OpKind::kAdamwStep, {{"param", &param}, {"grad", &grad}, {"m", &m}, {"v", &v}});
  check.require(param.defined() && grad.defined() && m.defined() && v.defined(),
                "param, grad, m and v are all required");
  check.same_floating();
  check.require(grad.shape() == param.shape() && m.shape() == param.shape() &&
                    v.shape() == param.shape(),
                "param, grad, m and v must have one shape");
  check.require(hyper.step >= 1, "step counts from 1, got ", hyper.step);
  check.require(hyper.lr >= 0 && hyper.eps > 0 && hyper.beta1 >= 0 && hyper.beta1 < 1 &&
                    hyper.beta2 >= 0 && hyper.beta2 < 1,
                "bad hyper-parameters");
  hyper.n = param.numel();
  run_op(OpKind::kAdamwStep, Pass::kForward, param.device(), {grad}, {param, m, v}, &hyper);
}

void ema_update(const Tensor& ema, const Tensor& param, double decay) {
  OpCheck check(OpKind::kEmaUpdate, {{"ema", &ema}, {"param", &param}});
  check.same_floating();
  check.require(ema.shape() == param.shape(), "ema and param must have one shape");
  check.require(decay >= 0 && decay <= 1, "decay must be in [0, 1], not ", decay);
  kernels::EmaArgs a;
  a.n = param.numel();
  a.decay = decay;
  run_op(OpKind::kEmaUpdate, Pass::kForward, param.device(), {param}, {ema}, &a);
}

}  // namespace ldm::ops
