// CUDA sinusoidal timestep embedding, embedding lookup and the MSE loss (see embedding.h).
// Small, memory- or launch-bound kernels. Every sum has one owner and a fixed order: the
// embedding backward gathers (one thread per table element scans the indices in order, adding
// in float as the CPU does, so dtable is the CPU's bitwise), the timestep backward is one warp
// per row with a fixed shuffle tree, and the loss is a single block's fixed tree in double.
#include "kernels/cuda/embedding.h"

#include <cmath>

#include "kernels/cuda/grid.h"
#include "kernels/cuda/launch.h"

namespace ldm::kernels::cuda::inline LDM_CUDA_TARGET {
namespace {

constexpr int kThreads = 256;
constexpr unsigned kFullMask = 0xffffffffu;

// freq_i as the CPU computes its argument: -ln(max_period) rounded to float, then (neg_log * i)
// / half in float. The CPU then calls expf (glibc: within 0.51 ulp); exp in double rounded once
// is within 0.5 ulp, so the two almost always agree and never differ by more than 1 ulp.
__device__ __forceinline__ float frequency(float neg_log, int64_t i, int64_t half) {
  const float e = __fdiv_rn(__fmul_rn(neg_log, static_cast<float>(i)), static_cast<float>(half));
  return static_cast<float>(exp(static_cast<double>(e)));
}

// out [N, dim]: one thread per element. sin and cos are evaluated in double and rounded once
// (t reaches 1000, where the float argument reduction of a fast sinf would be off).
__global__ void timestep_forward_kernel(int64_t N, int64_t dim, float neg_log,
                                        const float* __restrict__ t, float* __restrict__ out) {
  const int64_t half = dim / 2;
  for_each_index(N * dim, [&](int64_t e) {
    const int64_t n = e / dim, c = e - n * dim;
    float v = 0.0f;  // an odd dim's last column
    if (c < 2 * half) {
      const int64_t i = c < half ? c : c - half;
      const double arg = static_cast<double>(__fmul_rn(t[n], frequency(neg_log, i, half)));
      v = static_cast<float>(c < half ? sin(arg) : cos(arg));
    }
    out[e] = v;
  });
}

// dt[n] = sum_i freq_i (dout[n, i] cos(arg_i) - dout[n, half + i] sin(arg_i)): one warp per row,
// lane l taking i = l, l + 32, ..., in double, then a fixed xor tree across the warp.
__global__ void timestep_backward_kernel(int64_t N, int64_t dim, float neg_log,
                                         const float* __restrict__ t,
                                         const float* __restrict__ dout, float* __restrict__ dt) {
  const int64_t half = dim / 2;
  const int lane = threadIdx.x % warpSize;
  const int64_t warps = static_cast<int64_t>(blockDim.x / warpSize);
  // Row index is uniform over a warp, so every lane reaches the shuffles.
  for (int64_t n = blockIdx.x * warps + threadIdx.x / warpSize; n < N; n += gridDim.x * warps) {
    const float* g = dout + n * dim;
    const float tn = t[n];
    double acc = 0.0;
    for (int64_t i = lane; i < half; i += warpSize) {
      const float f = frequency(neg_log, i, half);
      const double arg = static_cast<double>(__fmul_rn(tn, f));
      const double c = static_cast<float>(cos(arg)), s = static_cast<float>(sin(arg));
      acc += static_cast<double>(f) *
             (static_cast<double>(g[i]) * c - static_cast<double>(g[half + i]) * s);
    }
    for (int w = warpSize / 2; w > 0; w /= 2) acc += __shfl_xor_sync(kFullMask, acc, w);
    if (lane == 0) dt[n] = static_cast<float>(acc);
  }
}

__global__ void embedding_forward_kernel(int64_t N, int64_t D, const float* __restrict__ table,
                                         const int32_t* __restrict__ idx, float* __restrict__ out) {
  for_each_index(N * D, [&](int64_t e) {
    const int64_t n = e / D, d = e - n * D;
    out[e] = table[static_cast<int64_t>(idx[n]) * D + d];
  });
}

// dtable[v, d] = sum of dout[n, d] over the n with idx[n] == v, in increasing n, in float: the
// CPU's order and rounding. The indices go through shared memory a chunk at a time (every
// thread of a block scans the same chunk); the grid-stride loop is uniform over the block so
// every thread reaches the barriers.
constexpr int kIndexChunk = kThreads;

__global__ void embedding_backward_kernel(int64_t N, int64_t V, int64_t D,
                                          const int32_t* __restrict__ idx,
                                          const float* __restrict__ dout,
                                          float* __restrict__ dtable) {
  __shared__ int32_t chunk[kIndexChunk];
  const int64_t total = V * D, stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t base = static_cast<int64_t>(blockIdx.x) * blockDim.x; base < total; base += stride) {
    const int64_t e = base + threadIdx.x;
    const bool active = e < total;
    const int64_t v = active ? e / D : 0, d = active ? e - v * D : 0;
    float acc = 0.0f;
    for (int64_t n0 = 0; n0 < N; n0 += kIndexChunk) {
      const int64_t m = N - n0 < kIndexChunk ? N - n0 : kIndexChunk;
      if (static_cast<int64_t>(threadIdx.x) < m) chunk[threadIdx.x] = idx[n0 + threadIdx.x];
      __syncthreads();
      if (active) {
        for (int64_t j = 0; j < m; ++j) {
          if (chunk[j] == v) acc = __fadd_rn(acc, dout[(n0 + j) * D + d]);
        }
      }
      __syncthreads();  // the chunk is read before the next one overwrites it
    }
    if (active) dtable[e] = acc;
  }
}

// The loss as one block: thread t sums (x - y)^2 over i = t, t + T, ... in double, then a
// fixed tree over the partials in shared memory. n is at most a few hundred thousand here, so
// one block streaming it is a few microseconds, and a second pass (and its scratch) is avoided.
constexpr int kLossThreads = 512;

__global__ void mse_forward_kernel(int64_t n, const float* __restrict__ x,
                                   const float* __restrict__ y, float* __restrict__ loss) {
  __shared__ double partial[kLossThreads];
  const int t = threadIdx.x;
  double acc = 0.0;
  for (int64_t i = t; i < n; i += kLossThreads) {
    const double d = static_cast<double>(x[i]) - static_cast<double>(y[i]);
    acc += d * d;
  }
  partial[t] = acc;
  __syncthreads();
  for (int w = kLossThreads / 2; w > 0; w /= 2) {
    if (t < w) partial[t] += partial[t + w];
    __syncthreads();
  }
  // n == 0 gives NaN, the mean of nothing (as the CPU and PyTorch).
  if (t == 0) *loss = static_cast<float>(partial[0] / static_cast<double>(n));
}

// dx = coef (x - y), dy = -coef (x - y) with coef = 2 dloss / n rounded to float, as the CPU.
// dloss lives on the device; one thread a block derives coef (a double division) for the rest.
__global__ void mse_backward_kernel(int64_t n, const float* __restrict__ x,
                                    const float* __restrict__ y, const float* __restrict__ dloss,
                                    float* __restrict__ dx, float* __restrict__ dy) {
  __shared__ float coef_shared;
  if (threadIdx.x == 0) {
    coef_shared = static_cast<float>(2.0 * static_cast<double>(*dloss) / static_cast<double>(n));
  }
  __syncthreads();
  const float coef = coef_shared;
  for_each_index(n, [&](int64_t i) {
    const float d = __fsub_rn(x[i], y[i]);
    if (dx) dx[i] = __fmul_rn(coef, d);
    if (dy) dy[i] = __fmul_rn(-coef, d);
  });
}

}  // namespace

