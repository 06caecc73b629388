// linear, matmul, softmax and attention wrappers. Backend calls (in -> out):
//   linear     forward {x, w, bias} -> {y};      backward {x, w, dy} -> {dx, dw, db}
//   matmul     forward {a, b} -> {c};            backward {a, b, dc} -> {da, db}
//   softmax    forward {x} -> {y};               backward {y, dy} -> {dx}
//   attention  forward {q, k, v} -> {out, probs}; backward {q, k, v, probs, dout} -> {dq, dk, dv}
#include "core/ops/matmul.h"

#include <cmath>

#include "core/ops/op_check.h"
#include "core/ops/op_util.h"
#include "kernels/args.h"

namespace ldm::ops {

using kernels::AttentionArgs;
using kernels::MatmulArgs;
using kernels::SoftmaxArgs;

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias) {
  OpCheck check(OpKind::kLinear, {{"x", &x}, {"w", &w}, {"bias", &bias}});
  check.same_floating();
  check.require(x.rank() >= 1, "x must have at least one dim");
  check.rank(w, "w", 2);
  check.require(w.dim(1) == x.dim(-1), "w expects ", w.dim(1), " input features but x has ",
                x.dim(-1));
  check.require(x.numel() > 0 && w.numel() > 0, "empty operands");
  if (bias.defined())
    check.require(bias.rank() == 1 && bias.dim(0) == w.dim(0), "bias must be [", w.dim(0), "]");
  MatmulArgs a;
  a.K = w.dim(1);
  a.N = w.dim(0);
  a.M = x.numel() / a.K;
  a.has_bias = bias.defined();
  Shape out_shape = x.shape();
  out_shape.back() = a.N;
  Tensor y = Tensor::empty(out_shape, x.dtype(), x.device());
  run_op(OpKind::kLinear, Pass::kForward, x.device(), {x, w, bias}, {y}, &a);
  record_if_needed(OpKind::kLinear, {x, w, bias}, {y}, [x, w, bias, a](std::span<const Tensor> g) {
    Tensor dx = grad_buffer_for(x), dw = grad_buffer_for(w), db = grad_buffer_for(bias);
    run_op(OpKind::kLinear, Pass::kBackward, x.device(), {x, w, g[0]}, {dx, dw, db}, &a);
    return std::vector<Tensor>{dx, dw, db};
  });
  return y;
}

Tensor matmul(const Tensor& a, const Tensor& b) {
  OpCheck check(OpKind::kMatmul, {{"a", &a}, {"b", &b}});
  check.same_floating();
  check.require((a.rank() == 2 && b.rank() == 2) || (a.rank() == 3 && b.rank() == 3),
                "operands must both be [M, K] x [K, N] or [B, M, K] x [B, K, N]");
  const bool batched = a.rank() == 3;
  MatmulArgs args;
  args.batch = batched ? a.dim(0) : 1;
  args.M = a.dim(-2);
  args.K = a.dim(-1);
  args.N = b.dim(-1);
  check.require(b.dim(-2) == args.K, "inner dims differ: ", args.K, " vs ", b.dim(-2));
  check.require(!batched || b.dim(0) == args.batch, "batch sizes differ");
  const Shape out_shape = batched ? Shape{args.batch, args.M, args.N} : Shape{args.M, args.N};
  Tensor c = Tensor::empty(out_shape, a.dtype(), a.device());
  run_op(OpKind::kMatmul, Pass::kForward, a.device(), {a, b}, {c}, &args);
  record_if_needed(OpKind::kMatmul, {a, b}, {c}, [a, b, args](std::span<const Tensor> g) {
    Tensor da = grad_buffer_for(a), db = grad_buffer_for(b);
    run_op(OpKind::kMatmul, Pass::kBackward, a.device(), {a, b, g[0]}, {da, db}, &args);
    return std::vector<Tensor>{da, db};
  });
  return c;
}

Tensor softmax(const Tensor& x) {
  OpCheck check(OpKind::kSoftmax, {{"x", &x}});
  check.same_floating();
  check.require(x.rank() >= 1 && x.numel() > 0, "x must be non-empty");
  SoftmaxArgs a;
  a.cols = x.dim(-1);
  a.rows = x.numel() / a.cols;
  Tensor y = Tensor::empty_like(x);
  run_op(OpKind::kSoftmax, Pass::kForward, x.device(), {x}, {y}, &a);
  const Tensor y_saved = y.detach();  // not y itself: y's node must not own y
  record_if_needed(OpKind::kSoftmax, {x}, {y}, [y_saved, a](std::span<const Tensor> g) {
    Tensor dx = Tensor::empty_like(y_saved);
    run_op(OpKind::kSoftmax, Pass::kBackward, y_saved.device(), {y_saved, g[0]}, {dx}, &a);
    return std::vector<Tensor>{dx};
  });
  return y;
}

Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v, double scale) {
  OpCheck check(OpKind::kAttention, {{"q", &q}, {"k", &k}, {"v", &v}});
  check.same_floating();
  check.require(q.rank() >= 2, "q, k, v must be [..., L, D]");
  check.require(q.shape() == k.shape() && q.shape() == v.shape(),
                "q, k and v must have the same shape");
  check.require(q.numel() > 0, "q, k and v are empty");
  AttentionArgs a;
  a.L = q.dim(-2);
  a.D = q.dim(-1);
  a.BH = q.numel() / (a.L * a.D);
  a.scale = scale > 0 ? scale : 1.0 / std::sqrt(static_cast<double>(a.D));
  Tensor out = Tensor::empty_like(q);
  Tensor probs = Tensor::empty({a.BH, a.L, a.L}, q.dtype(), q.device());
  run_op(OpKind::kAttention, Pass::kForward, q.device(), {q, k, v}, {out, probs}, &a);
  record_if_needed(OpKind::kAttention, {q, k, v}, {out},
                   [q, k, v, probs, a](std::span<const Tensor> g) {
                     Tensor dq = grad_buffer_for(q), dk = grad_buffer_for(k),
                            dv = grad_buffer_for(v);
                     run_op(OpKind::kAttention, Pass::kBackward, q.device(),
                            {q, k, v, probs, g[0]}, {dq, dk, dv}, &a);
                     return std::vector<Tensor>{dq, dk, dv};
                   });
  return out;
}

}  // namespace ldm::ops
