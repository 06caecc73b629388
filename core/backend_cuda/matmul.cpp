// CUDA adapters for linear, matmul, softmax and attention.
#include "kernels/cuda/matmul.h"

#include "core/backend_cuda/adapter.h"
#include "core/backend_cuda/cuda_ops.h"

namespace ldm::cuda_backend::inline LDM_CUDA_TARGET {

namespace k = kernels::cuda;
using kernels::AttentionArgs;
using kernels::MatmulArgs;
using kernels::SoftmaxArgs;

void linear_forward(const OpCall& c) {
  require_f32(c, "linear");
  k::linear_forward(c.args<MatmulArgs>(), in_f32(c, 0), in_f32(c, 1), in_f32(c, 2), out_f32(c, 0),
                    stream());
}
void linear_backward(const OpCall& c) {
  k::linear_backward(c.args<MatmulArgs>(), in_f32(c, 0), in_f32(c, 1), in_f32(c, 2),
                     out_f32(c, 0), out_f32(c, 1), out_f32(c, 2), stream());
}

void matmul_forward(const OpCall& c) {
  require_f32(c, "matmul");
  k::matmul_forward(c.args<MatmulArgs>(), in_f32(c, 0), in_f32(c, 1), out_f32(c, 0), stream());
}
void matmul_backward(const OpCall& c) {
  k::matmul_backward(c.args<MatmulArgs>(), in_f32(c, 0), in_f32(c, 1), in_f32(c, 2),
                     out_f32(c, 0), out_f32(c, 1), stream());
}

void softmax_forward(const OpCall& c) {
  require_f32(c, "softmax");
  k::softmax_forward(c.args<SoftmaxArgs>(), in_f32(c, 0), out_f32(c, 0), stream());
}
void softmax_backward(const OpCall& c) {
  k::softmax_backward(c.args<SoftmaxArgs>(), in_f32(c, 0), in_f32(c, 1), out_f32(c, 0),
                      stream());
}

void attention_forward(const OpCall& c) {
  require_f32(c, "attention");
  k::attention_forward(c.args<AttentionArgs>(), in_f32(c, 0), in_f32(c, 1), in_f32(c, 2),
                       out_f32(c, 0), out_f32(c, 1), stream());
}
void attention_backward(const OpCall& c) {
  k::attention_backward(c.args<AttentionArgs>(), in_f32(c, 0), in_f32(c, 1), in_f32(c, 2),
                        in_f32(c, 3), in_f32(c, 4), out_f32(c, 0), out_f32(c, 1), out_f32(c, 2),
                        stream());
}

}  // namespace ldm::cuda_backend::inline LDM_CUDA_TARGET
