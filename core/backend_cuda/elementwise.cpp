// CUDA adapters for the activations, scale, add and mul.
#include "kernels/cuda/elementwise.h"

#include "core/backend_cuda/adapter.h"
#include "core/backend_cuda/cuda_ops.h"
#include "kernels/cuda/activation.h"

namespace ldm::cuda_backend::inline LDM_CUDA_TARGET {

namespace k = kernels::cuda;
using kernels::BroadcastArgs;
using kernels::ElementwiseArgs;

void silu_forward(const OpCall& c) {
  require_f32(c, "silu");
  k::silu_forward(c.args<ElementwiseArgs>().n, in_f32(c, 0), out_f32(c, 0), stream());
}
void silu_backward(const OpCall& c) {
  k::silu_backward(c.args<ElementwiseArgs>().n, in_f32(c, 0), in_f32(c, 1), out_f32(c, 0),
                   stream());
}

void tanh_forward(const OpCall& c) {
  require_f32(c, "tanh");
  k::tanh_forward(c.args<ElementwiseArgs>().n, in_f32(c, 0), out_f32(c, 0), stream());
}
void tanh_backward(const OpCall& c) {
  k::tanh_backward(c.args<ElementwiseArgs>().n, in_f32(c, 0), in_f32(c, 1), out_f32(c, 0),
                   stream());
}

void hardtanh_forward(const OpCall& c) {
  require_f32(c, "hardtanh");
  k::hardtanh_forward(c.args<ElementwiseArgs>(), in_f32(c, 0), out_f32(c, 0), stream());
}
void hardtanh_backward(const OpCall& c) {
  k::hardtanh_backward(c.args<ElementwiseArgs>(), in_f32(c, 0), in_f32(c, 1), out_f32(c, 0),
                       stream());
}

void scale_forward(const OpCall& c) {
  require_f32(c, "scale");
  k::scale_forward(c.args<ElementwiseArgs>(), in_f32(c, 0), out_f32(c, 0), stream());
}
// The adjoint of y = alpha * x is dx = alpha * dy: the same kernel.
void scale_backward(const OpCall& c) { scale_forward(c); }

void add_forward(const OpCall& c) {
  require_f32(c, "add");
  k::add_forward(c.args<BroadcastArgs>(), in_f32(c, 0), in_f32(c, 1), out_f32(c, 0), stream());
}
void add_backward(const OpCall& c) {
  k::add_backward(c.args<BroadcastArgs>(), in_f32(c, 0), out_f32(c, 0), out_f32(c, 1), stream());
}

void mul_forward(const OpCall& c) {
  require_f32(c, "mul");
  k::mul_forward(c.args<BroadcastArgs>(), in_f32(c, 0), in_f32(c, 1), out_f32(c, 0), stream());
}
void mul_backward(const OpCall& c) {
  k::mul_backward(c.args<BroadcastArgs>(), in_f32(c, 0), in_f32(c, 1), in_f32(c, 2),
                  out_f32(c, 0), out_f32(c, 1), stream());
}

}  // namespace ldm::cuda_backend::inline LDM_CUDA_TARGET
