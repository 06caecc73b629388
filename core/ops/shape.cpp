// concat, slice, permute and resampling wrappers. Backend calls (in -> out):
//   concat            forward {t0, t1, ...} -> {out};  backward {dout} -> {dt0, dt1, ...}
//                     (ConcatSliceArgs with outer, inner, dim_out; each piece's size and
//                     offset follow from the tensors' shapes)
//   slice             forward {x} -> {y};   backward {dy} -> {dx}
//   permute           forward {x} -> {y};   backward {dy} -> {dx} (both get the forward's
//                     PermuteArgs; the backend inverts the order for the backward)
//   upsample_nearest  forward {x} -> {y};   backward {dy} -> {dx}
//   resize_bilinear   forward {x} -> {y};   backward {dy} -> {dx}
#include "core/ops/shape.h"

#include <string>

#include "core/ops/op_check.h"
#include "core/ops/op_util.h"
#include "kernels/args.h"

namespace ldm::ops {
namespace {

using kernels::ConcatSliceArgs;
using kernels::PermuteArgs;
using kernels::ResizeArgs;

int normalize_dim(const OpCheck& check, int dim, int rank) {
  const int d = dim < 0 ? dim + rank : dim;
  check.require(d >= 0 && d < rank, "dim ", dim, " is out of range for rank ", rank);
  return d;
}

// Views a shape as [outer, shape[dim], inner].
void outer_inner(const Shape& shape, int dim, int64_t& outer, int64_t& inner) {
  outer = inner = 1;
  for (int i = 0; i < dim; ++i) outer *= shape[static_cast<size_t>(i)];
  for (size_t i = static_cast<size_t>(dim) + 1; i < shape.size(); ++i) inner *= shape[i];
}

Tensor resample(OpKind op, const Tensor& x, int64_t H_out, int64_t W_out) {
  ResizeArgs a;
  a.N = x.dim(0);
  a.C = x.dim(1);
  a.H_in = x.dim(2);
  a.W_in = x.dim(3);
  a.H_out = H_out;
  a.W_out = W_out;
  Tensor y = Tensor::empty({a.N, a.C, H_out, W_out}, x.dtype(), x.device());
  run_op(op, Pass::kForward, x.device(), {x}, {y}, &a);
  record_if_needed(op, {x}, {y}, [op, a, x](std::span<const Tensor> grads) {
    Tensor dx = Tensor::empty_like(x);
    run_op(op, Pass::kBackward, x.device(), {grads[0]}, {dx}, &a);
    return std::vector<Tensor>{dx};
  });
  return y;
}

}  // namespace

Tensor concat(std::span<const Tensor> tensors, int dim) {
  if (tensors.empty()) fail("concat: no tensors given");
  const Tensor& first = tensors[0];
  OpCheck check(OpKind::kConcat, {{"first", &first}});
  const int d = normalize_dim(check, dim, first.rank());
  Shape out_shape = first.shape();
  out_shape[static_cast<size_t>(d)] = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    OpCheck piece(OpKind::kConcat, {{"first", &first}, {"this", &t}});
    piece.same_floating();
    bool same = t.rank() == first.rank();
    for (int k = 0; same && k < t.rank(); ++k) same = k == d || t.dim(k) == first.dim(k);
    piece.require(same, "tensor ", i, " differs from the first outside dim ", d);
    out_shape[static_cast<size_t>(d)] += t.dim(d);
  }
  ConcatSliceArgs a;
  outer_inner(out_shape, d, a.outer, a.inner);
  a.dim_out = out_shape[static_cast<size_t>(d)];
  check.require(a.outer * a.inner * a.dim_out > 0, "the result would be empty");
  Tensor out = Tensor::empty(out_shape, first.dtype(), first.device());
  const std::vector<Tensor> inputs(tensors.begin(), tensors.end());
  run_op(OpKind::kConcat, Pass::kForward, first.device(), inputs, std::span<const Tensor>(&out, 1),
         &a);
  if (needs_grad(tensors)) {
    Tensor outputs[] = {out};
    record_node(op_name(OpKind::kConcat), inputs, outputs,
                [inputs, a](std::span<const Tensor> grads) {
                  std::vector<Tensor> dinputs;
                  for (const Tensor& t : inputs) dinputs.push_back(grad_buffer_for(t));
                  run_op(OpKind::kConcat, Pass::kBackward, grads[0].device(), grads, dinputs, &a);
                  return dinputs;
                });
  }
  return out;
}

