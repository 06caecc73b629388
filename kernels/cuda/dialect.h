// Include first in every kernels/cuda source: under nvcc the CUDA runtime, under g++ the SIMT
// emulator's version of the same dialect (kernels/emu/cuda_emu.h), so one source builds both
// ways. Host code that calls the real launchers from g++ (core/backend_cuda, bench/) defines
// LDM_CUDA_RUNTIME to get the CUDA runtime's types instead of the emulator's.
//
// Everything in kernels/cuda lives in `namespace ldm::kernels::cuda::inline LDM_CUDA_TARGET`:
// callers write `kernels::cuda::conv2d_forward`, while the real build's symbols (`gpu`) and the
// emulated build's (`emu`) differ, so one binary can link both libraries without the two
// `launch` templates, whose bodies differ, being merged by the linker.
#pragma once

#if defined(__CUDACC__) || defined(LDM_CUDA_RUNTIME)
#include <cuda_runtime.h>
#define LDM_CUDA_TARGET gpu
#else
#include "kernels/emu/cuda_emu.h"
#define LDM_CUDA_TARGET emu
#endif

#ifdef __CUDACC__
// `LDM_DYNAMIC_SHARED(float, tile);` declares `float* tile` over the block's dynamic shared
// memory (the emulator's version guards it and fills it with NaN bytes).
#define LDM_DYNAMIC_SHARED(type, name)                                 \
  extern __shared__ __align__(16) unsigned char ldm_dynamic_shared_[]; \
  type* name = reinterpret_cast<type*>(ldm_dynamic_shared_)
#endif

// `LDM_UNROLL for (...)`: unroll a loop with a small fixed trip count fully. nvcc spells the
// pragma `unroll`; GCC rejects that under -Werror and spells it `GCC unroll`.
#ifdef __CUDACC__
#define LDM_UNROLL _Pragma("unroll")
#else
#define LDM_UNROLL _Pragma("GCC unroll 16")
#endif
