// vector_quantize wrapper. Backend calls (in -> out):
//   forward  {z_e, codebook} -> {z_q, indices, loss}
//   backward {z_e, codebook, indices, dz_q, dloss} -> {dz_e, dcodebook}
// dz_e = dz_q (straight-through) + the commitment term's gradient; dcodebook is the codebook
// term's gradient (codes are moved toward the encoder outputs assigned to them).
#include "core/ops/quantize.h"

#include "core/ops/op_check.h"
#include "core/ops/op_util.h"
#include "kernels/args.h"

namespace ldm::ops {

Quantized vector_quantize(const Tensor& z_e, const Tensor& codebook, double beta) {
  OpCheck check(OpKind::kVectorQuantize, {{"z_e", &z_e}, {"codebook", &codebook}});
  check.same_floating();
  check.rank(z_e, "z_e", 4);
  check.rank(codebook, "codebook", 2);
  check.require(codebook.dim(1) == z_e.dim(1), "codes have ", codebook.dim(1),
                " dims but z_e has ", z_e.dim(1), " channels");
  check.require(codebook.dim(0) >= 1, "the codebook is empty");
  check.require(beta >= 0, "beta must be >= 0");
  kernels::VectorQuantizeArgs a;
  a.N = z_e.dim(0);
  a.D = z_e.dim(1);
  a.HW = z_e.dim(2) * z_e.dim(3);
  a.K = codebook.dim(0);
  a.beta = beta;
  Quantized q;
  q.z_q = Tensor::empty_like(z_e);
  q.indices = Tensor::empty({a.N, z_e.dim(2), z_e.dim(3)}, DType::kI32, z_e.device());
  q.loss = Tensor::empty({}, z_e.dtype(), z_e.device());
  run_op(OpKind::kVectorQuantize, Pass::kForward, z_e.device(), {z_e, codebook},
         {q.z_q, q.indices, q.loss}, &a);
  record_if_needed(OpKind::kVectorQuantize, {z_e, codebook}, {q.z_q, q.loss},
                   [z_e, codebook, indices = q.indices, a](std::span<const Tensor> g) {
                     Tensor dz_e = grad_buffer_for(z_e), dcodebook = grad_buffer_for(codebook);
                     run_op(OpKind::kVectorQuantize, Pass::kBackward, z_e.device(),
                            {z_e, codebook, indices, g[0], g[1]}, {dz_e, dcodebook}, &a);
                     return std::vector<Tensor>{dz_e, dcodebook};
                   });
  return q;
}

}  // namespace ldm::ops
