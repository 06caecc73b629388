// CUDA AdamW and EMA updates (see optim.h). Memory-bound grid-stride passes: AdamW reads
// param, grad, m, v and writes param, m, v (28 bytes an element), EMA reads two vectors and
// writes one (12 bytes). The scalar coefficients are computed on the host in double and
// rounded to float once, as torch and the CPU kernel do; the arithmetic is explicitly rounded
// (__fmul_rn, __fadd_rn, __fdiv_rn, __fsqrt_rn), so nvcc contracts nothing into FMAs and a GPU
// rounds each operation as IEEE float.
#include "kernels/cuda/optim.h"

#include <cmath>

#include "kernels/cuda/launch.h"

namespace ldm::kernels::cuda {
namespace {

constexpr int kThreads = 256;

struct AdamWCoefs {
  float decay, b1, one_minus_b1, b2, one_minus_b2, step_size, bc2_sqrt, eps;
};

__global__ void adamw_kernel(int64_t n, AdamWCoefs c, float* __restrict__ param,
                             const float* __restrict__ grad, float* __restrict__ m,
                             float* __restrict__ v) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride) {
    const float g = grad[i];
    const float mi = __fadd_rn(__fmul_rn(c.b1, m[i]), __fmul_rn(c.one_minus_b1, g));
    const float vi = __fadd_rn(__fmul_rn(c.b2, v[i]), __fmul_rn(__fmul_rn(c.one_minus_b2, g), g));
    const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vi), c.bc2_sqrt), c.eps);
    const float update = __fdiv_rn(__fmul_rn(c.step_size, mi), denom);
    param[i] = __fsub_rn(__fmul_rn(param[i], c.decay), update);
    m[i] = mi;
    v[i] = vi;
  }
}

__global__ void ema_kernel(int64_t n, float decay, float one_minus_decay, float* __restrict__ ema,
                           const float* __restrict__ param) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride) {
    ema[i] = __fadd_rn(__fmul_rn(decay, ema[i]), __fmul_rn(one_minus_decay, param[i]));
  }
}

}  // namespace

void adamw_step(const AdamWArgs& a, float* param, const float* grad, float* m, float* v,
                cudaStream_t stream) {
  if (a.n == 0) return;
  const double t = static_cast<double>(a.step);
  const AdamWCoefs c{static_cast<float>(1 - a.lr * a.weight_decay),
                     static_cast<float>(a.beta1),
                     static_cast<float>(1 - a.beta1),
                     static_cast<float>(a.beta2),
                     static_cast<float>(1 - a.beta2),
                     static_cast<float>(a.lr / (1 - std::pow(a.beta1, t))),
                     static_cast<float>(std::sqrt(1 - std::pow(a.beta2, t))),
                     static_cast<float>(a.eps)};
  launch(adamw_kernel, grid_for(a.n, kThreads), dim3(kThreads), 0, stream, a.n, c, param, grad, m,
         v);
}

void ema_update(const EmaArgs& a, float* ema, const float* param, cudaStream_t stream) {
  if (a.n == 0) return;
  launch(ema_kernel, grid_for(a.n, kThreads), dim3(kThreads), 0, stream, a.n,
         static_cast<float>(a.decay), static_cast<float>(1 - a.decay), ema, param);
}

}  // namespace ldm::kernels::cuda
