// CPU adapters for group_norm.
#include "kernels/cpu/norm.h"

#include "core/backend_cpu/adapter.h"
#include "core/backend_cpu/cpu_ops.h"

namespace ldm::cpu_backend {

using kernels::GroupNormArgs;

void group_norm_forward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    kernels::cpu::group_norm_forward<T>(c.args<GroupNormArgs>(), in_ptr<T>(c, 0), in_ptr<T>(c, 1),
                                        in_ptr<T>(c, 2), out_ptr<T>(c, 0), out_ptr<T>(c, 1),
                                        out_ptr<T>(c, 2));
  });
}

void group_norm_backward(const OpCall& c) {
  dispatch_floating(op_dtype(c), [&]<typename T>() {
    kernels::cpu::group_norm_backward<T>(c.args<GroupNormArgs>(), in_ptr<T>(c, 0),
                                         in_ptr<T>(c, 1), in_ptr<T>(c, 2), in_ptr<T>(c, 3),
                                         in_ptr<T>(c, 4), out_ptr<T>(c, 0), out_ptr<T>(c, 1),
                                         out_ptr<T>(c, 2));
  });
}

}  // namespace ldm::cpu_backend
