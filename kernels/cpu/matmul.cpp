// CPU linear, batched matmul, softmax and self-attention kernels (see matmul.h for shapes).
// Linear and matmul are OpenBLAS calls. Attention runs each head as direct loops on one core
// and spreads heads across cores: at L <= 64 a gemm call per head costs more in call overhead
// and serial heads than it saves (measured), and no gemm may run inside the OpenMP region.
#include "kernels/cpu/matmul.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/parallel.h"

namespace ldm::kernels::cpu {
namespace {

// Reductions keep kLanes independent partial sums combined in a fixed order: the compiler can
// vectorize them without -ffast-math, and the result never depends on the thread count.
constexpr int64_t kLanes = 8;

template <typename T>
T row_max(const T* __restrict x, int64_t n) {
  T acc[kLanes];
  for (int64_t l = 0; l < kLanes; ++l) acc[l] = x[0];
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    for (int64_t l = 0; l < kLanes; ++l) acc[l] = std::max(acc[l], x[j + l]);
  }
  T m = acc[0];
  for (int64_t l = 1; l < kLanes; ++l) m = std::max(m, acc[l]);
  for (; j < n; ++j) m = std::max(m, x[j]);
  return m;
}

template <typename T>
T row_sum(const T* __restrict x, int64_t n) {
  T acc[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    for (int64_t l = 0; l < kLanes; ++l) acc[l] += x[j + l];
  }
  T s = 0;
  for (int64_t l = 0; l < kLanes; ++l) s += acc[l];
  for (; j < n; ++j) s += x[j];
  return s;
}

template <typename T>
T row_dot(const T* __restrict x, const T* __restrict y, int64_t n) {
  T acc[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    for (int64_t l = 0; l < kLanes; ++l) acc[l] += x[j + l] * y[j + l];
  }
  T s = 0;
  for (int64_t l = 0; l < kLanes; ++l) s += acc[l];
  for (; j < n; ++j) s += x[j] * y[j];
  return s;
}

// exp(x) for x <= 0 (max-subtracted logits), written so the compiler vectorizes it: libm's exp
// does not vectorize without -ffast-math and was most of the attention forward time. Cody-Waite
// reduction x = n ln2 + r, |r| <= ln2 / 2, then a Taylor polynomial of the degree each type needs
// (float: 7, error < 6e-9; double: 13, error < 5e-18), scaled by 2^n built in the exponent bits.
template <typename T>
struct ExpConstants;

template <>
struct ExpConstants<float> {
  using Bits = uint32_t;
  static constexpr int kDegree = 7, kMantissa = 23, kBias = 127;
  static constexpr float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
  static constexpr float kMin = -87.0f;  // below this 2^n would leave the normal range
  static constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
};

template <>
struct ExpConstants<double> {
  using Bits = uint64_t;
  static constexpr int kDegree = 13, kMantissa = 52, kBias = 1023;
  static constexpr double kLn2Hi = 6.93147180369123816490e-01, kLn2Lo = 1.90821492927058770002e-10;
  static constexpr double kMin = -708.0;
  static constexpr double kRound = 6755399441055744.0;  // 1.5 * 2^52
};

// 1 / k! for the exp polynomial.
template <typename T>
inline constexpr auto kInvFactorial = [] {
  std::array<T, 16> c{};
  double f = 1;
  for (int k = 0; k < 16; ++k) {
    if (k > 0) f *= k;
    c[k] = static_cast<T>(1.0 / f);
  }
  return c;
}();

template <typename T>
inline T exp_nonpositive(T x) {
  using E = ExpConstants<T>;
  using Bits = typename E::Bits;
  const T xc = std::max(x, E::kMin);  // NaN passes through
  const T t = xc * T(1.4426950408889634) + E::kRound;
  const T n = t - E::kRound;
  const T r = (xc - n * E::kLn2Hi) - n * E::kLn2Lo;
  T p = kInvFactorial<T>[E::kDegree];
  for (int i = E::kDegree - 1; i >= 0; --i) p = p * r + kInvFactorial<T>[i];
  // The low mantissa bits of t hold n in two's complement; shift n + bias into the exponent.
  const Bits scale_bits = (std::bit_cast<Bits>(t) - std::bit_cast<Bits>(E::kRound) +
                           static_cast<Bits>(E::kBias))
                          << E::kMantissa;
  const T y = p * std::bit_cast<T>(scale_bits);
  return x < E::kMin ? T(0) : y;
}

// y = softmax(x * scale) over one row of n (x and y may alias).
template <typename T>
void softmax_row(const T* x, T* y, int64_t n, T scale) {
  for (int64_t j = 0; j < n; ++j) y[j] = x[j] * scale;
  const T m = row_max(y, n);
  for (int64_t j = 0; j < n; ++j) y[j] = exp_nonpositive(y[j] - m);
  const T inv = T(1) / row_sum(y, n);
  for (int64_t j = 0; j < n; ++j) y[j] *= inv;
}

// dst[C, R] = src[R, C]^T.
template <typename T>
void transpose(const T* __restrict src, T* __restrict dst, int64_t R, int64_t C) {
  for (int64_t r = 0; r < R; ++r) {
    for (int64_t c = 0; c < C; ++c) dst[c * R + r] = src[r * C + c];
  }
}

// Register tiles for the head-sized products: 4 rows x (1 or 2) vectors of accumulators stay
// in registers across the whole c loop; 8 independent FMA chains hide the FMA latency. GCC's
// plain-loop version of this tile spilled the accumulators (unroll-and-jam), so the tile uses
// GCC/Clang vector types, which also compile for SSE2 and NEON.
#if defined(__AVX512F__)
inline constexpr int64_t kVectorBytes = 64;
#elif defined(__AVX__)
inline constexpr int64_t kVectorBytes = 32;
#else
inline constexpr int64_t kVectorBytes = 16;
#endif
inline constexpr int64_t kTileRows = 4;

template <typename T>
struct Simd {
  static constexpr int64_t kLanes = kVectorBytes / static_cast<int64_t>(sizeof(T));
  typedef T Vec __attribute__((vector_size(kVectorBytes)));

