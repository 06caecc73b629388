// The one way kernels/cuda launches a kernel: `<<<>>>` under nvcc, the SIMT emulator under g++.
// A function template, not a macro, so that both builds type-check the arguments against the
// kernel's parameters.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "kernels/cuda/dialect.h"

namespace ldm::kernels::cuda::inline LDM_CUDA_TARGET {

// Blocks for a grid-stride loop over n elements with `threads` a block: enough to cover n, at
// most max_blocks (every loop in kernels/cuda strides, so fewer blocks are still correct).
inline dim3 grid_for(int64_t n, int threads, int64_t max_blocks = 1024) {
  const int64_t blocks = (n + threads - 1) / threads;
  return dim3(static_cast<unsigned>(blocks < 1 ? 1 : (blocks > max_blocks ? max_blocks : blocks)));
}

template <typename... Params, typename... Args>
void launch(void (*kernel)(Params...), dim3 grid, dim3 block, std::size_t shared_bytes,
            cudaStream_t stream, Args&&... args) {
  static_assert(sizeof...(Params) == sizeof...(Args), "launch: wrong number of kernel arguments");
#ifdef __CUDACC__
  kernel<<<grid, block, shared_bytes, stream>>>(std::forward<Args>(args)...);
  // A launch the device refuses (too much shared memory, a bad configuration) fails here, not
  // at some later synchronization: that is a bug in the launcher, so stop with the reason.
  if (const cudaError_t status = cudaGetLastError(); status != cudaSuccess) {
    std::fprintf(stderr, "kernels/cuda: kernel launch (grid %u x %u x %u, block %u x %u x %u, "
                         "%zu B dynamic shared) failed: %s\n",
                 grid.x, grid.y, grid.z, block.x, block.y, block.z, shared_bytes,
                 cudaGetErrorString(status));
    std::abort();
  }
#else
  (void)stream;  // the emulator runs every launch to completion, in order
  ::ldm::emu::run_grid(grid, block, shared_bytes, [&] { kernel(static_cast<Params>(args)...); });
#endif
}

}  // namespace ldm::kernels::cuda::inline LDM_CUDA_TARGET
