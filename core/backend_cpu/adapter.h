// Helpers for the CPU adapters: typed pointers out of an OpCall, null for undefined tensors.
#pragma once

#include "core/dispatch.h"

namespace ldm::cpu_backend {

template <typename T>
const T* in_ptr(const OpCall& call, size_t i) {
  const Tensor& t = call.in[i];
  return t.defined() ? t.data<T>() : nullptr;
}

template <typename T>
T* out_ptr(const OpCall& call, size_t i) {
  const Tensor& t = call.out[i];
  return t.defined() ? t.data<T>() : nullptr;
}

// The floating dtype of the op: the first defined input's.
inline DType op_dtype(const OpCall& call) {
  for (const Tensor& t : call.in)
    if (t.defined() && is_floating(t.dtype())) return t.dtype();
  for (const Tensor& t : call.out)
    if (t.defined() && is_floating(t.dtype())) return t.dtype();
  return DType::kF32;
}

}  // namespace ldm::cpu_backend
