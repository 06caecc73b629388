// The CUDA backend's entry points: for each op of LDM_OPS, name_forward and (when the op has a
// backward) name_backward, adapting an OpCall to the launchers of kernels/cuda. The in/out
// order of each is the CPU backend's (documented at the op wrappers in core/ops/).
#pragma once

#include "core/dispatch.h"
#include "kernels/cuda/dialect.h"

namespace ldm::cuda_backend::inline LDM_CUDA_TARGET {

#define LDM_DECLARE_kYes(snake) void snake##_backward(const OpCall& call);
#define LDM_DECLARE_kNo(snake)
#define LDM_DECLARE_CUDA_OP(Camel, snake, grad) \
  void snake##_forward(const OpCall& call);     \
  LDM_DECLARE_##grad(snake)
LDM_OPS(LDM_DECLARE_CUDA_OP)
#undef LDM_DECLARE_CUDA_OP
#undef LDM_DECLARE_kYes
#undef LDM_DECLARE_kNo

// The dispatch table core/dispatch.cpp uses for this target's device.
const OpImpl* op_table();

}  // namespace ldm::cuda_backend::inline LDM_CUDA_TARGET