  static Vec load(const T* p) {
    Vec v;
    std::memcpy(&v, p, sizeof(Vec));
    // Pin the loaded row in a register: with -march=znver* GCC otherwise folds the load into
    // each of the four FMAs that use it, and the tile becomes load-bound (60% of peak).
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    asm("" : "+v"(v));
#endif
    return v;
  }
  static void store(T* p, const Vec& v) { std::memcpy(p, &v, sizeof(Vec)); }
};

// out[4, NV * lanes] = a[4, C] b[C, NV * lanes] with row strides C (a) and N (b, out).
template <typename T, int64_t NV>
void tile_4xw(const T* __restrict a, const T* __restrict b, T* __restrict out, int64_t C,
              int64_t N) {
  using S = Simd<T>;
  using V = typename S::Vec;
  constexpr int64_t L = S::kLanes;
  V c00{}, c10{}, c20{}, c30{}, c01{}, c11{}, c21{}, c31{};
  for (int64_t c = 0; c < C; ++c) {
    const T* br = b + c * N;
    const T a0 = a[c], a1 = a[C + c], a2 = a[2 * C + c], a3 = a[3 * C + c];
    const V b0 = S::load(br);
    c00 += a0 * b0;
    c10 += a1 * b0;
    c20 += a2 * b0;
    c30 += a3 * b0;
    if constexpr (NV == 2) {
      const V b1 = S::load(br + L);
      c01 += a0 * b1;
      c11 += a1 * b1;
      c21 += a2 * b1;
      c31 += a3 * b1;
    }
  }
  S::store(out, c00);
  S::store(out + N, c10);
  S::store(out + 2 * N, c20);
  S::store(out + 3 * N, c30);
  if constexpr (NV == 2) {
    S::store(out + L, c01);
    S::store(out + N + L, c11);
    S::store(out + 2 * N + L, c21);
    S::store(out + 3 * N + L, c31);
  }
}

// Any leftover rectangle [rows, cols], in the same summation order (c ascending) as the tiles.
template <typename T>
void tile_edge(const T* __restrict a, const T* __restrict b, T* __restrict out, int64_t C,
               int64_t N, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    T* __restrict o = out + r * N;
    for (int64_t j = 0; j < cols; ++j) o[j] = 0;
    for (int64_t c = 0; c < C; ++c) {
      const T av = a[r * C + c];
      const T* __restrict br = b + c * N;
      for (int64_t j = 0; j < cols; ++j) o[j] += av * br[j];
    }
  }
}

