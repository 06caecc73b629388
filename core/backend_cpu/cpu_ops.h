// The CPU backend's entry points: for each op of LDM_OPS, name_forward and (when the op has a
// backward) name_backward, adapting an OpCall to the raw-pointer kernels in kernels/cpu.
#pragma once

#include "core/dispatch.h"

namespace ldm::cpu_backend {

#define LDM_DECLARE_kYes(snake) void snake##_backward(const OpCall& call);
#define LDM_DECLARE_kNo(snake)
#define LDM_DECLARE_CPU_OP(Camel, snake, grad) \
  void snake##_forward(const OpCall& call);    \
  LDM_DECLARE_##grad(snake)
LDM_OPS(LDM_DECLARE_CPU_OP)
#undef LDM_DECLARE_CPU_OP
#undef LDM_DECLARE_kYes
#undef LDM_DECLARE_kNo

}  // namespace ldm::cpu_backend
