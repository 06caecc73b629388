// CUDA group normalization (see norm.h). As in kernels/cpu/norm.cpp, statistics and the
// backward's reductions accumulate in double (each thread's share, then a warp butterfly and
// the warps in order: a fixed tree, so results are the same run to run) and the normalization
// is two-pass (mean, then squared deviations: no cancellation). A group's D*HW values are
// contiguous, so one block per (n, group) reads them coalesced; when they fit, the block keeps
// them in shared memory, so global memory is read once and written once. Intra-block indices
// are 32-bit: a group (and N * HW per channel) is assumed below 2^31 elements.
#include <cstddef>

#include "kernels/cuda/launch.h"
#include "kernels/cuda/norm.h"

namespace ldm::kernels::cuda::inline LDM_CUDA_TARGET {
namespace {

constexpr int kMaxThreads = 256;
constexpr int kMaxWarps = kMaxThreads / 32;
// Dynamic shared memory a block may take without opting in (cudaFuncSetAttribute).
constexpr std::size_t kMaxSharedBytes = 48 * 1024;

// Threads for a block that loops over n elements: whole warps (the reductions shuffle over
// full warps), at most kMaxThreads.
int threads_for(int64_t n) {
  const int64_t warps = (n + 31) / 32;
  return static_cast<int>(warps < 1 ? 32 : (warps > kMaxWarps ? kMaxThreads : warps * 32));
}

struct Sum2 {
  double a, b;
};

// The block's total of v, returned to every thread: a butterfly in each warp (every lane ends
// with the same bits, since a + b == b + a), then the warps' sums in warp order. scratch holds
// 2 * kMaxWarps doubles; blockDim.x is a multiple of 32. The trailing barrier lets the caller
// reuse scratch at once.
__device__ Sum2 block_sum(Sum2 v, double* scratch) {
  for (int m = 16; m >= 1; m >>= 1) {
    v.a += __shfl_xor_sync(0xffffffffu, v.a, m);
    v.b += __shfl_xor_sync(0xffffffffu, v.b, m);
  }
  const int warp = static_cast<int>(threadIdx.x) / 32;
  if (threadIdx.x % 32 == 0) {
    scratch[2 * warp] = v.a;
    scratch[2 * warp + 1] = v.b;
  }
  __syncthreads();
  Sum2 total{0.0, 0.0};
  const int warps = static_cast<int>(blockDim.x) / 32;
  for (int w = 0; w < warps; ++w) {
    total.a += scratch[2 * w];
    total.b += scratch[2 * w + 1];
  }
  __syncthreads();
  return total;
}

// One block per (n, g). Dynamic shared memory: scale, shift [D] (the affine folded with the
// statistics, as the CPU folds them), then the group's x [D * HW] when `cached`.
__global__ void group_norm_forward_kernel(int D, int HW, int G, double eps, bool cached,
                                          const float* __restrict__ x,
                                          const float* __restrict__ gamma,
                                          const float* __restrict__ beta, float* __restrict__ y,
                                          float* __restrict__ mean, float* __restrict__ rstd) {
  __shared__ double scratch[2 * kMaxWarps];
  LDM_DYNAMIC_SHARED(float, smem);
  float* scale = smem;
  float* shift = smem + D;
  float* xs = smem + 2 * D;
  const int group_size = D * HW;
  const double count = group_size > 0 ? group_size : 1;
  const int64_t ng = blockIdx.x;
  const int g = static_cast<int>(ng % G);
  const int tid = threadIdx.x, T = blockDim.x;
  const float* xg = x + ng * group_size;

  double s = 0.0;
  for (int i = tid; i < group_size; i += T) {
    const float v = xg[i];
    if (cached) xs[i] = v;
    s += v;
  }
  const double m = block_sum({s, 0.0}, scratch).a / count;
  // Each thread rereads only the elements it cached itself, so no barrier is needed for xs.
  const float* src = cached ? xs : xg;
  double q = 0.0;
  for (int i = tid; i < group_size; i += T) {
    const double d = static_cast<double>(src[i]) - m;
    q += d * d;
  }
  const double r = 1.0 / sqrt(block_sum({q, 0.0}, scratch).a / count + eps);
  if (tid == 0) {
    if (mean) mean[ng] = static_cast<float>(m);
    if (rstd) rstd[ng] = static_cast<float>(r);
  }
  for (int d = tid; d < D; d += T) {
    const int c = g * D + d;
    const double k = r * (gamma ? static_cast<double>(gamma[c]) : 1.0);
    scale[d] = static_cast<float>(k);
    shift[d] = static_cast<float>((beta ? static_cast<double>(beta[c]) : 0.0) - m * k);
  }
  __syncthreads();
  float* yg = y + ng * group_size;
  for (int i = tid; i < group_size; i += T) {
    const int d = i / HW;
    yg[i] = __fmaf_rn(src[i], scale[d], shift[d]);
  }
}

// dx for one (n, g) per block: dx = k1[c] * dy + k2 * x + k3 with k1 = rstd * gamma and k2, k3
// from the group's sums of gamma * dy * x and gamma * dy (PyTorch's and the CPU's formulas).
// Dynamic shared memory: gamma [D] (1 when null), k1 [D], then the group's dy and x
// [2 * D * HW] when `cached`.
__global__ void group_norm_dx_kernel(int D, int HW, int G, bool cached, const float* __restrict__ x,
                                     const float* __restrict__ gamma,
                                     const float* __restrict__ mean, const float* __restrict__ rstd,
                                     const float* __restrict__ dy, float* __restrict__ dx) {
  __shared__ double scratch[2 * kMaxWarps];
  LDM_DYNAMIC_SHARED(float, smem);
  float* gm = smem;
  float* k1 = smem + D;
  const int group_size = D * HW;
  float* dys = smem + 2 * D;
  float* xs = dys + group_size;
  const double count = group_size > 0 ? group_size : 1;
  const int64_t ng = blockIdx.x;
  const int g = static_cast<int>(ng % G);
  const int tid = threadIdx.x, T = blockDim.x;
  const float* xg = x + ng * group_size;
  const float* dyg = dy + ng * group_size;

  for (int d = tid; d < D; d += T) gm[d] = gamma ? gamma[g * D + d] : 1.0f;
  __syncthreads();
  double ds = 0.0, db = 0.0;
  for (int i = tid; i < group_size; i += T) {
    const float gv = dyg[i], xv = xg[i];
    if (cached) {
      dys[i] = gv;
      xs[i] = xv;
    }
    const double gg = static_cast<double>(gv) * gm[i / HW];
    ds += gg * xv;
    db += gg;
  }
  const Sum2 sums = block_sum({ds, db}, scratch);
  const double m = mean[ng], r = rstd[ng];
  const double c2 = (sums.b * m - sums.a) * r * r * r / count;
  const double c3 = -c2 * m - sums.b * r / count;
  const float k2 = static_cast<float>(c2), k3 = static_cast<float>(c3);
  for (int d = tid; d < D; d += T) k1[d] = static_cast<float>(r * gm[d]);
  __syncthreads();
  const float* gsrc = cached ? dys : dyg;
  const float* xsrc = cached ? xs : xg;
  float* dxg = dx + ng * group_size;
  for (int i = tid; i < group_size; i += T) {
    dxg[i] = __fmaf_rn(gsrc[i], k1[i / HW], __fmaf_rn(xsrc[i], k2, k3));
  }
}

// dgamma[c] = sum_{n, hw} dy * (x - mean) * rstd and dbeta[c] = sum_{n, hw} dy, one block per
// channel, each reducing its N * HW elements in one fixed tree (no atomics). Either output may
// be null; mean, rstd and x are read only for dgamma.
__global__ void group_norm_params_kernel(int N, int C, int HW, int G, const float* __restrict__ x,
                                         const float* __restrict__ mean,
                                         const float* __restrict__ rstd,
                                         const float* __restrict__ dy, float* __restrict__ dgamma,
                                         float* __restrict__ dbeta) {
  __shared__ double scratch[2 * kMaxWarps];
  const int c = blockIdx.x;
  const int g = c / (C / G);
  const int count = N * HW;
  double sg = 0.0, sb = 0.0;
  for (int j = threadIdx.x; j < count; j += blockDim.x) {
    const int n = j / HW;
    const int64_t i = (static_cast<int64_t>(n) * C + c) * HW + (j - n * HW);
    const double gv = dy[i];
    if (dgamma) {
      const double xhat = (static_cast<double>(x[i]) - mean[n * G + g]) * rstd[n * G + g];
      sg += gv * xhat;
    }
    sb += gv;
  }
  const Sum2 sums = block_sum({sg, sb}, scratch);
  if (threadIdx.x == 0) {
    if (dgamma) dgamma[c] = static_cast<float>(sums.a);
    if (dbeta) dbeta[c] = static_cast<float>(sums.b);
  }
}

}  // namespace

void group_norm_forward(const GroupNormArgs& a, const float* x, const float* gamma,
                        const float* beta, float* y, float* mean, float* rstd,
                        cudaStream_t stream) {
  if (a.N == 0 || a.C == 0) return;
  const int64_t D = a.C / a.groups, group_size = D * a.HW;
  const std::size_t affine_bytes = 2 * D * sizeof(float);
  const bool cached = affine_bytes + group_size * sizeof(float) <= kMaxSharedBytes;
  const std::size_t shared = affine_bytes + (cached ? group_size * sizeof(float) : 0);
  launch(group_norm_forward_kernel, dim3(static_cast<unsigned>(a.N * a.groups)),
         dim3(threads_for(group_size)), shared, stream, static_cast<int>(D), static_cast<int>(a.HW),
         static_cast<int>(a.groups), a.eps, cached, x, gamma, beta, y, mean, rstd);
}

void group_norm_backward(const GroupNormArgs& a, const float* x, const float* gamma,
                         const float* mean, const float* rstd, const float* dy, float* dx,
                         float* dgamma, float* dbeta, cudaStream_t stream) {
  if (a.C == 0) return;
  const int64_t D = a.C / a.groups, group_size = D * a.HW;
  if (dx && a.N > 0) {
    const std::size_t param_bytes = 2 * D * sizeof(float);
    const bool cached = param_bytes + 2 * group_size * sizeof(float) <= kMaxSharedBytes;
    const std::size_t shared = param_bytes + (cached ? 2 * group_size * sizeof(float) : 0);
    launch(group_norm_dx_kernel, dim3(static_cast<unsigned>(a.N * a.groups)),
           dim3(threads_for(group_size)), shared, stream, static_cast<int>(D),
           static_cast<int>(a.HW), static_cast<int>(a.groups), cached, x, gamma, mean, rstd, dy,
           dx);
  }
  // With N = 0 the parameter gradients are still written (as zeros), as the CPU writes them.
  if (dgamma || dbeta) {
    launch(group_norm_params_kernel, dim3(static_cast<unsigned>(a.C)),
           dim3(threads_for(a.N * a.HW)), 0, stream, static_cast<int>(a.N), static_cast<int>(a.C),
           static_cast<int>(a.HW), static_cast<int>(a.groups), x, mean, rstd, dy, dgamma, dbeta);
  }
}

}  // namespace ldm::kernels::cuda::inline LDM_CUDA_TARGET
