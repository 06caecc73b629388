// CPU adapters for activations, scale, add and mul.
#include "kernels/cpu/elementwise.h"

#include "core/backend_cpu/adapter.h"
#include "core/backend_cpu/cpu_ops.h"

namespace ldm::cpu_backend {

using kernels::BroadcastArgs;
using kernels::ElementwiseArgs;
namespace k = kernels::cpu;

void silu_forward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    k::silu_forward<T>(c.args<ElementwiseArgs>().n, in_ptr<T>(c, 0), out_ptr<T>(c, 0));
  });
}
void silu_backward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    k::silu_backward<T>(c.args<ElementwiseArgs>().n, in_ptr<T>(c, 0), in_ptr<T>(c, 1),
                        out_ptr<T>(c, 0));
  });
}

void tanh_forward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    k::tanh_forward<T>(c.args<ElementwiseArgs>().n, in_ptr<T>(c, 0), out_ptr<T>(c, 0));
  });
}
void tanh_backward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    k::tanh_backward<T>(c.args<ElementwiseArgs>().n, in_ptr<T>(c, 0), in_ptr<T>(c, 1),
                        out_ptr<T>(c, 0));
  });
}

void hardtanh_forward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    k::hardtanh_forward<T>(c.args<ElementwiseArgs>(), in_ptr<T>(c, 0), out_ptr<T>(c, 0));
  });
}
void hardtanh_backward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    k::hardtanh_backward<T>(c.args<ElementwiseArgs>(), in_ptr<T>(c, 0), in_ptr<T>(c, 1),
                            out_ptr<T>(c, 0));
  });
}

void scale_forward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    k::scale_forward<T>(c.args<ElementwiseArgs>(), in_ptr<T>(c, 0), out_ptr<T>(c, 0));
  });
}
// The adjoint of y = alpha * x is dx = alpha * dy: the same kernel.
void scale_backward(const OpCall& c) { scale_forward(c); }

void add_forward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    k::add_forward<T>(c.args<BroadcastArgs>(), in_ptr<T>(c, 0), in_ptr<T>(c, 1),
                      out_ptr<T>(c, 0));
  });
}
void add_backward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    k::add_backward<T>(c.args<BroadcastArgs>(), in_ptr<T>(c, 0), out_ptr<T>(c, 0),
                       out_ptr<T>(c, 1));
  });
}

void mul_forward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    k::mul_forward<T>(c.args<BroadcastArgs>(), in_ptr<T>(c, 0), in_ptr<T>(c, 1),
                      out_ptr<T>(c, 0));
  });
}
void mul_backward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    k::mul_backward<T>(c.args<BroadcastArgs>(), in_ptr<T>(c, 0), in_ptr<T>(c, 1),
                       in_ptr<T>(c, 2), out_ptr<T>(c, 0), out_ptr<T>(c, 1));
  });
}

}  // namespace ldm::cpu_backend
