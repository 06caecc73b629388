// CPU linear, batched matmul, softmax and self-attention kernels (see matmul.h for shapes).
// Linear and matmul are OpenBLAS calls. Attention runs each head on one core with its own
// register-tiled products and spreads heads across cores: at L <= 64 the tile matches sgemm on
// one core, while a gemm call per head would leave the heads serial (no gemm may run inside an
// OpenMP region); measured 1.5-2x faster than gemm per head on 2 cores.
#include "kernels/cpu/matmul.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <vector>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/parallel.h"

namespace ldm::kernels::cpu {
namespace {

// Vector width of the target; the head-sized products and row reductions are written with
// GCC/Clang vector types of this width (they also compile for SSE2 and NEON).
#if defined(__AVX512F__)
inline constexpr int64_t kVectorBytes = 64;
#elif defined(__AVX__)
inline constexpr int64_t kVectorBytes = 32;
#else
inline constexpr int64_t kVectorBytes = 16;
#endif
template <typename T>
struct Simd {
  static constexpr int64_t kLanes = kVectorBytes / static_cast<int64_t>(sizeof(T));
  typedef T Vec __attribute__((vector_size(kVectorBytes)));
  // Unsigned integers of T's width, for bit manipulation of Vec.
  typedef std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t> Bits
      __attribute__((vector_size(kVectorBytes)));

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

// Lane reductions as a fixed pairwise tree: short rows (attention's L = 16..64) pay for the
// horizontal step on every row, and a tree has log2(lanes) latency instead of lanes.
template <typename T>
T lane_sum(const typename Simd<T>::Vec& v) {
  constexpr int64_t L = Simd<T>::kLanes;
  T buf[L];
  std::memcpy(buf, &v, sizeof(buf));
#pragma GCC unroll 8
  for (int64_t w = L / 2; w >= 1; w /= 2) {
#pragma GCC unroll 16
    for (int64_t l = 0; l < w; ++l) buf[l] += buf[l + w];
  }
  return buf[0];
}

template <typename T>
T lane_max(const typename Simd<T>::Vec& v) {
  constexpr int64_t L = Simd<T>::kLanes;
  T buf[L];
  std::memcpy(buf, &v, sizeof(buf));
#pragma GCC unroll 8
  for (int64_t w = L / 2; w >= 1; w /= 2) {
#pragma GCC unroll 16
    for (int64_t l = 0; l < w; ++l) buf[l] = std::max(buf[l], buf[l + w]);
  }
  return buf[0];
}

// Row reductions keep one vector of partial results and combine its lanes in a fixed order:
// vectorized without -ffast-math, and the result never depends on the thread count.
template <typename T>
T row_max(const T* x, int64_t n) {
  using S = Simd<T>;
  constexpr int64_t L = S::kLanes;
  T m = x[0];
  int64_t j = 0;
  if (n >= L) {
    typename S::Vec acc = S::load(x);
    for (j = L; j + L <= n; j += L) {
      const typename S::Vec v = S::load(x + j);
      acc = acc < v ? v : acc;
    }
    m = lane_max<T>(acc);
  }
  for (; j < n; ++j) m = std::max(m, x[j]);
  return m;
}

template <typename T>
T row_sum(const T* x, int64_t n) {
  using S = Simd<T>;
  constexpr int64_t L = S::kLanes;
  typename S::Vec acc{};
  int64_t j = 0;
  for (; j + L <= n; j += L) acc += S::load(x + j);
  T s = lane_sum<T>(acc);
  for (; j < n; ++j) s += x[j];
  return s;
}

template <typename T>
T row_dot(const T* x, const T* y, int64_t n) {
  using S = Simd<T>;
  constexpr int64_t L = S::kLanes;
  typename S::Vec acc{};
  int64_t j = 0;
  for (; j + L <= n; j += L) acc += S::load(x + j) * S::load(y + j);
  T s = lane_sum<T>(acc);
  for (; j < n; ++j) s += x[j] * y[j];
  return s;
}

// exp(x) for x <= 0 (max-subtracted logits), written so the compiler vectorizes it: libm's exp
// does not vectorize without -ffast-math and was most of the attention forward time. Cody-Waite
// reduction x = n ln2 + r, |r| <= ln2 / 2, then a Taylor polynomial of the degree each type needs
// (float: 7, double: 13; measured max error 1.3 and 2 ulp), scaled by 2^n in the exponent bits.
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

// V is T (the scalar tail) or Simd<T>::Vec, B the matching unsigned integer type.
template <typename T, typename V, typename B>
inline V exp_nonpositive(V x) {
  using E = ExpConstants<T>;
  const V lo = V{} + E::kMin;
  const V xc = x < lo ? lo : x;  // NaN passes through
  const V t = xc * T(1.4426950408889634) + E::kRound;
  const V n = t - E::kRound;
  const V r = (xc - n * E::kLn2Hi) - n * E::kLn2Lo;
  V p = V{} + kInvFactorial<T>[E::kDegree];
  for (int i = E::kDegree - 1; i >= 0; --i) p = p * r + kInvFactorial<T>[i];
  // The low mantissa bits of t hold n in two's complement; shift n + bias into the exponent.
  const B scale_bits = (std::bit_cast<B>(t) - std::bit_cast<typename E::Bits>(E::kRound) +
                        static_cast<typename E::Bits>(E::kBias))
                       << E::kMantissa;
  const V y = p * std::bit_cast<V>(scale_bits);
  return x < lo ? V{} : y;
}

// y = softmax(x * scale) over one row of n (x and y may alias): one pass for the scaled max,
// one for exp and its sum, one to normalize.
template <typename T>
void softmax_row(const T* x, T* y, int64_t n, T scale) {
  using S = Simd<T>;
  using V = typename S::Vec;
  using B = typename S::Bits;
  using Bits = typename ExpConstants<T>::Bits;
  constexpr int64_t L = S::kLanes;
  const int64_t n_vec = n - n % L;
  T m = x[0] * scale;
  if (n_vec > 0) {
    V vmax = S::load(x) * scale;
    for (int64_t j = 0; j < n_vec; j += L) {
      const V v = S::load(x + j) * scale;
      S::store(y + j, v);
      vmax = vmax < v ? v : vmax;
    }
    m = lane_max<T>(vmax);
  }
  for (int64_t j = n_vec; j < n; ++j) {
    y[j] = x[j] * scale;
    m = std::max(m, y[j]);
  }
  V vsum{};
  for (int64_t j = 0; j < n_vec; j += L) {
    const V e = exp_nonpositive<T, V, B>(S::load(y + j) - m);
    S::store(y + j, e);
    vsum += e;
  }
  T sum = lane_sum<T>(vsum);
  for (int64_t j = n_vec; j < n; ++j) {
    y[j] = exp_nonpositive<T, T, Bits>(y[j] - m);
    sum += y[j];
  }
  const T inv = T(1) / sum;
  for (int64_t j = 0; j < n_vec; j += L) S::store(y + j, S::load(y + j) * inv);
  for (int64_t j = n_vec; j < n; ++j) y[j] *= inv;
}

// dst[C, R] = src[R, C]^T. Contiguous writes, strided reads: 3x faster than the other order.
template <typename T>
void transpose(const T* __restrict src, T* __restrict dst, int64_t R, int64_t C) {
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t r = 0; r < R; ++r) dst[c * R + r] = src[r * C + c];
  }
}

// Register tiles for the head-sized products: 4 rows x (1 or 2) vectors of accumulators stay
// in registers across the whole c loop; 8 independent FMA chains hide the FMA latency. (GCC's
// plain-loop version of this tile kept the accumulators in memory after unroll-and-jam.)
inline constexpr int64_t kTileRows = 4;

// out[4, NV * lanes] = A[4, C] b[C, NV * lanes], A[r, c] = a[r * rs + c * cs] (so A may be a
// transposed view); b and out have row stride N.
template <typename T, int64_t NV>
void tile_4xw(const T* __restrict a, int64_t rs, int64_t cs, const T* __restrict b,
              T* __restrict out, int64_t C, int64_t N) {
  using S = Simd<T>;
  using V = typename S::Vec;
  constexpr int64_t L = S::kLanes;
  V c00{}, c10{}, c20{}, c30{}, c01{}, c11{}, c21{}, c31{};
  for (int64_t c = 0; c < C; ++c) {
    const T* br = b + c * N;
    const T* ac = a + c * cs;
    const T a0 = ac[0], a1 = ac[rs], a2 = ac[2 * rs], a3 = ac[3 * rs];
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
void tile_edge(const T* __restrict a, int64_t rs, int64_t cs, const T* __restrict b,
               T* __restrict out, int64_t C, int64_t N, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    T* __restrict o = out + r * N;
    for (int64_t j = 0; j < cols; ++j) o[j] = 0;
    for (int64_t c = 0; c < C; ++c) {
      const T av = a[r * rs + c * cs];
      const T* __restrict br = b + c * N;
      for (int64_t j = 0; j < cols; ++j) o[j] += av * br[j];
    }
  }
}

// out[R, N] = op(a)[R, C] b[C, N] for one head, all packed (a is [R, C], or [C, R] when
// trans_a); runs on the calling thread only.
template <typename T>
void small_gemm(Trans trans_a, const T* a, const T* b, T* out, int64_t R, int64_t C, int64_t N) {
  constexpr int64_t L = Simd<T>::kLanes;
  const int64_t rs = trans_a == Trans::kYes ? 1 : C;
  const int64_t cs = trans_a == Trans::kYes ? R : 1;
  int64_t r = 0;
  for (; r + kTileRows <= R; r += kTileRows) {
    const T* ar = a + r * rs;
    T* orow = out + r * N;
    int64_t j = 0;
    for (; j + 2 * L <= N; j += 2 * L) tile_4xw<T, 2>(ar, rs, cs, b + j, orow + j, C, N);
    for (; j + L <= N; j += L) tile_4xw<T, 1>(ar, rs, cs, b + j, orow + j, C, N);
    if (j < N) tile_edge(ar, rs, cs, b + j, orow + j, C, N, kTileRows, N - j);
  }
  if (r < R) tile_edge(a + r * rs, rs, cs, b, out + r * N, C, N, R - r, N);
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
  thread_local std::vector<T> buf[2];
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
    const T* yr = y + r * cols;
    const T* gr = dy + r * cols;
    T* xr = dx + r * cols;  // may alias gr: each element is read before it is written
    const T s = row_dot(yr, gr, cols);
    for (int64_t j = 0; j < cols; ++j) xr[j] = yr[j] * (gr[j] - s);
  });
}