Tensor slice(const Tensor& x, int dim, int64_t start, int64_t end) {
  OpCheck check(OpKind::kSlice, {{"x", &x}});
  check.same_floating();
  const int d = normalize_dim(check, dim, x.rank());
  check.require(0 <= start && start < end && end <= x.dim(d), "range [", start, ", ", end,
                ") is not inside dim ", d, " of size ", x.dim(d));
  ConcatSliceArgs a;
  outer_inner(x.shape(), d, a.outer, a.inner);
  a.dim_in = x.dim(d);
  a.dim_out = end - start;
  a.start = start;
  Shape out_shape = x.shape();
  out_shape[static_cast<size_t>(d)] = a.dim_out;
  Tensor y = Tensor::empty(out_shape, x.dtype(), x.device());
  run_op(OpKind::kSlice, Pass::kForward, x.device(), {x}, {y}, &a);
  record_if_needed(OpKind::kSlice, {x}, {y}, [a, x](std::span<const Tensor> grads) {
    Tensor dx = Tensor::empty_like(x);
    run_op(OpKind::kSlice, Pass::kBackward, x.device(), {grads[0]}, {dx}, &a);
    return std::vector<Tensor>{dx};
  });
  return y;
}

Tensor permute(const Tensor& x, std::span<const int> order) {
  OpCheck check(OpKind::kPermute, {{"x", &x}});
  check.same_floating();
  const int rank = x.rank();
  std::string order_text = "[";
  for (size_t k = 0; k < order.size(); ++k) {
    order_text += (k ? ", " : "") + std::to_string(order[k]);
  }
  order_text += "]";
  check.require(rank >= 1 && rank <= PermuteArgs::kMaxRank, "x must have rank 1 to ",
                PermuteArgs::kMaxRank, ", not ", rank);
  check.require(static_cast<int>(order.size()) == rank, "order ", order_text, " has ", order.size(),
                " entries but x has rank ", rank);
  PermuteArgs a;
  a.rank = rank;
  bool seen[PermuteArgs::kMaxRank] = {};
  Shape out_shape(static_cast<size_t>(rank));
  for (int k = 0; k < rank; ++k) {
    const int d = order[static_cast<size_t>(k)];
    check.require(0 <= d && d < rank, "order ", order_text, " is not a permutation of 0..",
                  rank - 1, ": ", d, " is out of range");
    check.require(!seen[d], "order ", order_text, " is not a permutation of 0..", rank - 1, ": ", d,
                  " appears twice");
    seen[d] = true;
    a.in_shape[k] = x.dim(k);
    a.order[k] = d;
    out_shape[static_cast<size_t>(k)] = x.dim(d);
  }
  Tensor y = Tensor::empty(out_shape, x.dtype(), x.device());
  run_op(OpKind::kPermute, Pass::kForward, x.device(), {x}, {y}, &a);
  // The backward needs only x's shape (in `a`), dtype and device, not x itself.
  record_if_needed(OpKind::kPermute, {x}, {y},
                   [a, shape = x.shape(), dtype = x.dtype(),
                    device = x.device()](std::span<const Tensor> grads) {
                     Tensor dx = Tensor::empty(shape, dtype, device);
                     run_op(OpKind::kPermute, Pass::kBackward, device, {grads[0]}, {dx}, &a);
                     return std::vector<Tensor>{dx};
                   });
  return y;
}

Tensor upsample_nearest(const Tensor& x, int64_t factor) {
  OpCheck check(OpKind::kUpsampleNearest, {{"x", &x}});
  check.same_floating();
  check.rank(x, "x", 4);
  check.require(factor >= 1, "factor must be >= 1, not ", factor);
  return resample(OpKind::kUpsampleNearest, x, x.dim(2) * factor, x.dim(3) * factor);
}

Tensor resize_bilinear(const Tensor& x, int64_t H_out, int64_t W_out) {
  OpCheck check(OpKind::kResizeBilinear, {{"x", &x}});
  check.same_floating();
  check.rank(x, "x", 4);
  check.require(H_out >= 1 && W_out >= 1, "output size ", H_out, "x", W_out, " is empty");
  return resample(OpKind::kResizeBilinear, x, H_out, W_out);
}

}  // namespace ldm::ops
