// ldm-opcheck runners for vector_quantize, the sampler ops and the in-place update ops:
//   vector_quantize  z_e, codebook; beta             -> z_q, indices (i32), loss
//   cfg_combine      eps_both; scale                 -> out
//   ddpm_step        x_t, eps, optional noise; coef_x, coef_eps, sigma           -> out
//   ddim_step        x_t, eps, optional noise; alpha_bar_t, alpha_bar_prev, sigma -> out
//   adamw_step       param, grad, m, v; lr, beta1, beta2, eps, weight_decay, step, optional
//                    steps (default 1: grad has param's shape; S > 1: grad is [S, ...] and S
//                    consecutive steps run from `step` on)   -> param, m, v (updated)
//   ema_update       ema, param; decay               -> ema (updated)
#include <algorithm>

#include "core/ops.h"
#include "tests/opcheck/opcheck.h"

namespace ldm::opcheck {
namespace {

Outputs vector_quantize(const Params& p, const Inputs& in) {
  ops::Quantized q = ops::vector_quantize(in.f32("z_e"), in.f32("codebook"), p.number("beta"));
  return {{"z_q", q.z_q}, {"indices", q.indices}, {"loss", q.loss}};
}

Outputs cfg_combine(const Params& p, const Inputs& in) {
  return {{"out", ops::cfg_combine(in.f32("eps_both"), p.number("scale"))}};
}

Outputs ddpm_step(const Params& p, const Inputs& in) {
  kernels::DdpmStepArgs a;
  a.coef_x = p.number("coef_x");
  a.coef_eps = p.number("coef_eps");
  a.sigma = p.number("sigma");
  return {{"out", ops::ddpm_step(in.f32("x_t"), in.f32("eps"), in.optional_f32("noise"), a)}};
}

Outputs ddim_step(const Params& p, const Inputs& in) {
  kernels::DdimStepArgs a;
  a.alpha_bar_t = p.number("alpha_bar_t");
  a.alpha_bar_prev = p.number("alpha_bar_prev");
  a.sigma = p.number("sigma");
  return {{"out", ops::ddim_step(in.f32("x_t"), in.f32("eps"), in.optional_f32("noise"), a)}};
}

Outputs adamw_step(const Params& p, const Inputs& in) {
  const Tensor param = in.f32("param"), grads = in.f32("grad"), m = in.f32("m"), v = in.f32("v");
  kernels::AdamWArgs hyper;
  hyper.lr = p.number("lr");
  hyper.beta1 = p.number("beta1");
  hyper.beta2 = p.number("beta2");
  hyper.eps = p.number("eps");
  hyper.weight_decay = p.number("weight_decay");
  hyper.step = p.integer("step");
  const bool stacked = p.has("steps");
  const int64_t steps = p.integer("steps", 1);
  if (!stacked) {
    ops::adamw_step(param, grads, m, v, hyper);
    return {{"param", param}, {"m", m}, {"v", v}};
  }
  Shape stacked_shape{steps};
  stacked_shape.insert(stacked_shape.end(), param.shape().begin(), param.shape().end());
  if (steps < 1 || grads.shape() != stacked_shape)
    fail("adamw_step: with steps = ", steps, ", grad must be ", shape_str(stacked_shape), ", not ",
         shape_str(grads.shape()));
  const int64_t n = param.numel();
  for (int64_t s = 0; s < steps; ++s, ++hyper.step) {
    Tensor grad = Tensor::empty(param.shape());
    const float* src = grads.data<float>() + s * n;
    std::copy(src, src + n, grad.data<float>());
    ops::adamw_step(param, grad, m, v, hyper);
  }
  return {{"param", param}, {"m", m}, {"v", v}};
}

Outputs ema_update(const Params& p, const Inputs& in) {
  const Tensor ema = in.f32("ema");
  ops::ema_update(ema, in.f32("param"), p.number("decay"));
  return {{"ema", ema}};
}

}  // namespace

std::vector<RunnerEntry> diffusion_runners() {
  return {{"vector_quantize", vector_quantize},
          {"cfg_combine", cfg_combine},
          {"ddpm_step", ddpm_step},
          {"ddim_step", ddim_step},
          {"adamw_step", adamw_step},
          {"ema_update", ema_update}};
}

}  // namespace ldm::opcheck