template <typename T>
void attention_forward(const AttentionArgs& a, const T* q, const T* k, const T* v, T* out,
                       T* probs) {
  const int64_t L = a.L, D = a.D;
  const T scale = static_cast<T>(a.scale);
  if (L == 0) return;
  parallel_for(a.BH, 4 * L * L * D, [&](int64_t h) {
    const T* qh = q + h * L * D;
    const T* kh = k + h * L * D;
    const T* vh = v + h * L * D;
    T* ph = probs + h * L * L;
    T* kt = scratch<T>(0, D * L);  // [D, L]
    transpose(kh, kt, L, D);
    small_gemm(Trans::kNo, qh, kt, ph, L, D, L);
    for (int64_t i = 0; i < L; ++i) softmax_row(ph + i * L, ph + i * L, L, scale);
    small_gemm(Trans::kNo, ph, vh, out + h * L * D, L, L, D);
  });
}

template <typename T>
void attention_backward(const AttentionArgs& a, const T* q, const T* k, const T* v,
                        const T* probs, const T* dout, T* dq, T* dk, T* dv) {
  const int64_t L = a.L, D = a.D;
  const T scale = static_cast<T>(a.scale);
  if (L == 0) return;
  parallel_for(a.BH, 8 * L * L * D, [&](int64_t h) {
    const T* ph = probs + h * L * L;
    const T* gh = dout + h * L * D;
    if (dv) small_gemm(Trans::kYes, ph, gh, dv + h * L * D, L, L, D);
    if (!dq && !dk) return;
    // dS = scale * P * (dP - rowsum(dP * P)) with dP = dout v^T.
    T* vt = scratch<T>(0, D * L);  // [D, L]
    T* ds = scratch<T>(1, L * L);  // [L, L]
    transpose(v + h * L * D, vt, L, D);
    small_gemm(Trans::kNo, gh, vt, ds, L, D, L);
    for (int64_t i = 0; i < L; ++i) {
      const T* __restrict pr = ph + i * L;
      T* __restrict dr = ds + i * L;
      const T s = row_dot(pr, dr, L);
      for (int64_t j = 0; j < L; ++j) dr[j] = scale * pr[j] * (dr[j] - s);
    }
    if (dq) small_gemm(Trans::kNo, ds, k + h * L * D, dq + h * L * D, L, L, D);
    if (dk) small_gemm(Trans::kYes, ds, q + h * L * D, dk + h * L * D, L, L, D);
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
