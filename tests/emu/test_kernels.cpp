#include "tests/emu/test_kernels.h"

namespace ldm::test::emu_kernels {

__global__ void block_sum(const float* in, float* out) {
  __shared__ float partial[256];
  const unsigned t = threadIdx.x;
  partial[t] = in[blockIdx.x * blockDim.x + t];
  __syncthreads();
  for (unsigned stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (t < stride) partial[t] += partial[t + stride];
    __syncthreads();
  }
  if (t == 0) out[blockIdx.x] = partial[0];
}

__global__ void block_sum_missing_barrier(const float* in, float* out) {
  __shared__ float partial[256];
  const unsigned t = threadIdx.x;
  partial[t] = in[blockIdx.x * blockDim.x + t];
  // (the __syncthreads that belongs here is missing)
  for (unsigned stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (t < stride) partial[t] += partial[t + stride];
    __syncthreads();
  }
  if (t == 0) out[blockIdx.x] = partial[0];
}

__global__ void neighbour_sum_missing_barrier(const float* in, float* out) {
  __shared__ float values[256];
  const unsigned t = threadIdx.x;
  values[t] = in[t];
  // (the __syncthreads that belongs here is missing)
  out[t] = values[t] + (t > 0 ? values[t - 1] : 0.0f);
}

__global__ void barrier_in_branch(int half) {
  if (static_cast<int>(threadIdx.x) < half) __syncthreads();
}

__global__ void barrier_per_parity() {
  if (threadIdx.x % 2 == 0) {
    __syncthreads();
  } else {
    __syncthreads();
  }
}

__global__ void shared_write_past_end(float* out) {
  LDM_DYNAMIC_SHARED(float, buffer);
  buffer[threadIdx.x + 1] = static_cast<float>(threadIdx.x);
  __syncthreads();
  out[threadIdx.x] = buffer[threadIdx.x];
}

__global__ void static_shared_write_past_end(float* out) {
  __shared__ float buffer[32];
  buffer[threadIdx.x + 1] = static_cast<float>(threadIdx.x);
  __syncthreads();
  out[threadIdx.x] = buffer[threadIdx.x % 32];
}

__global__ void warp_sum_xor(const float* in, float* out) {
  const unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
  float v = in[i];
  for (int offset = warpSize / 2; offset > 0; offset /= 2) {
    v += __shfl_xor_sync(0xffffffffu, v, offset);
  }
  if (threadIdx.x % warpSize == 0) out[i / warpSize] = v;
}

__global__ void warp_prefix_up(const float* in, float* out) {
  const unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
  const unsigned lane = threadIdx.x % warpSize;
  float v = in[i];
  for (unsigned offset = 1; offset < 32; offset *= 2) {
    const float from = __shfl_up_sync(0xffffffffu, v, offset);
    if (lane >= offset) v += from;
  }
  out[i] = v;
}

__global__ void warp_shift_down(const float* in, float* out, unsigned delta) {
  const unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
  out[i] = __shfl_down_sync(0xffffffffu, in[i], delta);
}

__global__ void shuffle_outside_mask(float* out) {
  const unsigned lane = threadIdx.x % warpSize;
  if (lane < 16) out[lane] = __shfl_sync(0x0000ffffu, static_cast<float>(lane), 20);
}

__global__ void shuffle_with_absent_lanes(float* out) {
  const unsigned lane = threadIdx.x % warpSize;
  if (lane < 16) out[lane] = __shfl_sync(0xffffffffu, static_cast<float>(lane), 0);
}

__global__ void votes(unsigned* out) {
  const unsigned lane = threadIdx.x % warpSize;
  unsigned* o = out + 4 * (threadIdx.x / warpSize);
  const unsigned odd = __ballot_sync(0xffffffffu, lane % 2 == 1);
  const int any7 = __any_sync(0xffffffffu, lane == 7);
  const int all32 = __all_sync(0xffffffffu, lane < 32);
  const int all31 = __all_sync(0xffffffffu, lane < 31);
  if (lane == 0) {
    o[0] = odd;
    o[1] = static_cast<unsigned>(any7);
    o[2] = static_cast<unsigned>(all32);
    o[3] = static_cast<unsigned>(all31);
  }
}

__global__ void shared_starts_poisoned(const float* in, float* before, float* after) {
  __shared__ float first;
  if (threadIdx.x == 0) {
    before[blockIdx.x] = first;
    first = in[blockIdx.x];
  }
  __syncthreads();
  if (threadIdx.x == blockDim.x - 1) after[blockIdx.x] = first;
}

__global__ void count_threads(int* counter, int* order, int* next) {
  atomicAdd(counter, 1);
  if (threadIdx.x == 0) order[blockIdx.x] = atomicAdd(next, 1);
}

}  // namespace ldm::test::emu_kernels
