// CUDA AdamW and EMA updates (see optim.h). Memory-bound grid-stride passes: AdamW reads
// param, grad, m, v and writes param, m, v (28 bytes an element), EMA reads two vectors and
// writes one (12 bytes). The scalar coefficients are computed on the host in double and
// rounded to float once, as torch and the CPU kernel do; the arithmetic is explicitly rounded
// (__fmul_rn, __fadd_rn, __fdiv_rn, __fsqrt_rn), so nvcc contracts nothing into FMAs and a GPU
// rounds each operation as IEEE float.
#include "kernels/cuda/optim.h"

#include "kernels/coefficients.h"
#include "kernels/cuda/grid.h"
#include "kernels/cuda/launch.h"

namespace ldm::kernels::cuda::inline LDM_CUDA_TARGET {
namespace {

constexpr int kThreads = 256;

__global__ void adamw_kernel(int64_t n, AdamWCoefs<float> c, float* __restrict__ param,
                             const float* __restrict__ grad, float* __restrict__ m,
                             float* __restrict__ v) {
  for_each_index(n, [&](int64_t i) {
    const float g = grad[i];
    const float mi = __fadd_rn(__fmul_rn(c.b1, m[i]), __fmul_rn(c.one_minus_b1, g));
    const float vi = __fadd_rn(__fmul_rn(c.b2, v[i]), __fmul_rn(__fmul_rn(c.one_minus_b2, g), g));
    const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(vi), c.bc2_sqrt), c.eps);
    const float update = __fdiv_rn(__fmul_rn(c.step_size, mi), denom);
    param[i] = __fsub_rn(__fmul_rn(param[i], c.decay), update);
    m[i] = mi;
    v[i] = vi;
  });
}

__global__ void ema_kernel(int64_t n, float decay, float one_minus_decay, float* __restrict__ ema,
                           const float* __restrict__ param) {
  for_each_index(n, [&](int64_t i) {
    ema[i] = __fadd_rn(__fmul_rn(decay, ema[i]), __fmul_rn(one_minus_decay, param[i]));
  });
}

}  // namespace

void adamw_step(const AdamWArgs& a, float* param, const float* grad, float* m, float* v,
                cudaStream_t stream) {
  if (a.n == 0) return;
  launch(adamw_kernel, grid_for(a.n, kThreads), dim3(kThreads), 0, stream, a.n,
         adamw_coefs<float>(a), param, grad, m, v);
}

void ema_update(const EmaArgs& a, float* ema, const float* param, cudaStream_t stream) {
  if (a.n == 0) return;
  launch(ema_kernel, grid_for(a.n, kThreads), dim3(kThreads), 0, stream, a.n,
         static_cast<float>(a.decay), static_cast<float>(1 - a.decay), ema, param);
}

}  // namespace ldm::kernels::cuda::inline LDM_CUDA_TARGET
