// CPU group normalization. One task per (n, group): a group's D*HW values are contiguous, so
// statistics are two passes over cache-resident data. Statistics and the backward's reductions
// accumulate in double in a fixed order, so float and double share one algorithm and results do
// not depend on the thread count.
#include "kernels/cpu/norm.h"

#include <cmath>
#include <vector>

#include "kernels/cpu/parallel.h"
#include "kernels/cpu/reduce.h"

namespace ldm::kernels::cpu {
namespace {


}  // namespace

template <typename T>
void group_norm_forward(const GroupNormArgs& a, const T* x, const T* gamma, const T* beta, T* y,
                        T* mean, T* rstd) {
  const int64_t C = a.C, HW = a.HW, G = a.groups;
  const int64_t D = C / G;  // channels per group
  const int64_t group_size = D * HW;
  const double count = static_cast<double>(group_size > 0 ? group_size : 1);
  parallel_for(a.N * G, 3 * group_size, [&](int64_t ng) {
    const int64_t g = ng % G;
    const T* xg = x + ng * group_size;
    const double m = sum_lanes(xg, group_size) / count;
    const double var = sq_dev_lanes(xg, group_size, m) / count;
    const double r = 1.0 / std::sqrt(var + a.eps);
    if (mean != nullptr) mean[ng] = static_cast<T>(m);
    if (rstd != nullptr) rstd[ng] = static_cast<T>(r);
    // Fold normalization and affine into one multiply-add per element.
    for (int64_t d = 0; d < D; ++d) {
      const int64_t c = g * D + d;
      const double k = r * (gamma != nullptr ? static_cast<double>(gamma[c]) : 1.0);
      const double b = (beta != nullptr ? static_cast<double>(beta[c]) : 0.0) - m * k;
      const T scale = static_cast<T>(k), shift = static_cast<T>(b);
      const T* __restrict xc = xg + d * HW;
      T* __restrict yc = y + ng * group_size + d * HW;
      for (int64_t i = 0; i < HW; ++i) yc[i] = xc[i] * scale + shift;
    }
  });
}

template <typename T>
void group_norm_backward(const GroupNormArgs& a, const T* x, const T* gamma, const T* mean,
                         const T* rstd, const T* dy, T* dx, T* dgamma, T* dbeta) {
  if (dx == nullptr && dgamma == nullptr && dbeta == nullptr) return;
  const int64_t N = a.N, C = a.C, HW = a.HW, G = a.groups;
  const int64_t D = C / G;
  const int64_t group_size = D * HW;
  const double count = static_cast<double>(group_size > 0 ? group_size : 1);
  // Per (n, c) sums ds = sum_hw dy * x and db = sum_hw dy, kept for the parameter gradients.
  thread_local std::vector<double> scratch;
  if (static_cast<int64_t>(scratch.size()) < 2 * N * C) {
    scratch.resize(static_cast<size_t>(2 * N * C));
  }
  double* ds = scratch.data();
  double* db = ds + N * C;

  // One pass per (n, group): the sums, then dx while the group's x and dy are still in cache.
  // dx = gamma * rstd * dy + c2 * x + c3, with c2, c3 per group from the chain rule through
  // mean and rstd (as in PyTorch's GroupNorm kernel).
  parallel_for(N * G, 5 * group_size, [&](int64_t ng) {
    const int64_t n = ng / G, g = ng % G;
    const int64_t c0 = g * D;
    double dsg = 0.0, dbg = 0.0;
    for (int64_t d = 0; d < D; ++d) {
      const int64_t nc = n * C + c0 + d;
      const double gm = gamma != nullptr ? static_cast<double>(gamma[c0 + d]) : 1.0;
      ds[nc] = dot_lanes(dy + nc * HW, x + nc * HW, HW);
      db[nc] = sum_lanes(dy + nc * HW, HW);
      dsg += ds[nc] * gm;
      dbg += db[nc] * gm;
    }
    if (dx == nullptr) return;
    const double m = static_cast<double>(mean[ng]);
    const double r = static_cast<double>(rstd[ng]);
    const double c2 = (dbg * m - dsg) * r * r * r / count;
    const double c3 = -c2 * m - dbg * r / count;
    const T k2 = static_cast<T>(c2), k3 = static_cast<T>(c3);
    for (int64_t d = 0; d < D; ++d) {
      const double gm = gamma != nullptr ? static_cast<double>(gamma[c0 + d]) : 1.0;
      const T k1 = static_cast<T>(r * gm);
      const int64_t off = ng * group_size + d * HW;
      const T* __restrict gc = dy + off;
      const T* __restrict xc = x + off;
      T* __restrict dxc = dx + off;
      for (int64_t i = 0; i < HW; ++i) dxc[i] = gc[i] * k1 + xc[i] * k2 + k3;
    }
  });

  // Parameter gradients: a serial sum over N per channel (N * C work; fixed order).
  if (dgamma == nullptr && dbeta == nullptr) return;
  for (int64_t c = 0; c < C; ++c) {
    const int64_t g = c / D;
    double sg = 0.0, sb = 0.0;
    for (int64_t n = 0; n < N; ++n) {
      if (dgamma != nullptr) {
        const double m = static_cast<double>(mean[n * G + g]);
        const double r = static_cast<double>(rstd[n * G + g]);
        sg += (ds[n * C + c] - db[n * C + c] * m) * r;
      }
      sb += db[n * C + c];
    }
    if (dgamma != nullptr) dgamma[c] = static_cast<T>(sg);
    if (dbeta != nullptr) dbeta[c] = static_cast<T>(sb);
  }
}

template void group_norm_forward<float>(const GroupNormArgs&, const float*, const float*,
                                        const float*, float*, float*, float*);
template void group_norm_forward<double>(const GroupNormArgs&, const double*, const double*,
                                         const double*, double*, double*, double*);
template void group_norm_backward<float>(const GroupNormArgs&, const float*, const float*,
                                         const float*, const float*, const float*, float*,
                                         float*, float*);
template void group_norm_backward<double>(const GroupNormArgs&, const double*, const double*,
                                          const double*, const double*, const double*, double*,
                                          double*, double*);

}  // namespace ldm::kernels::cpu
