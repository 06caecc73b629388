// timestep_embedding, embedding and mse_loss wrappers. Backend calls (in -> out):
//   timestep_embedding  forward {t} -> {out};            backward {t, dout} -> {dt}
//   embedding           forward {table, indices} -> {out}; backward {indices, dout} -> {dtable}
//   mse_loss            forward {a, b} -> {loss};         backward {a, b, dloss} -> {da, db}
#include "core/ops/embedding.h"

#include "core/ops/op_check.h"
#include "core/ops/op_util.h"
#include "kernels/args.h"

namespace ldm::ops {

Tensor timestep_embedding(const Tensor& t, int64_t dim, double max_period) {
  OpCheck check(OpKind::kTimestepEmbedding, {{"t", &t}});
  check.same_floating();
  check.rank(t, "t", 1);
  check.require(dim >= 2, "dim must be at least 2, not ", dim);
  check.require(max_period > 1, "max_period must exceed 1");
  kernels::TimestepEmbeddingArgs a;
  a.N = t.dim(0);
  a.dim = dim;
  a.max_period = max_period;
  Tensor out = Tensor::empty({a.N, dim}, t.dtype(), t.device());
  run_op(OpKind::kTimestepEmbedding, Pass::kForward, t.device(), {t}, {out}, &a);
  record_if_needed(OpKind::kTimestepEmbedding, {t}, {out}, [t, a](std::span<const Tensor> g) {
    Tensor dt = Tensor::empty_like(t);
    run_op(OpKind::kTimestepEmbedding, Pass::kBackward, t.device(), {t, g[0]}, {dt}, &a);
    return std::vector<Tensor>{dt};
  });
  return out;
}

Tensor embedding(const Tensor& table, const Tensor& indices) {
  OpCheck check(OpKind::kEmbedding, {{"table", &table}, {"indices", &indices}});
  check.require(is_floating(table.dtype()), "table must be floating point");
  check.require(indices.dtype() == DType::kI32, "indices must be i32, not ",
                dtype_name(indices.dtype()));
  check.rank(table, "table", 2);
  kernels::EmbeddingArgs a;
  a.N = indices.numel();
  a.V = table.dim(0);
  a.D = table.dim(1);
  // Checked on the host (a copy for a GPU: the indices are a batch of labels, a few bytes).
  const std::vector<int32_t> idx = indices.to_vector<int32_t>();
  for (int64_t i = 0; i < a.N; ++i)
    check.require(idx[i] >= 0 && idx[i] < a.V, "index ", idx[i], " at position ", i,
                  " is outside [0, ", a.V, ")");
  Shape out_shape = indices.shape();
  out_shape.push_back(a.D);
  Tensor out = Tensor::empty(out_shape, table.dtype(), table.device());
  run_op(OpKind::kEmbedding, Pass::kForward, table.device(), {table, indices}, {out}, &a);
  record_if_needed(OpKind::kEmbedding, {table, indices}, {out},
                   [table, indices, a](std::span<const Tensor> g) {
                     Tensor dtable = Tensor::empty_like(table);
                     run_op(OpKind::kEmbedding, Pass::kBackward, table.device(), {indices, g[0]},
                            {dtable}, &a);
                     return std::vector<Tensor>{dtable, Tensor()};
                   });
  return out;
}

Tensor mse_loss(const Tensor& a, const Tensor& b) {
  OpCheck check(OpKind::kMseLoss, {{"a", &a}, {"b", &b}});
  check.same_floating();
  check.require(a.shape() == b.shape(), "a and b must have the same shape");
  check.require(a.numel() > 0, "inputs are empty");
  kernels::ElementwiseArgs args;
  args.n = a.numel();
  Tensor loss = Tensor::empty({}, a.dtype(), a.device());
  run_op(OpKind::kMseLoss, Pass::kForward, a.device(), {a, b}, {loss}, &args);
  record_if_needed(OpKind::kMseLoss, {a, b}, {loss}, [a, b, args](std::span<const Tensor> g) {
    Tensor da = grad_buffer_for(a), db = grad_buffer_for(b);
    run_op(OpKind::kMseLoss, Pass::kBackward, a.device(), {a, b, g[0]}, {da, db}, &args);
    return std::vector<Tensor>{da, db};
  });
  return loss;
}

}  // namespace ldm::ops
