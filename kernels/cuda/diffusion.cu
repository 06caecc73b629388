// CUDA sampler kernels (see diffusion.h). Each is one memory-bound grid-stride pass. The
// arithmetic uses the explicitly rounded __fadd_rn / __fmul_rn, which nvcc never contracts into
// FMAs, in the CPU loop's order, so a GPU gives the CPU's results bitwise, like the emulator.
#include "kernels/cuda/diffusion.h"

#include "kernels/coefficients.h"
#include "kernels/cuda/grid.h"
#include "kernels/cuda/launch.h"

namespace ldm::kernels::cuda::inline LDM_CUDA_TARGET {
namespace {

constexpr int kThreads = 256;

// out = cx * x + ce * e (+ cn * noise when noise is not null), rounded as the CPU rounds it.
__device__ __forceinline__ float combine3(float cx, float x, float ce, float e, float cn,
                                          const float* noise, int64_t i) {
  const float v = __fadd_rn(__fmul_rn(cx, x), __fmul_rn(ce, e));
  return noise ? __fadd_rn(v, __fmul_rn(cn, noise[i])) : v;
}

// eps_u + s * (eps_c - eps_u)
__device__ __forceinline__ float guided(float s, float ec, float eu) {
  return __fadd_rn(eu, __fmul_rn(s, __fsub_rn(ec, eu)));
}

__global__ void cfg_combine_kernel(int64_t n, float s, const float* __restrict__ eps_both,
                                   float* __restrict__ out) {
  for_each_index(n, [&](int64_t i) { out[i] = guided(s, eps_both[i], eps_both[n + i]); });
}

// out[i] = c * g[i] and, when out2 is not null, out2[i] = c2 * g[i].
__global__ void scale2_kernel(int64_t n, float c, float c2, const float* __restrict__ g,
                              float* __restrict__ out, float* __restrict__ out2) {
  for_each_index(n, [&](int64_t i) {
    if (out) out[i] = __fmul_rn(c, g[i]);
    if (out2) out2[i] = __fmul_rn(c2, g[i]);
  });
}

__global__ void step_kernel(int64_t n, float cx, float ce, float cn, const float* __restrict__ x,
                            const float* __restrict__ eps, const float* __restrict__ noise,
                            float* __restrict__ out) {
  for_each_index(n, [&](int64_t i) { out[i] = combine3(cx, x[i], ce, eps[i], cn, noise, i); });
}

__global__ void step_cfg_kernel(int64_t n, float s, float cx, float ce, float cn,
                                const float* __restrict__ x, const float* __restrict__ eps_both,
                                const float* __restrict__ noise, float* __restrict__ out) {
  for_each_index(n, [&](int64_t i) {
    out[i] = combine3(cx, x[i], ce, guided(s, eps_both[i], eps_both[n + i]), cn, noise, i);
  });
}

// The update x_prev = cx * x_t + ce * eps + cn * noise of either sampler, as floats.
struct StepCoefs {
  float x, eps, noise;
  bool uses_noise;
};

StepCoefs coefs(const DdpmStepArgs& a) {
  return {static_cast<float>(a.coef_x), static_cast<float>(-a.coef_eps),
          static_cast<float>(a.sigma), a.sigma != 0};
}

StepCoefs coefs(const DdimStepArgs& a) {
  const DdimStepCoefs c = ddim_step_coefs(a);
  return {static_cast<float>(c.x), static_cast<float>(c.eps), static_cast<float>(a.sigma),
          a.sigma != 0};
}

void step(int64_t n, const StepCoefs& c, const float* x_t, const float* eps, const float* noise,
          float* x_prev, cudaStream_t stream) {
  if (n == 0) return;
  launch(step_kernel, grid_for(n, kThreads), dim3(kThreads), 0, stream, n, c.x, c.eps, c.noise, x_t,
         eps, c.uses_noise ? noise : nullptr, x_prev);
}

void step_backward(int64_t n, const StepCoefs& c, const float* dout, float* dx_t, float* deps,
                   float* dnoise, cudaStream_t stream) {
  if (n == 0) return;
  launch(scale2_kernel, grid_for(n, kThreads), dim3(kThreads), 0, stream, n, c.x, c.eps, dout, dx_t,
         deps);
  if (dnoise) {
    launch(scale2_kernel, grid_for(n, kThreads), dim3(kThreads), 0, stream, n, c.noise, 0.0f, dout,
           dnoise, static_cast<float*>(nullptr));
  }
}

void step_cfg(const CfgCombineArgs& cfg, int64_t n, const StepCoefs& c, const float* x_t,
              const float* eps_both, const float* noise, float* x_prev, cudaStream_t stream) {
  if (n == 0) return;
  launch(step_cfg_kernel, grid_for(n, kThreads), dim3(kThreads), 0, stream, n,
         static_cast<float>(cfg.scale), c.x, c.eps, c.noise, x_t, eps_both,
         c.uses_noise ? noise : nullptr, x_prev);
}

}  // namespace

void cfg_combine_forward(const CfgCombineArgs& a, const float* eps_both, float* out,
                         cudaStream_t stream) {
  if (a.n == 0) return;
  launch(cfg_combine_kernel, grid_for(a.n, kThreads), dim3(kThreads), 0, stream, a.n,
         static_cast<float>(a.scale), eps_both, out);
}

void cfg_combine_backward(const CfgCombineArgs& a, const float* dout, float* deps_both,
                          cudaStream_t stream) {
  if (a.n == 0 || !deps_both) return;
  launch(scale2_kernel, grid_for(a.n, kThreads), dim3(kThreads), 0, stream, a.n,
         static_cast<float>(a.scale), static_cast<float>(1 - a.scale), dout, deps_both,
         deps_both + a.n);
}

void ddpm_step_forward(const DdpmStepArgs& a, const float* x_t, const float* eps,
                       const float* noise, float* x_prev, cudaStream_t stream) {
  step(a.n, coefs(a), x_t, eps, noise, x_prev, stream);
}

void ddpm_step_backward(const DdpmStepArgs& a, const float* dout, float* dx_t, float* deps,
                        float* dnoise, cudaStream_t stream) {
  step_backward(a.n, coefs(a), dout, dx_t, deps, dnoise, stream);
}

void ddim_step_forward(const DdimStepArgs& a, const float* x_t, const float* eps,
                       const float* noise, float* x_prev, cudaStream_t stream) {
  step(a.n, coefs(a), x_t, eps, noise, x_prev, stream);
}

void ddim_step_backward(const DdimStepArgs& a, const float* dout, float* dx_t, float* deps,
                        float* dnoise, cudaStream_t stream) {
  step_backward(a.n, coefs(a), dout, dx_t, deps, dnoise, stream);
}

void ddpm_step_cfg_forward(const CfgCombineArgs& cfg, const DdpmStepArgs& a, const float* x_t,
                           const float* eps_both, const float* noise, float* x_prev,
                           cudaStream_t stream) {
  step_cfg(cfg, a.n, coefs(a), x_t, eps_both, noise, x_prev, stream);
}

void ddim_step_cfg_forward(const CfgCombineArgs& cfg, const DdimStepArgs& a, const float* x_t,
                           const float* eps_both, const float* noise, float* x_prev,
                           cudaStream_t stream) {
  step_cfg(cfg, a.n, coefs(a), x_t, eps_both, noise, x_prev, stream);
}

}  // namespace ldm::kernels::cuda::inline LDM_CUDA_TARGET
