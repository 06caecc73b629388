// The CUDA backend's dispatch table (one per target: emu, gpu), generated from LDM_OPS, and its
// stream and dtype helpers.
#include <array>

#include "core/backend_cuda/adapter.h"
#include "core/backend_cuda/cuda_ops.h"
#ifdef LDM_CUDA_RUNTIME
#include "core/cuda/runtime.h"
#endif

namespace ldm::cuda_backend::inline LDM_CUDA_TARGET {
namespace {

#define LDM_BACKWARD_kYes(snake) &snake##_backward
#define LDM_BACKWARD_kNo(snake) nullptr
#define LDM_CUDA_ENTRY(Camel, snake, grad) OpImpl{&snake##_forward, LDM_BACKWARD_##grad(snake)},

constexpr std::array<OpImpl, kOpCount> kOps = {LDM_OPS(LDM_CUDA_ENTRY)};

#undef LDM_CUDA_ENTRY
#undef LDM_BACKWARD_kYes
#undef LDM_BACKWARD_kNo

}  // namespace

const OpImpl* op_table() { return kOps.data(); }

cudaStream_t stream() {
#ifdef LDM_CUDA_RUNTIME
  return static_cast<cudaStream_t>(cuda_runtime::compute_stream());
#else
  return nullptr;
#endif
}

void require_f32(const OpCall& call, const char* op) {
  for (const Tensor& t : call.in)
    if (t.defined() && is_floating(t.dtype()) && t.dtype() != DType::kF32)
      fail(op, ": the CUDA kernels run f32 only, got a ", t.description(), " input");
}

}  // namespace ldm::cuda_backend::inline LDM_CUDA_TARGET
