// CPU adapters for conv2d and conv_transpose2d.
#include "kernels/cpu/conv.h"

#include "core/backend_cpu/adapter.h"
#include "core/backend_cpu/cpu_ops.h"

namespace ldm::cpu_backend {

using kernels::Conv2dArgs;

void conv2d_forward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    kernels::cpu::conv2d_forward<T>(c.args<Conv2dArgs>(), in_ptr<T>(c, 0), in_ptr<T>(c, 1),
                                    in_ptr<T>(c, 2), out_ptr<T>(c, 0));
  });
}

void conv2d_backward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    kernels::cpu::conv2d_backward<T>(c.args<Conv2dArgs>(), in_ptr<T>(c, 0), in_ptr<T>(c, 1),
                                     in_ptr<T>(c, 2), out_ptr<T>(c, 0), out_ptr<T>(c, 1),
                                     out_ptr<T>(c, 2));
  });
}

void conv_transpose2d_forward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    kernels::cpu::conv_transpose2d_forward<T>(c.args<Conv2dArgs>(), in_ptr<T>(c, 0),
                                              in_ptr<T>(c, 1), in_ptr<T>(c, 2), out_ptr<T>(c, 0));
  });
}

void conv_transpose2d_backward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    kernels::cpu::conv_transpose2d_backward<T>(c.args<Conv2dArgs>(), in_ptr<T>(c, 0),
                                               in_ptr<T>(c, 1), in_ptr<T>(c, 2), out_ptr<T>(c, 0),
                                               out_ptr<T>(c, 1), out_ptr<T>(c, 2));
  });
}

}  // namespace ldm::cpu_backend
