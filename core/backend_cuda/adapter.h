// Helpers for the CUDA backend's adapters. core/backend_cuda is compiled twice: against the SIMT
// emulator (the `emu` inline namespace: --device emu) and, with nvcc present, against the CUDA
// runtime with LDM_CUDA_RUNTIME defined (`gpu`: --device cuda). The same adapter source thus
// drives the same kernels/cuda launchers both ways.
#pragma once

#include <cstdint>

#include "core/dispatch.h"
#include "kernels/cuda/dialect.h"

namespace ldm::cuda_backend::inline LDM_CUDA_TARGET {

// The stream every launch of this backend goes on: the device's compute stream (gpu), or none
// (emu: each launch runs to completion in the call).
cudaStream_t stream();

// The kernels are float only; the CPU backend runs f64 (gradient checks).
void require_f32(const OpCall& call, const char* op);

inline const float* in_f32(const OpCall& call, size_t i) {
  const Tensor& t = call.in[i];
  return t.defined() ? static_cast<const float*>(t.raw_data()) : nullptr;
}
inline float* out_f32(const OpCall& call, size_t i) {
  const Tensor& t = call.out[i];
  return t.defined() ? static_cast<float*>(t.raw_data()) : nullptr;
}
inline const int32_t* in_i32(const OpCall& call, size_t i) {
  const Tensor& t = call.in[i];
  return t.defined() ? t.data<int32_t>() : nullptr;
}
inline int32_t* out_i32(const OpCall& call, size_t i) {
  const Tensor& t = call.out[i];
  return t.defined() ? t.data<int32_t>() : nullptr;
}

}  // namespace ldm::cuda_backend::inline LDM_CUDA_TARGET
