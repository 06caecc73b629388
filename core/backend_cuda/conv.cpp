// CUDA adapters for conv2d and conv_transpose2d.
#include "kernels/cuda/conv.h"

#include "core/backend_cuda/adapter.h"
#include "core/backend_cuda/cuda_ops.h"

namespace ldm::cuda_backend::inline LDM_CUDA_TARGET {

namespace k = kernels::cuda;
using kernels::Conv2dArgs;

void conv2d_forward(const OpCall& c) {
  require_f32(c, "conv2d");
  k::conv2d_forward(c.args<Conv2dArgs>(), in_f32(c, 0), in_f32(c, 1), in_f32(c, 2), out_f32(c, 0),
                    stream());
}

void conv2d_backward(const OpCall& c) {
  k::conv2d_backward(c.args<Conv2dArgs>(), in_f32(c, 0), in_f32(c, 1), in_f32(c, 2),
                     out_f32(c, 0), out_f32(c, 1), out_f32(c, 2), stream());
}

void conv_transpose2d_forward(const OpCall& c) {
  require_f32(c, "conv_transpose2d");
  k::conv_transpose2d_forward(c.args<Conv2dArgs>(), in_f32(c, 0), in_f32(c, 1), in_f32(c, 2),
                              out_f32(c, 0), stream());
}

void conv_transpose2d_backward(const OpCall& c) {
  k::conv_transpose2d_backward(c.args<Conv2dArgs>(), in_f32(c, 0), in_f32(c, 1), in_f32(c, 2),
                               out_f32(c, 0), out_f32(c, 1), out_f32(c, 2), stream());
}

}  // namespace ldm::cuda_backend::inline LDM_CUDA_TARGET