// out[R, N] = a[R, C] b[C, N] for one head, all packed; runs on the calling thread only.
template <typename T>
void small_gemm(const T* a, const T* b, T* out, int64_t R, int64_t C, int64_t N) {
  constexpr int64_t L = Simd<T>::kLanes;
  int64_t r = 0;
  for (; r + kTileRows <= R; r += kTileRows) {
    const T* ar = a + r * C;
    T* orow = out + r * N;
    int64_t j = 0;
    for (; j + 2 * L <= N; j += 2 * L) tile_4xw<T, 2>(ar, b + j, orow + j, C, N);
    for (; j + L <= N; j += L) tile_4xw<T, 1>(ar, b + j, orow + j, C, N);
    if (j < N) tile_edge(ar, b + j, orow + j, C, N, kTileRows, N - j);
  }
  if (r < R) tile_edge(a + r * C, b, out + r * N, C, N, R - r, N);
}


// C[M, N] = op(A) op(B) on packed matrices; empty shapes would trip BLAS's lead-dim checks.
template <typename T>
void product(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, const T* A, const T* B, T* C) {
  if (M == 0 || N == 0) return;
  if (K == 0) {
    std::fill(C, C + M * N, T(0));
    return;
  }
  gemm_packed<T>(ta, tb, M, N, K, T(1), A, B, T(0), C);
}

// Per-thread scratch that only grows, so steady-state calls allocate nothing.
template <typename T>
T* scratch(int slot, int64_t n) {
  thread_local std::vector<T> buf[3];
  if (static_cast<int64_t>(buf[slot].size()) < n) buf[slot].resize(n);
  return buf[slot].data();
}

}  // namespace

template <typename T>
void linear_forward(const MatmulArgs& a, const T* x, const T* w, const T* bias, T* y) {
  const int64_t M = a.M, N = a.N, K = a.K;
  if (!bias) {
    product<T>(Trans::kNo, Trans::kYes, M, N, K, x, w, y);
    return;
  }
  for (int64_t m = 0; m < M; ++m) std::copy(bias, bias + N, y + m * N);
  if (M > 0 && N > 0 && K > 0) {
    gemm<T>(Trans::kNo, Trans::kYes, M, N, K, T(1), x, K, w, K, T(1), y, N);
  }
}

template <typename T>
void linear_backward(const MatmulArgs& a, const T* x, const T* w, const T* dy, T* dx, T* dw,
                     T* db) {
  const int64_t M = a.M, N = a.N, K = a.K;
  if (dx) product<T>(Trans::kNo, Trans::kNo, M, K, N, dy, w, dx);
  if (dw) product<T>(Trans::kYes, Trans::kNo, N, K, M, dy, x, dw);
  if (db) {
    std::fill(db, db + N, T(0));
    for (int64_t m = 0; m < M; ++m) {
      const T* __restrict row = dy + m * N;
      T* __restrict out = db;
      for (int64_t n = 0; n < N; ++n) out[n] += row[n];
    }
  }
}

template <typename T>
void matmul_forward(const MatmulArgs& a, const T* x, const T* y, T* out) {
  const int64_t M = a.M, N = a.N, K = a.K;
  for (int64_t b = 0; b < a.batch; ++b) {
    product<T>(Trans::kNo, Trans::kNo, M, N, K, x + b * M * K, y + b * K * N, out + b * M * N);
  }
}

template <typename T>
void matmul_backward(const MatmulArgs& a, const T* x, const T* y, const T* dout, T* dx, T* dy) {
  const int64_t M = a.M, N = a.N, K = a.K;
  for (int64_t b = 0; b < a.batch; ++b) {
    const T* g = dout + b * M * N;
    if (dx) product<T>(Trans::kNo, Trans::kYes, M, K, N, g, y + b * K * N, dx + b * M * K);
    if (dy) product<T>(Trans::kYes, Trans::kNo, K, N, M, x + b * M * K, g, dy + b * K * N);
  }
}

template <typename T>
void softmax_forward(const SoftmaxArgs& a, const T* x, T* y) {
  const int64_t cols = a.cols;
  if (cols == 0) return;
  parallel_for(a.rows, 4 * cols, [&](int64_t r) {
    softmax_row(x + r * cols, y + r * cols, cols, T(1));
  });
}

