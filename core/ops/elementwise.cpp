// Elementwise op wrappers. Backend calls (in -> out):
//   silu      forward {x} -> {y};      backward {x, dy} -> {dx}
//   tanh      forward {x} -> {y};      backward {y, dy} -> {dx}   (the output is what it needs)
//   hardtanh  forward {x} -> {y};      backward {x, dy} -> {dx}
//   scale     forward {x} -> {y};      backward {dy} -> {dx}
//   add       forward {a, b} -> {out}; backward {dout} -> {da, db}
//   mul       forward {a, b} -> {out}; backward {a, b, dout} -> {da, db}
#include "core/ops/elementwise.h"

#include <algorithm>

#include "core/ops/op_check.h"
#include "core/ops/op_util.h"
#include "kernels/args.h"

namespace ldm::ops {
namespace {

using kernels::BroadcastArgs;
using kernels::ElementwiseArgs;

// Unary op whose backward needs the input (saved = kInput) or the output (saved = kOutput).
enum class Saved { kInput, kOutput, kNothing };

Tensor unary(OpKind op, const Tensor& x, const ElementwiseArgs& args_in, Saved saved) {
  OpCheck check(op, {{"x", &x}});
  check.same_floating();
  ElementwiseArgs a = args_in;
  a.n = x.numel();
  Tensor y = Tensor::empty_like(x);
  run_op(op, Pass::kForward, x.device(), {x}, {y}, &a);
  // Saving y in its own closure would keep y alive through its own node: save a detached alias.
  const Tensor keep = saved == Saved::kInput ? x : saved == Saved::kOutput ? y.detach() : Tensor();
  record_if_needed(op, {x}, {y}, [op, keep, a, saved](std::span<const Tensor> grads) {
    Tensor dx = Tensor::empty_like(grads[0]);
    if (saved == Saved::kNothing)
      run_op(op, Pass::kBackward, grads[0].device(), {grads[0]}, {dx}, &a);
    else
      run_op(op, Pass::kBackward, grads[0].device(), {keep, grads[0]}, {dx}, &a);
    return std::vector<Tensor>{dx};
  });
  return y;
}

BroadcastArgs broadcast_args(const OpCheck& check, const Tensor& a, const Tensor& b,
                             Shape& out_shape) {
  const int rank = std::max(a.rank(), b.rank());
  check.require(rank <= BroadcastArgs::kMaxRank, "rank above ", BroadcastArgs::kMaxRank);
  BroadcastArgs args;
  out_shape.assign(static_cast<size_t>(rank), 1);
  const int pad = BroadcastArgs::kMaxRank - rank;
  for (int i = 0; i < rank; ++i) {
    const int ia = i - (rank - a.rank()), ib = i - (rank - b.rank());
    const int64_t da = ia >= 0 ? a.shape()[static_cast<size_t>(ia)] : 1;
    const int64_t db = ib >= 0 ? b.shape()[static_cast<size_t>(ib)] : 1;
    check.require(da == db || da == 1 || db == 1, "shapes ", shape_str(a.shape()), " and ",
                  shape_str(b.shape()), " do not broadcast");
    const int64_t d = da == 1 ? db : da;
    out_shape[static_cast<size_t>(i)] = d;
    args.a_shape[pad + i] = da;
    args.b_shape[pad + i] = db;
    args.out_shape[pad + i] = d;
  }
  return args;
}

Tensor binary(OpKind op, const Tensor& a, const Tensor& b) {
  OpCheck check(op, {{"a", &a}, {"b", &b}});
  check.require(a.defined() && b.defined(), "both operands are required");
  check.same_floating();
  Shape out_shape;
  const BroadcastArgs args = broadcast_args(check, a, b, out_shape);
  Tensor out = Tensor::empty(out_shape, a.dtype(), a.device());
  run_op(op, Pass::kForward, a.device(), {a, b}, {out}, &args);
  record_if_needed(op, {a, b}, {out}, [op, a, b, args](std::span<const Tensor> grads) {
    Tensor da = grad_buffer_for(a), db = grad_buffer_for(b);
    if (op == OpKind::kAdd)
      run_op(op, Pass::kBackward, grads[0].device(), {grads[0]}, {da, db}, &args);
    else
      run_op(op, Pass::kBackward, grads[0].device(), {a, b, grads[0]}, {da, db}, &args);
    return std::vector<Tensor>{da, db};
  });
  return out;
}

}  // namespace

Tensor silu(const Tensor& x) { return unary(OpKind::kSilu, x, {}, Saved::kInput); }

Tensor tanh(const Tensor& x) { return unary(OpKind::kTanh, x, {}, Saved::kOutput); }

Tensor hardtanh(const Tensor& x, double min_val, double max_val) {
  if (!(min_val < max_val))
    fail("hardtanh: min_val (", min_val, ") must be below max_val (", max_val, ")");
  ElementwiseArgs a;
  a.min_val = min_val;
  a.max_val = max_val;
  return unary(OpKind::kHardtanh, x, a, Saved::kInput);
}

Tensor scale(const Tensor& x, double alpha) {
  ElementwiseArgs a;
  a.alpha = alpha;
  return unary(OpKind::kScale, x, a, Saved::kNothing);
}

Tensor add(const Tensor& a, const Tensor& b) { return binary(OpKind::kAdd, a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary(OpKind::kMul, a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return add(a, scale(b, -1.0)); }

}  // namespace ldm::ops
