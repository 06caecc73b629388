// Small CUDA kernels for the emulator's own tests, correct ones and ones with planted bugs.
// Written in the CUDA dialect (kernels/cuda/dialect.h), so they would build under nvcc too.
#pragma once

#include "kernels/cuda/dialect.h"

namespace ldm::test::emu_kernels {

// out[block] = sum of in[block * blockDim.x .. + blockDim.x): a shared-memory tree reduction.
// blockDim.x must be a power of two <= 256.
__global__ void block_sum(const float* in, float* out);

// The same reduction without the barrier after the shared-memory store (planted bug).
__global__ void block_sum_missing_barrier(const float* in, float* out);

// out[i] = in[i] + in[i - 1] through shared memory (in[-1] taken as 0), without a barrier
// between the store and the neighbour's load (planted bug): right when the threads happen to
// run in index order, wrong otherwise.
__global__ void neighbour_sum_missing_barrier(const float* in, float* out);

// Threads below `half` wait at a barrier the others skip (planted bug).
__global__ void barrier_in_branch(int half);

// Even and odd threads wait at two different __syncthreads (planted bug).
__global__ void barrier_per_parity();

// Each thread writes its index one element past its own into dynamic shared memory of
// blockDim.x floats: the last thread writes past the end (planted bug).
__global__ void shared_write_past_end(float* out);

// The same with a static __shared__ array of blockDim.x floats (for ASan's redzones).
__global__ void static_shared_write_past_end(float* out);

// out[warp] = sum over the warp of in[thread], by __shfl_xor_sync butterflies.
__global__ void warp_sum_xor(const float* in, float* out);

// out[thread] = inclusive prefix sum over the warp by __shfl_up_sync.
__global__ void warp_prefix_up(const float* in, float* out);

// out[thread] = in[thread + delta] within the warp, own value past its end (__shfl_down_sync).
__global__ void warp_shift_down(const float* in, float* out, unsigned delta);

// Lanes 0-15 shuffle with mask 0x0000ffff but read lane 20, outside the mask (planted bug).
__global__ void shuffle_outside_mask(float* out);

// Lanes 0-15 call a shuffle whose mask names all 32 lanes; lanes 16-31 skip it (planted bug).
__global__ void shuffle_with_absent_lanes(float* out);

// out[0] = ballot of (lane is odd), out[1] = any(lane == 7), out[2] = all(lane < 32),
// out[3] = all(lane < 31), per warp at out + 4 * warp.
__global__ void votes(unsigned* out);

// *counter += 1 from every thread of the grid; slot[blockIdx] = the block's arrival rank.
__global__ void count_threads(int* counter, int* order, int* next);

// before[block] = a static __shared__ value read before the block stores in[block] to it,
// after[block] = read back after a barrier: before is the emulator's NaN fill, never what the
// previous block stored.
__global__ void shared_starts_poisoned(const float* in, float* before, float* after);

}  // namespace ldm::test::emu_kernels
