// Include first in every kernels/cuda source: under nvcc the CUDA runtime, under g++ the SIMT
// emulator's version of the same dialect (kernels/emu/cuda_emu.h), so one source builds both
// ways.
#pragma once

#ifdef __CUDACC__
#include <cuda_runtime.h>
// `LDM_DYNAMIC_SHARED(float, tile);` declares `float* tile` over the block's dynamic shared
// memory (the emulator's version guards it and fills it with NaN bytes).
#define LDM_DYNAMIC_SHARED(type, name)                                 \
  extern __shared__ __align__(16) unsigned char ldm_dynamic_shared_[]; \
  type* name = reinterpret_cast<type*>(ldm_dynamic_shared_)
#else
#include "kernels/emu/cuda_emu.h"
#endif
