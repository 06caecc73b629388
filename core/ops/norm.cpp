// group_norm wrapper. The forward also produces per-(sample, group) mean and rstd, which the
// backward reuses instead of recomputing.
// Backend calls: forward in {x, gamma, beta}, out {y, mean, rstd};
// backward in {x, gamma, mean, rstd, dy}, out {dx, dgamma, dbeta}.
#include "core/ops/norm.h"

#include "core/ops/op_check.h"
#include "core/ops/op_util.h"
#include "kernels/args.h"

namespace ldm::ops {

Tensor group_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, int64_t groups,
                  double eps) {
  OpCheck check(OpKind::kGroupNorm, {{"x", &x}, {"gamma", &gamma}, {"beta", &beta}});
  check.require(gamma.defined() && beta.defined(), "gamma and beta are required");
  check.same_floating();
  check.require(x.rank() >= 2, "x must be [N, C, ...]");
  const int64_t C = x.dim(1);
  check.require(groups >= 1 && C % groups == 0, C, " channels do not split into ", groups,
                " groups");
  check.require(gamma.rank() == 1 && gamma.dim(0) == C && beta.rank() == 1 && beta.dim(0) == C,
                "gamma and beta must be [", C, "]");
  check.require(eps > 0, "eps must be positive");
  check.require(x.numel() > 0, "x is empty");

  kernels::GroupNormArgs a;
  a.N = x.dim(0);
  a.C = C;
  a.HW = x.numel() / (a.N * C);
  a.groups = groups;
  a.eps = eps;
  Tensor y = Tensor::empty_like(x);
  Tensor mean = Tensor::empty({a.N, groups}, x.dtype(), x.device());
  Tensor rstd = Tensor::empty({a.N, groups}, x.dtype(), x.device());
  run_op(OpKind::kGroupNorm, Pass::kForward, x.device(), {x, gamma, beta}, {y, mean, rstd}, &a);
  record_if_needed(OpKind::kGroupNorm, {x, gamma, beta}, {y},
                   [x, gamma, beta, mean, rstd, a](std::span<const Tensor> grads) {
                     Tensor dx = grad_buffer_for(x), dgamma = grad_buffer_for(gamma),
                            dbeta = grad_buffer_for(beta);
                     run_op(OpKind::kGroupNorm, Pass::kBackward, x.device(),
                            {x, gamma, mean, rstd, grads[0]}, {dx, dgamma, dbeta}, &a);
                     return std::vector<Tensor>{dx, dgamma, dbeta};
                   });
  return y;
}

}  // namespace ldm::ops
