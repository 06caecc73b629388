// CPU adapters for linear, matmul, softmax and attention.
#include "kernels/cpu/matmul.h"

#include "core/backend_cpu/adapter.h"
#include "core/backend_cpu/cpu_ops.h"

namespace ldm::cpu_backend {

using kernels::AttentionArgs;
using kernels::MatmulArgs;
using kernels::SoftmaxArgs;
namespace k = kernels::cpu;

void linear_forward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    k::linear_forward<T>(c.args<MatmulArgs>(), in_ptr<T>(c, 0), in_ptr<T>(c, 1), in_ptr<T>(c, 2),
                         out_ptr<T>(c, 0));
  });
}
void linear_backward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    k::linear_backward<T>(c.args<MatmulArgs>(), in_ptr<T>(c, 0), in_ptr<T>(c, 1),
                          in_ptr<T>(c, 2), out_ptr<T>(c, 0), out_ptr<T>(c, 1), out_ptr<T>(c, 2));
  });
}

void matmul_forward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    k::matmul_forward<T>(c.args<MatmulArgs>(), in_ptr<T>(c, 0), in_ptr<T>(c, 1),
                         out_ptr<T>(c, 0));
  });
}
void matmul_backward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    k::matmul_backward<T>(c.args<MatmulArgs>(), in_ptr<T>(c, 0), in_ptr<T>(c, 1),
                          in_ptr<T>(c, 2), out_ptr<T>(c, 0), out_ptr<T>(c, 1));
  });
}

void softmax_forward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    k::softmax_forward<T>(c.args<SoftmaxArgs>(), in_ptr<T>(c, 0), out_ptr<T>(c, 0));
  });
}
void softmax_backward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    k::softmax_backward<T>(c.args<SoftmaxArgs>(), in_ptr<T>(c, 0), in_ptr<T>(c, 1),
                           out_ptr<T>(c, 0));
  });
}

void attention_forward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    k::attention_forward<T>(c.args<AttentionArgs>(), in_ptr<T>(c, 0), in_ptr<T>(c, 1),
                            in_ptr<T>(c, 2), out_ptr<T>(c, 0), out_ptr<T>(c, 1));
  });
}
void attention_backward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    k::attention_backward<T>(c.args<AttentionArgs>(), in_ptr<T>(c, 0), in_ptr<T>(c, 1),
                             in_ptr<T>(c, 2), in_ptr<T>(c, 3), in_ptr<T>(c, 4), out_ptr<T>(c, 0),
                             out_ptr<T>(c, 1), out_ptr<T>(c, 2));
  });
}

}  // namespace ldm::cpu_backend
