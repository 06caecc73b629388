// CPU adapters for timestep_embedding, embedding and mse_loss.
#include "kernels/cpu/embedding.h"

#include "core/backend_cpu/adapter.h"
#include "core/backend_cpu/cpu_ops.h"

namespace ldm::cpu_backend {

using kernels::ElementwiseArgs;
using kernels::EmbeddingArgs;
using kernels::TimestepEmbeddingArgs;
namespace k = kernels::cpu;

void timestep_embedding_forward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    k::timestep_embedding_forward<T>(c.args<TimestepEmbeddingArgs>(), in_ptr<T>(c, 0),
                                     out_ptr<T>(c, 0));
  });
}
void timestep_embedding_backward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    k::timestep_embedding_backward<T>(c.args<TimestepEmbeddingArgs>(), in_ptr<T>(c, 0),
                                      in_ptr<T>(c, 1), out_ptr<T>(c, 0));
  });
}

void embedding_forward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    k::embedding_forward<T>(c.args<EmbeddingArgs>(), in_ptr<T>(c, 0), in_ptr<int32_t>(c, 1),
                            out_ptr<T>(c, 0));
  });
}
void embedding_backward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    k::embedding_backward<T>(c.args<EmbeddingArgs>(), in_ptr<int32_t>(c, 0), in_ptr<T>(c, 1),
                             out_ptr<T>(c, 0));
  });
}

void mse_loss_forward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    k::mse_loss_forward<T>(c.args<ElementwiseArgs>().n, in_ptr<T>(c, 0), in_ptr<T>(c, 1),
                           out_ptr<T>(c, 0));
  });
}
void mse_loss_backward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    k::mse_loss_backward<T>(c.args<ElementwiseArgs>().n, in_ptr<T>(c, 0), in_ptr<T>(c, 1),
                            *in_ptr<T>(c, 2), out_ptr<T>(c, 0), out_ptr<T>(c, 1));
  });
}

}  // namespace ldm::cpu_backend
