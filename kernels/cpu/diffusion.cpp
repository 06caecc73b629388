// CPU classifier-free guidance and DDPM / DDIM step kernels (see diffusion.h for the formulas).
// Each is one memory-bound pass: coefficients are rounded to T once, and the vector is cut into
// fixed chunks so the inner loops stay contiguous and vectorize.
#include "kernels/cpu/diffusion.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/coefficients.h"
#include "kernels/cpu/parallel.h"

namespace ldm::kernels::cpu {
namespace {

constexpr int64_t kChunk = 1 << 12;


// out = cx * x + ce * e (+ cn * noise when noise is given).
template <typename T>
void axpbypcz(int64_t n, T cx, const T* x, T ce, const T* e, T cn, const T* noise, T* out) {
  parallel_chunks(n, kChunk, [&](int64_t begin, int64_t end) {
    const T* __restrict xp = x;
    const T* __restrict ep = e;
    T* __restrict op = out;
    if (noise) {
      const T* __restrict np = noise;
      for (int64_t i = begin; i < end; ++i) op[i] = cx * xp[i] + ce * ep[i] + cn * np[i];
    } else {
      for (int64_t i = begin; i < end; ++i) op[i] = cx * xp[i] + ce * ep[i];
    }
  });
}

// out = c * dout, skipped when out is nullptr.
template <typename T>
void scale_into(int64_t n, T c, const T* dout, T* out) {
  if (!out) return;
  parallel_chunks(n, kChunk, [&](int64_t begin, int64_t end) {
    const T* __restrict g = dout;
    T* __restrict op = out;
    for (int64_t i = begin; i < end; ++i) op[i] = c * g[i];
  });
}

}  // namespace

template <typename T>
void cfg_combine_forward(const CfgCombineArgs& a, const T* eps_both, T* out) {
  const T s = static_cast<T>(a.scale);
  parallel_chunks(a.n, kChunk, [&](int64_t begin, int64_t end) {
    const T* __restrict ec = eps_both;
    const T* __restrict eu = eps_both + a.n;
    T* __restrict op = out;
    for (int64_t i = begin; i < end; ++i) op[i] = eu[i] + s * (ec[i] - eu[i]);
  });
}

template <typename T>
void cfg_combine_backward(const CfgCombineArgs& a, const T* dout, T* deps_both) {
  if (!deps_both) return;
  scale_into(a.n, static_cast<T>(a.scale), dout, deps_both);
  scale_into(a.n, static_cast<T>(1 - a.scale), dout, deps_both + a.n);
}

template <typename T>
void ddpm_step_forward(const DdpmStepArgs& a, const T* x_t, const T* eps, const T* noise,
                       T* x_prev) {
  axpbypcz(a.n, static_cast<T>(a.coef_x), x_t, static_cast<T>(-a.coef_eps), eps,
           static_cast<T>(a.sigma), a.sigma != 0 ? noise : nullptr, x_prev);
}

template <typename T>
void ddpm_step_backward(const DdpmStepArgs& a, const T* dout, T* dx_t, T* deps, T* dnoise) {
  scale_into(a.n, static_cast<T>(a.coef_x), dout, dx_t);
  scale_into(a.n, static_cast<T>(-a.coef_eps), dout, deps);
  scale_into(a.n, static_cast<T>(a.sigma), dout, dnoise);
}

template <typename T>
void ddim_step_forward(const DdimStepArgs& a, const T* x_t, const T* eps, const T* noise,
                       T* x_prev) {
  const DdimStepCoefs c = ddim_step_coefs(a);
  axpbypcz(a.n, static_cast<T>(c.x), x_t, static_cast<T>(c.eps), eps, static_cast<T>(a.sigma),
           a.sigma != 0 ? noise : nullptr, x_prev);
}

template <typename T>
void ddim_step_backward(const DdimStepArgs& a, const T* dout, T* dx_t, T* deps, T* dnoise) {
  const DdimStepCoefs c = ddim_step_coefs(a);
  scale_into(a.n, static_cast<T>(c.x), dout, dx_t);
  scale_into(a.n, static_cast<T>(c.eps), dout, deps);
  scale_into(a.n, static_cast<T>(a.sigma), dout, dnoise);
}

#define LDM_INSTANTIATE(T)                                                                   \
  template void cfg_combine_forward<T>(const CfgCombineArgs&, const T*, T*);                \
  template void cfg_combine_backward<T>(const CfgCombineArgs&, const T*, T*);               \
  template void ddpm_step_forward<T>(const DdpmStepArgs&, const T*, const T*, const T*, T*); \
  template void ddpm_step_backward<T>(const DdpmStepArgs&, const T*, T*, T*, T*);           \
  template void ddim_step_forward<T>(const DdimStepArgs&, const T*, const T*, const T*, T*); \
  template void ddim_step_backward<T>(const DdimStepArgs&, const T*, T*, T*, T*);
LDM_INSTANTIATE(float)
LDM_INSTANTIATE(double)
#undef LDM_INSTANTIATE

}  // namespace ldm::kernels::cpu
