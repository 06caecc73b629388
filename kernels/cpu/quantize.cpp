// CPU vector quantization (see quantize.h for shapes and semantics).
// The search is a direct loop over the codebook, not a GEMM: with D = 3 the [P, D] x [D, K]
// product has a depth of 3, so sgemm only writes a P x K distance matrix that an argmin pass
// reads back (measured at P = K = 4096: sgemm alone 19 ms on 2 cores, the loop below 1.4 ms on
// one). The loop is written with GCC/Clang generic vectors, not plain scalar code, because the
// auto-vectorizer cannot vectorize an index-of-minimum (measured 10x slower); generic vectors
// still compile for any target, at the widest width it offers.
#include "kernels/cpu/quantize.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "kernels/cpu/parallel.h"

namespace ldm::kernels::cpu {
namespace {

#if defined(__AVX512F__)
constexpr int64_t kVecBytes = 64;
#elif defined(__AVX__)
constexpr int64_t kVecBytes = 32;
#else
constexpr int64_t kVecBytes = 16;
#endif

// Lane l of a vector tracks the best code among k = l mod lanes; the final lane merge restores
// lowest-index ties, so the result does not depend on the vector width.
template <typename T>
using Vec [[gnu::vector_size(kVecBytes)]] = T;
// Code indices, one per lane of Vec<T> and of the same width, as `?:` on vectors requires.
template <typename T>
using IndexVec [[gnu::vector_size(kVecBytes)]] =
    std::conditional_t<sizeof(T) == 4, int32_t, int64_t>;

// The codebook is padded to a multiple of this (>= any vector's lane count).
constexpr int64_t kCodePad = 16;
// Pixels searched together: they share each codebook load, and their independent running
// minima hide the compare-select latency (measured 2x over one pixel at a time).
constexpr int64_t kPixels = 4;
// Pixels per parallel work item; fixed (not per thread) so the loss sum order is too.
constexpr int64_t kPixelsPerChunk = 64;

constexpr int32_t kNoCode = std::numeric_limits<int32_t>::max();

template <typename V, typename T>
V load(const T* p) {
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
}

// For kPixels pixels z [kPixels, D], out[p] = argmin_k dist_k with
// dist_k = norms[k] + sum_d z[p, d] * m2c[d, k], where m2c [D, Kp] is -2 * codebook
// transposed. Scaling by -2 is exact, so dist_k equals ||c_k||^2 - 2 * (z . c_k) bit for bit.
// Padding codes have norm +inf and never win.
template <typename T>
void nearest_codes(const T* __restrict z, const T* __restrict m2c, const T* __restrict norms,
                   int64_t D, int64_t Kp, int32_t* out) {
  using V = Vec<T>;
  using I = IndexVec<T>;
  constexpr int64_t L = sizeof(V) / sizeof(T);
  static_assert(kCodePad % L == 0);
  V best[kPixels];
  I best_k[kPixels];
  for (int64_t p = 0; p < kPixels; ++p) {
    best[p] = V{} + std::numeric_limits<T>::infinity();
    best_k[p] = I{} + kNoCode;
  }
  I lane_k = {};
  for (int64_t l = 0; l < L; ++l) lane_k[l] = l;
  for (int64_t kb = 0; kb < Kp; kb += L) {
    V dot[kPixels];
    const V row0 = load<V>(m2c + kb);
    for (int64_t p = 0; p < kPixels; ++p) dot[p] = z[p * D] * row0;
    for (int64_t d = 1; d < D; ++d) {
      const V row = load<V>(m2c + d * Kp + kb);
      for (int64_t p = 0; p < kPixels; ++p) dot[p] += z[p * D + d] * row;
    }
    const V norm = load<V>(norms + kb);
    for (int64_t p = 0; p < kPixels; ++p) {
      const V dist = norm + dot[p];
      const auto better = dist < best[p];
      best[p] = better ? dist : best[p];
      best_k[p] = better ? lane_k : best_k[p];
    }
    lane_k += L;
  }
  for (int64_t p = 0; p < kPixels; ++p) {
    T v = best[p][0];
    int64_t k = best_k[p][0];
    for (int64_t l = 1; l < L; ++l) {
      if (best[p][l] < v || (best[p][l] == v && best_k[p][l] < k)) {
        v = best[p][l];
        k = best_k[p][l];
      }
    }
    // kNoCode survives only when every distance was NaN or +inf.
    out[p] = k == kNoCode ? 0 : static_cast<int32_t>(k);
  }
}

}  // namespace

template <typename T>
void vector_quantize_forward(const VectorQuantizeArgs& a, const T* z_e, const T* codebook,
                             T* z_q, int32_t* indices, T* loss) {
  const int64_t N = a.N, D = a.D, HW = a.HW, K = a.K;
  const int64_t P = N * HW;
  const int64_t Kp = (K + kCodePad - 1) / kCodePad * kCodePad;
  const int64_t n_chunks = (P + kPixelsPerChunk - 1) / kPixelsPerChunk;

  // Scratch: m2c [D, Kp], norms [Kp], per-chunk loss partials [n_chunks].
  thread_local std::vector<T> scratch;
  const auto need = static_cast<size_t>(D * Kp + Kp + n_chunks);
  if (scratch.size() < need) scratch.resize(need);
  T* m2c = scratch.data();
  T* norms = m2c + D * Kp;
  T* partial = norms + Kp;

  for (int64_t k = 0; k < K; ++k) {
    T s = 0;
    for (int64_t d = 0; d < D; ++d) {
      const T c = codebook[k * D + d];
      s += c * c;
      m2c[d * Kp + k] = T(-2) * c;
    }
    norms[k] = s;
  }
  for (int64_t k = K; k < Kp; ++k) {
    for (int64_t d = 0; d < D; ++d) m2c[d * Kp + k] = 0;
    norms[k] = std::numeric_limits<T>::infinity();
  }

  parallel_for(n_chunks, kPixelsPerChunk * Kp * D, [&](int64_t chunk) {
    // z [kPixels, D] gathered from the strided layout; codes [kPixels].
    thread_local std::vector<T> z_buf;
    if (z_buf.size() < static_cast<size_t>(kPixels * D)) z_buf.resize(kPixels * D);
    T* z = z_buf.data();
    int32_t codes[kPixels];
    const int64_t p_begin = chunk * kPixelsPerChunk;
    const int64_t p_end = std::min(P, p_begin + kPixelsPerChunk);
    T err_sum = 0;
    for (int64_t p0 = p_begin; p0 < p_end; p0 += kPixels) {
      // A short last group repeats its last pixel; the repeats are searched and dropped.
      for (int64_t i = 0; i < kPixels; ++i) {
        const int64_t p = std::min(p0 + i, p_end - 1);
        const T* zp = z_e + (p / HW) * D * HW + p % HW;
        for (int64_t d = 0; d < D; ++d) z[i * D + d] = zp[d * HW];
      }
      nearest_codes(z, m2c, norms, D, Kp, codes);
      for (int64_t i = 0; i < kPixels && p0 + i < p_end; ++i) {
        const int64_t p = p0 + i;
        const int32_t k = codes[i];
        if (indices) indices[p] = k;
        const T* c = codebook + k * D;
        T err = 0;
        for (int64_t d = 0; d < D; ++d) {
          const T diff = c[d] - z[i * D + d];
          err += diff * diff;
        }
        err_sum += err;
        if (z_q) {
          T* qp = z_q + (p / HW) * D * HW + p % HW;
          for (int64_t d = 0; d < D; ++d) qp[d * HW] = c[d];
        }
      }
    }
    partial[chunk] = err_sum;
  });

  if (loss) {
    T total = 0;
    for (int64_t c = 0; c < n_chunks; ++c) total += partial[c];
    const T M = static_cast<T>(N * D * HW);
    *loss = static_cast<T>(1 + a.beta) * total / M;
  }
}

template <typename T>
void vector_quantize_backward(const VectorQuantizeArgs& a, const T* z_e, const T* codebook,
                              const int32_t* indices, const T* dz_q, T dloss, T* dz_e,
                              T* dcodebook) {
  const int64_t N = a.N, D = a.D, HW = a.HW, K = a.K;
  const double M = static_cast<double>(N * D * HW);

  if (dz_e) {
    const T coef = dloss * static_cast<T>(2 * a.beta / M);
    // One work item per (n, d) plane keeps the hw loop contiguous.
    parallel_for(N * D, HW, [&](int64_t nd) {
      const int64_t n = nd / D, d = nd % D;
      const int32_t* __restrict idx = indices + n * HW;
      const T* __restrict ze = z_e + nd * HW;
      T* __restrict out = dz_e + nd * HW;
      if (dz_q) {
        const T* __restrict g = dz_q + nd * HW;
        for (int64_t hw = 0; hw < HW; ++hw) {
          out[hw] = g[hw] + coef * (ze[hw] - codebook[idx[hw] * D + d]);
        }
      } else {
        for (int64_t hw = 0; hw < HW; ++hw) out[hw] = coef * (ze[hw] - codebook[idx[hw] * D + d]);
      }
    });
  }

  if (dcodebook) {
    // Serial scatter in pixel order: deterministic without atomics, and only N * HW * D adds.
    std::fill(dcodebook, dcodebook + K * D, T(0));
    for (int64_t n = 0; n < N; ++n) {
      const int32_t* idx = indices + n * HW;
      for (int64_t d = 0; d < D; ++d) {
        const T* ze = z_e + (n * D + d) * HW;
        for (int64_t hw = 0; hw < HW; ++hw) {
          const int64_t kd = idx[hw] * D + d;
          dcodebook[kd] += codebook[kd] - ze[hw];
        }
      }
    }
    const T coef = dloss * static_cast<T>(2 / M);
    for (int64_t i = 0; i < K * D; ++i) dcodebook[i] *= coef;
  }
}

void codebook_usage(int64_t n_indices, const int32_t* indices, int64_t K, int64_t* counts) {
  std::fill(counts, counts + K, int64_t{0});
  for (int64_t i = 0; i < n_indices; ++i) {
    const int64_t k = indices[i];
    if (k >= 0 && k < K) ++counts[k];
  }
}

template void vector_quantize_forward<float>(const VectorQuantizeArgs&, const float*,
                                             const float*, float*, int32_t*, float*);
template void vector_quantize_forward<double>(const VectorQuantizeArgs&, const double*,
                                              const double*, double*, int32_t*, double*);
template void vector_quantize_backward<float>(const VectorQuantizeArgs&, const float*,
                                              const float*, const int32_t*, const float*, float,
                                              float*, float*);
template void vector_quantize_backward<double>(const VectorQuantizeArgs&, const double*,
                                               const double*, const int32_t*, const double*,
                                               double, double*, double*);

}  // namespace ldm::kernels::cpu