template <typename T>
void softmax_backward(const SoftmaxArgs& a, const T* y, const T* dy, T* dx) {
  const int64_t cols = a.cols;
  parallel_for(a.rows, 3 * cols, [&](int64_t r) {
    const T* __restrict yr = y + r * cols;
    const T* __restrict gr = dy + r * cols;
    T* __restrict xr = dx + r * cols;
    const T s = row_dot(yr, gr, cols);
    for (int64_t j = 0; j < cols; ++j) xr[j] = yr[j] * (gr[j] - s);
  });
}

template <typename T>
void attention_forward(const AttentionArgs& a, const T* q, const T* k, const T* v, T* out,
                       T* probs) {
  const int64_t L = a.L, D = a.D;
  const T scale = static_cast<T>(a.scale);
  parallel_for(a.BH, 4 * L * L * D, [&](int64_t h) {
    const T* qh = q + h * L * D;
    const T* kh = k + h * L * D;
    const T* vh = v + h * L * D;
    T* ph = probs + h * L * L;
    T* kt = scratch<T>(0, D * L);  // [D, L]
    transpose(kh, kt, L, D);
    small_gemm(qh, kt, ph, L, D, L);
    for (int64_t i = 0; i < L; ++i) softmax_row(ph + i * L, ph + i * L, L, scale);
    small_gemm(ph, vh, out + h * L * D, L, L, D);
  });
}

template <typename T>
void attention_backward(const AttentionArgs& a, const T* q, const T* k, const T* v,
                        const T* probs, const T* dout, T* dq, T* dk, T* dv) {
  const int64_t L = a.L, D = a.D;
  const T scale = static_cast<T>(a.scale);
  parallel_for(a.BH, 8 * L * L * D, [&](int64_t h) {
    const T* ph = probs + h * L * L;
    const T* gh = dout + h * L * D;
    T* pt = scratch<T>(0, L * L);  // [L, L]: probs^T, then dS^T
    if (dv) {
      transpose(ph, pt, L, L);
      small_gemm(pt, gh, dv + h * L * D, L, L, D);
    }
    if (!dq && !dk) return;
    // dS = scale * P * (dP - rowsum(dP * P)) with dP = dout v^T.
    T* vt = scratch<T>(1, D * L);  // [D, L]
    T* ds = scratch<T>(2, L * L);  // [L, L]
    transpose(v + h * L * D, vt, L, D);
    small_gemm(gh, vt, ds, L, D, L);
    for (int64_t i = 0; i < L; ++i) {
      const T* __restrict pr = ph + i * L;
      T* __restrict dr = ds + i * L;
      const T s = row_dot(pr, dr, L);
      for (int64_t j = 0; j < L; ++j) dr[j] = scale * pr[j] * (dr[j] - s);
    }
    if (dq) small_gemm(ds, k + h * L * D, dq + h * L * D, L, L, D);
    if (dk) {
      transpose(ds, pt, L, L);
      small_gemm(pt, q + h * L * D, dk + h * L * D, L, L, D);
    }
  });
}

#define LDM_INSTANTIATE(T)                                                                      \
  template void linear_forward<T>(const MatmulArgs&, const T*, const T*, const T*, T*);         \
  template void linear_backward<T>(const MatmulArgs&, const T*, const T*, const T*, T*, T*,     \
                                   T*);                                                         \
  template void matmul_forward<T>(const MatmulArgs&, const T*, const T*, T*);                   \
  template void matmul_backward<T>(const MatmulArgs&, const T*, const T*, const T*, T*, T*);    \
  template void softmax_forward<T>(const SoftmaxArgs&, const T*, T*);                           \
  template void softmax_backward<T>(const SoftmaxArgs&, const T*, const T*, T*);                \
  template void attention_forward<T>(const AttentionArgs&, const T*, const T*, const T*, T*,   \
                                     T*);                                                       \
  template void attention_backward<T>(const AttentionArgs&, const T*, const T*, const T*,      \
                                      const T*, const T*, T*, T*, T*);
LDM_INSTANTIATE(float)
LDM_INSTANTIATE(double)
#undef LDM_INSTANTIATE

}  // namespace ldm::kernels::cpu
