// Device-side helpers shared by the kernels of kernels/cuda.
#pragma once

#include <cstdint>

#include "kernels/cuda/dialect.h"

namespace ldm::kernels::cuda::inline LDM_CUDA_TARGET {

// body(i) for every i < n, as a grid-stride loop: any grid size covers n (see grid_for).
template <typename Body>
__device__ __forceinline__ void for_each_index(int64_t n, Body body) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride) {
    body(i);
  }
}

}  // namespace ldm::kernels::cuda::inline LDM_CUDA_TARGET
