// CUDA adapters for timestep_embedding, embedding and mse_loss.
#include "kernels/cuda/embedding.h"

#include "core/backend_cuda/adapter.h"
#include "core/backend_cuda/cuda_ops.h"

namespace ldm::cuda_backend::inline LDM_CUDA_TARGET {

namespace k = kernels::cuda;
using kernels::ElementwiseArgs;
using kernels::EmbeddingArgs;
using kernels::TimestepEmbeddingArgs;

void timestep_embedding_forward(const OpCall& c) {
  require_f32(c, "timestep_embedding");
  k::timestep_embedding_forward(c.args<TimestepEmbeddingArgs>(), in_f32(c, 0), out_f32(c, 0),
                                stream());
}
void timestep_embedding_backward(const OpCall& c) {
  k::timestep_embedding_backward(c.args<TimestepEmbeddingArgs>(), in_f32(c, 0), in_f32(c, 1),
                                 out_f32(c, 0), stream());
}

void embedding_forward(const OpCall& c) {
  require_f32(c, "embedding");
  k::embedding_forward(c.args<EmbeddingArgs>(), in_f32(c, 0), in_i32(c, 1), out_f32(c, 0),
                       stream());
}
void embedding_backward(const OpCall& c) {
  k::embedding_backward(c.args<EmbeddingArgs>(), in_i32(c, 0), in_f32(c, 1), out_f32(c, 0),
                        stream());
}

void mse_loss_forward(const OpCall& c) {
  require_f32(c, "mse_loss");
  k::mse_loss_forward(c.args<ElementwiseArgs>().n, in_f32(c, 0), in_f32(c, 1), out_f32(c, 0),
                      stream());
}
// in: x, y, dloss (a one-element tensor on the device).
void mse_loss_backward(const OpCall& c) {
  k::mse_loss_backward(c.args<ElementwiseArgs>().n, in_f32(c, 0), in_f32(c, 1), in_f32(c, 2),
                       out_f32(c, 0), out_f32(c, 1), stream());
}

}  // namespace ldm::cuda_backend::inline LDM_CUDA_TARGET