void timestep_embedding_forward(const TimestepEmbeddingArgs& a, const float* t, float* out,
                                cudaStream_t stream) {
  if (a.N == 0 || a.dim == 0) return;
  const float neg_log = static_cast<float>(-std::log(a.max_period));
  launch(timestep_forward_kernel, grid_for(a.N * a.dim, kThreads), dim3(kThreads), 0, stream, a.N,
         a.dim, neg_log, t, out);
}

void timestep_embedding_backward(const TimestepEmbeddingArgs& a, const float* t, const float* dout,
                                 float* dt, cudaStream_t stream) {
  if (a.N == 0 || !dt) return;
  const float neg_log = static_cast<float>(-std::log(a.max_period));
  constexpr int kRowsPerBlock = kThreads / 32;
  launch(timestep_backward_kernel, grid_for(a.N, kRowsPerBlock), dim3(kThreads), 0, stream, a.N,
         a.dim, neg_log, t, dout, dt);
}

void embedding_forward(const EmbeddingArgs& a, const float* table, const int32_t* idx, float* out,
                       cudaStream_t stream) {
  if (a.N == 0 || a.D == 0) return;
  launch(embedding_forward_kernel, grid_for(a.N * a.D, kThreads), dim3(kThreads), 0, stream, a.N,
         a.D, table, idx, out);
}

void embedding_backward(const EmbeddingArgs& a, const int32_t* idx, const float* dout,
                        float* dtable, cudaStream_t stream) {
  if (a.V == 0 || a.D == 0 || !dtable) return;
  launch(embedding_backward_kernel, grid_for(a.V * a.D, kThreads), dim3(kThreads), 0, stream, a.N,
         a.V, a.D, idx, dout, dtable);
}

void mse_loss_forward(int64_t n, const float* x, const float* y, float* loss, cudaStream_t stream) {
  // Launched for n == 0 too: the loss is then NaN, as the CPU's.
  launch(mse_forward_kernel, dim3(1), dim3(kLossThreads), 0, stream, n, x, y, loss);
}

void mse_loss_backward(int64_t n, const float* x, const float* y, const float* dloss, float* dx,
                       float* dy, cudaStream_t stream) {
  if (n == 0 || (!dx && !dy)) return;
  launch(mse_backward_kernel, grid_for(n, kThreads), dim3(kThreads), 0, stream, n, x, y, dloss, dx,
         dy);
}

}  // namespace ldm::kernels::cuda::inline LDM_CUDA_TARGET
