// CUDA adapters for group_norm.
#include "kernels/cuda/norm.h"

#include "core/backend_cuda/adapter.h"
#include "core/backend_cuda/cuda_ops.h"

namespace ldm::cuda_backend::inline LDM_CUDA_TARGET {

using kernels::GroupNormArgs;

void group_norm_forward(const OpCall& c) {
  require_f32(c, "group_norm");
  kernels::cuda::group_norm_forward(c.args<GroupNormArgs>(), in_f32(c, 0), in_f32(c, 1),
                                    in_f32(c, 2), out_f32(c, 0), out_f32(c, 1), out_f32(c, 2),
                                    stream());
}

void group_norm_backward(const OpCall& c) {
  kernels::cuda::group_norm_backward(c.args<GroupNormArgs>(), in_f32(c, 0), in_f32(c, 1),
                                     in_f32(c, 2), in_f32(c, 3), in_f32(c, 4), out_f32(c, 0),
                                     out_f32(c, 1), out_f32(c, 2), stream());
}

}  // namespace ldm::cuda_backend::inline LDM_CUDA_TARGET
