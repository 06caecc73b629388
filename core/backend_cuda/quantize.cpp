// CUDA adapters for vector_quantize.
#include "kernels/cuda/quantize.h"

#include "core/backend_cuda/adapter.h"
#include "core/backend_cuda/cuda_ops.h"

namespace ldm::cuda_backend::inline LDM_CUDA_TARGET {

using kernels::VectorQuantizeArgs;

void vector_quantize_forward(const OpCall& c) {
  require_f32(c, "vector_quantize");
  kernels::cuda::vector_quantize_forward(c.args<VectorQuantizeArgs>(), in_f32(c, 0), in_f32(c, 1),
                                         out_f32(c, 0), out_i32(c, 1), out_f32(c, 2), stream());
}

// in: z_e, codebook, indices, dz_q, dloss (a one-element tensor on the device).
void vector_quantize_backward(const OpCall& c) {
  kernels::cuda::vector_quantize_backward(c.args<VectorQuantizeArgs>(), in_f32(c, 0),
                                          in_f32(c, 1), in_i32(c, 2), in_f32(c, 3), in_f32(c, 4),
                                          out_f32(c, 0), out_f32(c, 1), stream());
}

}  // namespace ldm::cuda_backend::inline LDM_CUDA_TARGET
