// CPU adapters for vector_quantize.
#include "kernels/cpu/quantize.h"

#include "core/backend_cpu/adapter.h"
#include "core/backend_cpu/cpu_ops.h"

namespace ldm::cpu_backend {

using kernels::VectorQuantizeArgs;

void vector_quantize_forward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    kernels::cpu::vector_quantize_forward<T>(c.args<VectorQuantizeArgs>(), in_ptr<T>(c, 0),
                                             in_ptr<T>(c, 1), out_ptr<T>(c, 0),
                                             out_ptr<int32_t>(c, 1), out_ptr<T>(c, 2));
  });
}

void vector_quantize_backward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    kernels::cpu::vector_quantize_backward<T>(c.args<VectorQuantizeArgs>(), in_ptr<T>(c, 0),
                                              in_ptr<T>(c, 1), in_ptr<int32_t>(c, 2),
                                              in_ptr<T>(c, 3), *in_ptr<T>(c, 4), out_ptr<T>(c, 0),
                                              out_ptr<T>(c, 1));
  });
}

}  // namespace ldm::cpu_backend
