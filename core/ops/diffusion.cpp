// cfg_combine, ddpm_step and ddim_step wrappers. Backend calls (in -> out):
//   cfg_combine  forward {eps_both} -> {out};           backward {dout} -> {deps_both}
//   ddpm_step    forward {x_t, eps, noise} -> {x_prev}; backward {dout} -> {dx_t, deps, dnoise}
//   ddim_step    forward {x_t, eps, noise} -> {x_prev}; backward {dout} -> {dx_t, deps, dnoise}
#include "core/ops/diffusion.h"

#include "core/ops/op_check.h"
#include "core/ops/op_util.h"

namespace ldm::ops {
namespace {

template <typename Args>
Tensor sampler_step(OpKind op, const Tensor& x_t, const Tensor& eps, const Tensor& noise,
                    Args a) {
  OpCheck check(op, {{"x_t", &x_t}, {"eps", &eps}, {"noise", &noise}});
  check.same_floating();
  check.require(eps.shape() == x_t.shape(), "eps must have the shape of x_t");
  check.require(!noise.defined() || noise.shape() == x_t.shape(),
                "noise must have the shape of x_t");
  check.require(noise.defined() || a.sigma == 0, "sigma is ", a.sigma, " but no noise was given");
  a.n = x_t.numel();
  Tensor x_prev = Tensor::empty_like(x_t);
  run_op(op, Pass::kForward, x_t.device(), {x_t, eps, noise}, {x_prev}, &a);
  record_if_needed(op, {x_t, eps, noise}, {x_prev},
                   [op, x_t, eps, noise, a](std::span<const Tensor> g) {
                     Tensor dx = grad_buffer_for(x_t), de = grad_buffer_for(eps),
                            dn = grad_buffer_for(noise);
                     run_op(op, Pass::kBackward, x_t.device(), {g[0]}, {dx, de, dn}, &a);
                     return std::vector<Tensor>{dx, de, dn};
                   });
  return x_prev;
}

}  // namespace

Tensor cfg_combine(const Tensor& eps_both, double scale) {
  OpCheck check(OpKind::kCfgCombine, {{"eps_both", &eps_both}});
  check.same_floating();
  check.require(eps_both.rank() >= 1 && eps_both.dim(0) % 2 == 0,
                "eps_both must stack the conditional and unconditional halves on dim 0");
  kernels::CfgCombineArgs a;
  a.n = eps_both.numel() / 2;
  a.scale = scale;
  Shape out_shape = eps_both.shape();
  out_shape[0] /= 2;
  Tensor out = Tensor::empty(out_shape, eps_both.dtype(), eps_both.device());
  run_op(OpKind::kCfgCombine, Pass::kForward, eps_both.device(), {eps_both}, {out}, &a);
  record_if_needed(OpKind::kCfgCombine, {eps_both}, {out}, [eps_both, a](std::span<const Tensor> g) {
    Tensor d = Tensor::empty_like(eps_both);
    run_op(OpKind::kCfgCombine, Pass::kBackward, eps_both.device(), {g[0]}, {d}, &a);
    return std::vector<Tensor>{d};
  });
  return out;
}

Tensor ddpm_step(const Tensor& x_t, const Tensor& eps, const Tensor& noise,
                 kernels::DdpmStepArgs coefficients) {
  return sampler_step(OpKind::kDdpmStep, x_t, eps, noise, coefficients);
}

Tensor ddim_step(const Tensor& x_t, const Tensor& eps, const Tensor& noise,
                 kernels::DdimStepArgs coefficients) {
  return sampler_step(OpKind::kDdimStep, x_t, eps, noise, coefficients);
}

}  // namespace ldm::ops
