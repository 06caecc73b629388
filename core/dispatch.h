// Backend dispatch. An op wrapper (core/ops) validates shapes, allocates outputs and calls
// run_op(); the backend of the inputs' device gets an OpCall with tensors and the op's kernel
// argument struct (kernels/args.h). Each backend provides `name_forward` and, for ops with a
// backward, `name_backward` for every op of LDM_OPS; the order of `in`/`out` for each is
// documented at the op's wrapper in core/ops/.
#pragma once

#include <initializer_list>
#include <span>

#include "core/op_list.h"
#include "core/tensor.h"

namespace ldm {

struct OpCall {
  std::span<const Tensor> in;
  std::span<const Tensor> out;  // handles are const; their contents are written
  const void* params = nullptr;

  template <typename Params>
  const Params& args() const {
    return *static_cast<const Params*>(params);
  }
};

using OpFn = void (*)(const OpCall&);

struct OpImpl {
  OpFn forward = nullptr;
  OpFn backward = nullptr;  // null for Grad::kNo ops
};

enum class Pass { kForward, kBackward };

// Runs one pass of `op` on the backend of `device`.
void run_op(OpKind op, Pass pass, Device device, std::initializer_list<Tensor> in,
            std::initializer_list<Tensor> out, const void* params);
void run_op(OpKind op, Pass pass, Device device, std::span<const Tensor> in,
            std::span<const Tensor> out, const void* params);

// Calls f.template operator()<T>() with T = float or double for a floating tensor dtype.
template <typename F>
void dispatch_floating(DType dtype, F&& f) {
  switch (dtype) {
    case DType::kF32: f.template operator()<float>(); return;
    case DType::kF64: f.template operator()<double>(); return;
    default: fail("dtype ", dtype_name(dtype), " is not supported by this kernel");
  }
}

}  // namespace ldm
