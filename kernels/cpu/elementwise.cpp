// CPU elementwise, broadcasting, copy and resampling kernels. These are memory bound, so the aim
// is contiguous inner loops the compiler vectorizes, split into chunks across the cores.
// Reductions (broadcast backward) accumulate in double in a fixed order, so results do not
// depend on the thread count.
#include "kernels/cpu/elementwise.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/broadcast.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/reduce.h"

namespace ldm::kernels::cpu {
namespace {

// Elements per parallel task in flat loops: large enough to amortize scheduling, small enough
// to split a single big row across both cores.
constexpr int64_t kChunk = 8192;
constexpr int kRank = BroadcastArgs::kMaxRank;

int64_t numel(const int64_t* shape) {
  int64_t n = 1;
  for (int d = 0; d < kRank; ++d) n *= shape[d];
  return n;
}

// Offsets of operands 1 and 2 for flat index `row` over dims [0, ndims) of s (row-major).
void decode(const Strided& s, const int* dims, int ndims, int64_t row, int64_t& o1, int64_t& o2) {
  o1 = 0;
  o2 = 0;
  for (int j = ndims - 1; j >= 0; --j) {
    const int d = dims[j];
    const int64_t i = row % s.size[d];
    row /= s.size[d];
    o1 += i * s.stride[1][d];
    o2 += i * s.stride[2][d];
  }
}

// Calls f(o1, o2) for every index over dims [0, ndims) of s in row-major order.
template <typename F>
void for_each_index(const Strided& s, const int* dims, int ndims, F&& f) {
  int64_t idx[kRank] = {};
  int64_t o1 = 0, o2 = 0;
  while (true) {
    f(o1, o2);
    int j = ndims - 1;
    for (; j >= 0; --j) {
      const int d = dims[j];
      if (++idx[j] < s.size[d]) {
        o1 += s.stride[1][d];
        o2 += s.stride[2][d];
        break;
      }
      o1 -= s.stride[1][d] * (s.size[d] - 1);
      o2 -= s.stride[2][d] * (s.size[d] - 1);
      idx[j] = 0;
    }
    if (j < 0) return;
  }
}

// out [out_shape] = op(x [a_shape], y [b_shape]) with broadcasting.
template <typename T, typename Op>
void binary_forward(const int64_t* out_shape, const int64_t* x_shape, const int64_t* y_shape,
                    const T* x, const T* y, T* out, Op op) {
  const int64_t total = numel(out_shape);
  if (total == 0) return;
  const int64_t* shapes[3] = {out_shape, x_shape, y_shape};
  const Strided s = make_strided(out_shape, shapes, 3);
  const int inner = s.rank - 1;
  int outer_dims[kRank];
  for (int d = 0; d < inner; ++d) outer_dims[d] = d;
  const int64_t len = s.size[inner];
  const int64_t sx = s.stride[1][inner], sy = s.stride[2][inner];
  const int64_t per_row = (len + kChunk - 1) / kChunk;
  const int64_t rows = total / len;
  parallel_for(rows * per_row, std::min(len, kChunk), [&](int64_t task) {
    const int64_t row = task / per_row;
    const int64_t begin = (task % per_row) * kChunk, end = std::min(len, begin + kChunk);
    int64_t ox = 0, oy = 0;
    decode(s, outer_dims, inner, row, ox, oy);
    T* o = out + row * len;
    const T* xp = x + ox;
    const T* yp = y + oy;
    if (sx != 0 && sy != 0) {
      for (int64_t j = begin; j < end; ++j) o[j] = op(xp[j], yp[j]);
    } else if (sx != 0) {
      const T v = yp[0];
      for (int64_t j = begin; j < end; ++j) o[j] = op(xp[j], v);
    } else if (sy != 0) {
      const T u = xp[0];
      for (int64_t j = begin; j < end; ++j) o[j] = op(u, yp[j]);
    } else {
      const T v = op(xp[0], yp[0]);
      for (int64_t j = begin; j < end; ++j) o[j] = v;
    }
  });
}

// dst [dst_shape] = src [out_shape] (times other [other_shape] broadcast to out_shape, if other
// is not null) summed over the dims where dst_shape is 1 and out_shape is not.
template <typename T>
void reduce_broadcast(const int64_t* out_shape, const int64_t* dst_shape, const T* src,
                      const int64_t* other_shape, const T* other, T* dst) {
  const int64_t n_dst = numel(dst_shape), total = numel(out_shape);
  if (n_dst == 0) return;
  if (total == 0) {  // broadcast of a size-1 dim against size 0: an empty sum
    std::fill(dst, dst + n_dst, T(0));
    return;
  }
  if (n_dst == total) {  // nothing reduced
    if (other == nullptr) {
      parallel_chunks(total, kChunk, [&](int64_t b, int64_t e) {
        std::memcpy(dst + b, src + b, static_cast<size_t>(e - b) * sizeof(T));
      });
    } else {
      binary_forward(out_shape, out_shape, other_shape, src, other, dst,
                     [](T p, T q) { return p * q; });
    }
    return;
  }
  const int64_t* shapes[3] = {dst_shape, out_shape, other ? other_shape : out_shape};
  const Strided s = make_strided(out_shape, shapes, 3);
  int kept[kRank], reduced[kRank];
  int n_kept = 0, n_reduced = 0;
  for (int d = 0; d < s.rank; ++d) {
    if (s.stride[0][d] != 0) {
      kept[n_kept++] = d;
    } else {
      reduced[n_reduced++] = d;
    }
  }
  const int inner = s.rank - 1;
  const int64_t len = s.size[inner];
  const int64_t s2 = s.stride[2][inner];
  if (s.stride[0][inner] == 0) {
    // Innermost dim reduced: each dst element is a sum of contiguous runs of src.
    parallel_for(n_dst, total / n_dst, [&](int64_t e) {
      int64_t b1 = 0, b2 = 0;
      decode(s, kept, n_kept, e, b1, b2);
      double acc = 0.0;
      for_each_index(s, reduced, n_reduced - 1, [&](int64_t o1, int64_t o2) {
        const T* p = src + b1 + o1;
        if (other == nullptr) {
          acc += sum_lanes(p, len);
        } else if (s2 != 0) {
          acc += dot_lanes(p, other + b2 + o2, len);
        } else {
          acc += sum_lanes(p, len) * static_cast<double>(other[b2 + o2]);
        }
      });
      dst[e] = static_cast<T>(acc);
    });
    return;
  }
  // Innermost dim kept: accumulate whole src rows into a row of dst, chunked along the row.
  const int64_t per_row = (len + kChunk - 1) / kChunk;
  const int64_t rows = n_dst / len;
  parallel_for(rows * per_row, (total / n_dst) * std::min(len, kChunk), [&](int64_t task) {
    const int64_t row = task / per_row;
    const int64_t begin = (task % per_row) * kChunk, end = std::min(len, begin + kChunk);
    const int64_t m = end - begin;
    thread_local std::vector<double> acc_buf;
    if (static_cast<int64_t>(acc_buf.size()) < m) acc_buf.resize(static_cast<size_t>(m));
    double* __restrict acc = acc_buf.data();
    std::fill(acc, acc + m, 0.0);
    int64_t b1 = 0, b2 = 0;
    decode(s, kept, n_kept - 1, row, b1, b2);
    for_each_index(s, reduced, n_reduced, [&](int64_t o1, int64_t o2) {
      const T* __restrict p = src + b1 + o1 + begin;
      if (other == nullptr) {
        for (int64_t j = 0; j < m; ++j) acc[j] += static_cast<double>(p[j]);
      } else if (s2 != 0) {
        const T* __restrict q = other + b2 + o2 + begin;
        for (int64_t j = 0; j < m; ++j) {
          acc[j] += static_cast<double>(p[j]) * static_cast<double>(q[j]);
        }
      } else {
        const double q = static_cast<double>(other[b2 + o2]);
        for (int64_t j = 0; j < m; ++j) acc[j] += static_cast<double>(p[j]) * q;
      }
    });
    T* d = dst + row * len + begin;
    for (int64_t j = 0; j < m; ++j) d[j] = static_cast<T>(acc[j]);
  });
}

// Copies `rows` rows of `len` elements between strided row starts, chunked so that one long
// row still uses both cores.
template <typename T>
void copy_rows(int64_t rows, int64_t len, const T* src, int64_t src_stride, T* dst,
               int64_t dst_stride) {
  if (rows <= 0 || len <= 0) return;
  const int64_t per_row = (len + kChunk - 1) / kChunk;
  parallel_for(rows * per_row, std::min(len, kChunk), [&](int64_t task) {
    const int64_t row = task / per_row;
    const int64_t begin = (task % per_row) * kChunk, end = std::min(len, begin + kChunk);
    std::memcpy(dst + row * dst_stride + begin, src + row * src_stride + begin,
                static_cast<size_t>(end - begin) * sizeof(T));
  });
}

// exp for the activation kernels. std::exp is a scalar libm call (glibc's vector variants need
// -ffast-math), ~20x slower than this loop-vectorizable version, which made SiLU compute bound.
// Cody-Waite reduction x = k ln2 + r with |r| <= ln2 / 2, a Taylor polynomial in r (degree 7 for
// float, 13 for double: < 1 ulp over the whole range; float and double differ only in these
// constants), then 2^k through the exponent bits.
// Below kLo (near the bottom of the normal range) the result flushes to 0; above kHi it is
// +inf; NaN propagates.
template <typename T, int D>
struct InvFactorials {
  T c[D + 1];
  constexpr InvFactorials() : c() {
    double f = 1.0;
    for (int i = 0; i <= D; ++i) {
      if (i > 0) f *= i;
      c[i] = static_cast<T>(1.0 / f);
    }
  }
};

template <typename T>
struct ExpTraits;

template <>
struct ExpTraits<float> {
  using Int = int32_t;
  static constexpr int kMantBits = 23, kBias = 127, kDegree = 7;
  static constexpr float kLo = -87.0f, kHi = 88.0f;  // 2^k stays a normal number
  static constexpr float kRound = 12582912.0f;       // 1.5 * 2^23: adding it rounds to integer
  // ln2 split so that k * kLn2Hi is exact.
  static constexpr float kLn2Hi = 0.693145751953125f, kLn2Lo = 1.428606820309417e-06f;
  static constexpr InvFactorials<float, kDegree> kCoef{};
};

template <>
struct ExpTraits<double> {
  using Int = int64_t;
  static constexpr int kMantBits = 52, kBias = 1023, kDegree = 13;
  static constexpr double kLo = -708.0, kHi = 709.0;
  static constexpr double kRound = 6755399441055744.0;  // 1.5 * 2^52
  static constexpr double kLn2Hi = 6.93147180369123816490e-01;
  static constexpr double kLn2Lo = 1.90821492927058770002e-10;
  static constexpr InvFactorials<double, kDegree> kCoef{};
};

// 2^k for an integral kf with kLo <= kf * ln2 <= kHi, via the exponent bits.
template <typename T>
inline T pow2_int(T kf) {
  using E = ExpTraits<T>;
  using I = typename E::Int;
  return std::bit_cast<T>(static_cast<I>((static_cast<I>(kf) + E::kBias) << E::kMantBits));
}

template <typename T>
inline T exp_approx(T x) {
  using E = ExpTraits<T>;
  // Clamp written so that NaN maps into range too (it never reaches the int conversion).
  const T xc = x > E::kLo ? (x < E::kHi ? x : E::kHi) : E::kLo;
  const T kf = (xc * T(1.4426950408889634) + E::kRound) - E::kRound;
  const T r = (xc - kf * E::kLn2Hi) - kf * E::kLn2Lo;
  T p = E::kCoef.c[E::kDegree];
  for (int i = E::kDegree - 1; i >= 0; --i) p = p * r + E::kCoef.c[i];
  T y = p * pow2_int(kf);
  y = x > E::kHi ? std::numeric_limits<T>::infinity() : y;
  y = x < E::kLo ? T(0) : y;
  return x != x ? x : y;
}

// exp(x) - 1 for 0 <= x <= 40 without cancellation near 0: same reduction as exp_approx, but
// the polynomial's constant term is dropped and 2^k - 1 added back separately.
template <typename T>
inline T expm1_nonneg(T x) {
  using E = ExpTraits<T>;
  const T kf = (x * T(1.4426950408889634) + E::kRound) - E::kRound;
  const T r = (x - kf * E::kLn2Hi) - kf * E::kLn2Lo;
  T q = E::kCoef.c[E::kDegree];
  for (int i = E::kDegree - 1; i >= 1; --i) q = q * r + E::kCoef.c[i];
  q = q * r;  // p(r) - 1
  const T scale = pow2_int(kf);
  return kf == T(0) ? q : scale * q + (scale - T(1));
}

// tanh(x) = sign(x) * m / (m + 2), m = expm1(2|x|): a few ulp, vectorizable (std::tanh was
// ~15 ns per element here). |x| is capped at 20, where tanh rounds to 1 in double already.
template <typename T>
inline T tanh_approx(T x) {
  const T ax = std::fabs(x);
  const T m = expm1_nonneg(T(2) * (ax < T(20) ? ax : T(20)));
  const T t = m / (m + T(2));
  return x != x ? x : std::copysign(t, x);
}

// a * b + c, fused where the target has FMA. PyTorch's CPU kernels are built with FMA and the
// compiler contracts their bilinear expressions; spelling the same fusions out makes our float
// results bit-identical to PyTorch's instead of depending on this compiler's contraction choices.
template <typename T>
inline T mul_add(T a, T b, T c) {
#ifdef __FMA__
  return std::fma(a, b, c);
#else
  return a * b + c;
#endif
}

// Source taps of PyTorch's linear interpolation along one axis (align_corners=False): the scale
// is rounded to T, the source coordinate computed in double (PyTorch's CPU acc type) and clamped
// at 0, the weights rounded back to T. At the far edge both taps hit the last pixel.
template <typename T>
void linear_taps(int64_t in, int64_t out, int64_t* i0, int64_t* i1, T* l0, T* l1) {
  const T scale = static_cast<T>(in) / static_cast<T>(out);
  for (int64_t o = 0; o < out; ++o) {
    if (in == out) {
      i0[o] = i1[o] = o;
      l0[o] = T(1);
      l1[o] = T(0);
      continue;
    }
    double real = mul_add(static_cast<double>(scale), static_cast<double>(o) + 0.5, -0.5);
    if (real < 0.0) real = 0.0;
    const int64_t i = static_cast<int64_t>(real);
    i0[o] = i;
    i1[o] = i + (i < in - 1 ? 1 : 0);
    l1[o] = static_cast<T>(real - static_cast<double>(i));
    l0[o] = T(1) - l1[o];
  }
}

// Taps for both axes of a resize, kept in per-thread buffers of the calling thread.
template <typename T>
struct BilinearTaps {
  const int64_t *h0, *h1, *w0, *w1;
  const T *hl0, *hl1, *wl0, *wl1;
};

template <typename T>
BilinearTaps<T> bilinear_taps(const ResizeArgs& a) {
  thread_local std::vector<int64_t> idx;
  thread_local std::vector<T> wt;
  const size_t n = static_cast<size_t>(a.H_out + a.W_out);
  if (idx.size() < 2 * n) idx.resize(2 * n);
  if (wt.size() < 2 * n) wt.resize(2 * n);
  int64_t* h0 = idx.data();
  int64_t* h1 = h0 + a.H_out;
  int64_t* w0 = h1 + a.H_out;
  int64_t* w1 = w0 + a.W_out;
  T* hl0 = wt.data();
  T* hl1 = hl0 + a.H_out;
  T* wl0 = hl1 + a.H_out;
  T* wl1 = wl0 + a.W_out;
  linear_taps(a.H_in, a.H_out, h0, h1, hl0, hl1);
  linear_taps(a.W_in, a.W_out, w0, w1, wl0, wl1);
  return {h0, h1, w0, w1, hl0, hl1, wl0, wl1};
}

// One row of dx for nearest upsampling: dx[iw] = sum over the FW x fh block of dy.
template <int FW, typename T>
void nearest_backward_row(const T* dy, int64_t W_out, int64_t fh, int64_t W_in, int64_t fw_rt,
                          T* __restrict dx) {
  const int64_t fw = FW > 0 ? FW : fw_rt;
  for (int64_t kh = 0; kh < fh; ++kh) {
    const T* __restrict r = dy + kh * W_out;
    for (int64_t iw = 0; iw < W_in; ++iw) {
      T s = r[iw * fw];
      for (int64_t kw = 1; kw < fw; ++kw) s += r[iw * fw + kw];
      dx[iw] = kh == 0 ? s : dx[iw] + s;
    }
  }
}

// Input rows per task for the resampling kernels: whole rows, about kChunk outputs per task.
int64_t rows_per_task(int64_t outputs_per_row) {
  return std::max<int64_t>(1, kChunk / std::max<int64_t>(1, outputs_per_row));
}

// A permutation reduced to what the copy needs: the output dims in row-major order (dst is
// contiguous) with each one's stride in src. Size-1 dims are dropped and output neighbours that
// are neighbours in src too are merged, so [N, L, 3, heads, D] -> [3, N, heads, L, D] keeps its
// five dims but [A, B, C, D] -> [C, D, A, B] becomes the 2-d transpose [C*D, A*B].
struct PermutePlan {
  int rank = 0;
  int64_t size[PermuteArgs::kMaxRank] = {};
  int64_t src_stride[PermuteArgs::kMaxRank] = {};
  int64_t dst_stride[PermuteArgs::kMaxRank] = {};
};

PermutePlan plan_permute(const PermuteArgs& a) {
  int64_t in_stride[PermuteArgs::kMaxRank];
  int64_t s = 1;
  for (int d = a.rank - 1; d >= 0; --d) {
    in_stride[d] = s;
    s *= a.in_shape[d];
  }
  PermutePlan p;
  for (int k = 0; k < a.rank; ++k) {
    const int64_t n = a.in_shape[a.order[k]], st = in_stride[a.order[k]];
    if (n == 1) continue;
    if (p.rank > 0 && p.src_stride[p.rank - 1] == st * n) {
      p.size[p.rank - 1] *= n;
      p.src_stride[p.rank - 1] = st;
    } else {
      p.size[p.rank] = n;
      p.src_stride[p.rank] = st;
      ++p.rank;
    }
  }
  s = 1;
  for (int k = p.rank - 1; k >= 0; --k) {
    p.dst_stride[k] = s;
    s *= p.size[k];
  }
  return p;
}

// Walks the multi-index of the dims in `dims` (row-major, the last fastest) from a flat
// position, keeping the src and dst offsets of the current index. Advancing costs an add per
// dim that wraps instead of a division per dim, which matters for rows of only 16 floats.
struct PermuteCursor {
  explicit PermuteCursor(const PermutePlan& p) : plan(&p) {}

  const PermutePlan* plan;
  int count = 0;  // dims walked
  int dims[PermuteArgs::kMaxRank] = {};
  int64_t index[PermuteArgs::kMaxRank] = {};
  int64_t src = 0, dst = 0;

  void seek(int64_t flat) {
    src = dst = 0;
    for (int i = count - 1; i >= 0; --i) {
      const int k = dims[i];
      index[i] = flat % plan->size[k];
      flat /= plan->size[k];
      src += index[i] * plan->src_stride[k];
      dst += index[i] * plan->dst_stride[k];
    }
  }
  void next() {
    for (int i = count - 1; i >= 0; --i) {
      const int k = dims[i];
      src += plan->src_stride[k];
      dst += plan->dst_stride[k];
      if (++index[i] < plan->size[k]) return;
      src -= plan->size[k] * plan->src_stride[k];
      dst -= plan->size[k] * plan->dst_stride[k];
      index[i] = 0;
    }
  }
};

// Side of the square tiles of the transposing copy: 16 floats are one cache line, so a tile
// reads 16 lines and writes 16, all in L1.
constexpr int64_t kPermuteTile = 16;

// dst[i * dst_row + j] = src[i + j * src_col] for i < rows (<= kPermuteTile), j < cols: a strip
// of a transpose, walked in tiles so both sides stay in L1. Full tiles take the fixed-size
// branch, which the compiler unrolls.
template <typename T>
void transpose_strip(const T* __restrict src, int64_t src_col, T* __restrict dst, int64_t dst_row,
                     int64_t rows, int64_t cols) {
  constexpr int64_t B = kPermuteTile;
  int64_t j0 = 0;
  if (rows == B) {
    for (; j0 + B <= cols; j0 += B) {
      T tile[B][B];  // tile[j][i]: contiguous reads of src into it, contiguous writes out
      for (int64_t j = 0; j < B; ++j) {
        for (int64_t i = 0; i < B; ++i) tile[j][i] = src[i + (j0 + j) * src_col];
      }
      for (int64_t i = 0; i < B; ++i) {
        for (int64_t j = 0; j < B; ++j) dst[i * dst_row + j0 + j] = tile[j][i];
      }
    }
  }
  for (; j0 < cols; j0 += B) {
    const int64_t j1 = std::min(cols, j0 + B);
    for (int64_t i = 0; i < rows; ++i) {
      for (int64_t j = j0; j < j1; ++j) dst[i * dst_row + j] = src[i + j * src_col];
    }
  }
}

}  // namespace

template <typename T>
void silu_forward(int64_t n, const T* x, T* y) {
  parallel_chunks(n, kChunk, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = x[i] / (T(1) + exp_approx(-x[i]));
  });
}

template <typename T>
void silu_backward(int64_t n, const T* x, const T* dy, T* dx) {
  if (dx == nullptr) return;
  parallel_chunks(n, kChunk, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const T s = T(1) / (T(1) + exp_approx(-x[i]));
      dx[i] = dy[i] * (s * (T(1) + x[i] * (T(1) - s)));
    }
  });
}

template <typename T>
void tanh_forward(int64_t n, const T* x, T* y) {
  parallel_chunks(n, kChunk, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = tanh_approx(x[i]);
  });
}

template <typename T>
void tanh_backward(int64_t n, const T* y, const T* dy, T* dx) {
  if (dx == nullptr) return;
  parallel_chunks(n, kChunk, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) dx[i] = dy[i] * (T(1) - y[i] * y[i]);
  });
}

template <typename T>
void hardtanh_forward(const ElementwiseArgs& a, const T* x, T* y) {
  const T lo = static_cast<T>(a.min_val), hi = static_cast<T>(a.max_val);
  parallel_chunks(a.n, kChunk, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = std::min(std::max(x[i], lo), hi);
  });
}

template <typename T>
void hardtanh_backward(const ElementwiseArgs& a, const T* x, const T* dy, T* dx) {
  if (dx == nullptr) return;
  const T lo = static_cast<T>(a.min_val), hi = static_cast<T>(a.max_val);
  parallel_chunks(a.n, kChunk, [&](int64_t b, int64_t e) {
    // Both operands loaded unconditionally so the select vectorizes (no branch on data).
    for (int64_t i = b; i < e; ++i) {
      const T g = dy[i];
      dx[i] = ((x[i] > lo) & (x[i] < hi)) ? g : T(0);
    }
  });
}

template <typename T>
void scale_forward(const ElementwiseArgs& a, const T* x, T* y) {
  const T alpha = static_cast<T>(a.alpha);
  parallel_chunks(a.n, kChunk, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = alpha * x[i];
  });
}

template <typename T>
void add_forward(const BroadcastArgs& a, const T* x, const T* y, T* out) {
  binary_forward(a.out_shape, a.a_shape, a.b_shape, x, y, out, [](T p, T q) { return p + q; });
}

template <typename T>
void add_backward(const BroadcastArgs& a, const T* dout, T* dx, T* dy) {
  if (dx != nullptr) reduce_broadcast<T>(a.out_shape, a.a_shape, dout, nullptr, nullptr, dx);
  if (dy != nullptr) reduce_broadcast<T>(a.out_shape, a.b_shape, dout, nullptr, nullptr, dy);
}

template <typename T>
void mul_forward(const BroadcastArgs& a, const T* x, const T* y, T* out) {
  binary_forward(a.out_shape, a.a_shape, a.b_shape, x, y, out, [](T p, T q) { return p * q; });
}

template <typename T>
void mul_backward(const BroadcastArgs& a, const T* x, const T* y, const T* dout, T* dx, T* dy) {
  if (dx != nullptr) reduce_broadcast(a.out_shape, a.a_shape, dout, a.b_shape, y, dx);
  if (dy != nullptr) reduce_broadcast(a.out_shape, a.b_shape, dout, a.a_shape, x, dy);
}

template <typename T>
void slice_copy(const ConcatSliceArgs& a, const T* src, T* dst) {
  copy_rows(a.outer, a.dim_out * a.inner, src + a.start * a.inner, a.dim_in * a.inner, dst,
            a.dim_out * a.inner);
}

template <typename T>
void insert_copy(const ConcatSliceArgs& a, const T* src, T* dst) {
  copy_rows(a.outer, a.dim_in * a.inner, src, a.dim_in * a.inner, dst + a.start * a.inner,
            a.dim_out * a.inner);
}

// Three shapes of copy, by where src's innermost dim lands: nowhere else (the permutation is
// the identity once size-1 dims are dropped: one memcpy); in dst's innermost dim (rows of it
// move as blocks: [N, L, 3, heads, D] -> [3, N, heads, L, D] copies rows of D); elsewhere (a
// transpose between that dim and dst's innermost, tiled: [N, C, L] <-> [N, L, C]).
template <typename T>
void permute_copy(const PermuteArgs& a, const T* src, T* dst) {
  for (int d = 0; d < a.rank; ++d) {
    if (a.in_shape[d] == 0) return;
  }
  const PermutePlan p = plan_permute(a);
  if (p.rank <= 1) {
    const int64_t n = p.rank == 0 ? 1 : p.size[0];
    parallel_chunks(n, kChunk, [&](int64_t b, int64_t e) {
      std::memcpy(dst + b, src + b, static_cast<size_t>(e - b) * sizeof(T));
    });
    return;
  }
  const int last = p.rank - 1;
  if (p.src_stride[last] == 1) {
    const int64_t len = p.size[last], rows = p.dst_stride[0] * p.size[0] / len;
    const int64_t per_task = rows_per_task(len);
    parallel_for((rows + per_task - 1) / per_task, per_task * len, [&](int64_t task) {
      PermuteCursor c(p);
      c.count = last;
      for (int k = 0; k < last; ++k) c.dims[k] = k;
      const int64_t begin = task * per_task, end = std::min(rows, begin + per_task);
      c.seek(begin);
      for (int64_t r = begin; r < end; ++r, c.next()) {
        // A loop, not memcpy: rows here are short (D = 16..64 values), and a library call per
        // row was slower at the qkv-split shapes of bench/op_bench_cases.cpp.
        const T* __restrict s = src + c.src;
        T* __restrict d = dst + c.dst;
        for (int64_t j = 0; j < len; ++j) d[j] = s[j];
      }
    });
    return;
  }
  // src's innermost dim: the output dim with src stride 1 (merging keeps it last in a group).
  int inner = 0;
  while (p.src_stride[inner] != 1) ++inner;
  PermuteCursor outer(p);
  for (int k = 0; k < last; ++k) {
    if (k != inner) outer.dims[outer.count++] = k;
  }
  int64_t outer_count = 1;
  for (int i = 0; i < outer.count; ++i) outer_count *= p.size[outer.dims[i]];
  const int64_t rows = p.size[inner], cols = p.size[last];
  const int64_t strips = (rows + kPermuteTile - 1) / kPermuteTile;
  parallel_for(outer_count * strips, kPermuteTile * cols, [&](int64_t task) {
    PermuteCursor c = outer;
    c.seek(task / strips);
    const int64_t i0 = (task % strips) * kPermuteTile;
    transpose_strip(src + c.src + i0, p.src_stride[last], dst + c.dst + i0 * p.dst_stride[inner],
                    p.dst_stride[inner], std::min(kPermuteTile, rows - i0), cols);
  });
}

template <typename T>
void upsample_nearest_forward(const ResizeArgs& a, const T* x, T* y) {
  if (a.H_in <= 0 || a.W_in <= 0) return;
  const int64_t fh = a.H_out / a.H_in, fw = a.W_out / a.W_in;
  const int64_t W_in = a.W_in, W_out = a.W_out;
  const int64_t rows = a.N * a.C * a.H_in;  // input rows over all planes
  const int64_t per_task = rows_per_task(fh * W_out);
  // Each input row is expanded once, then the expanded row is copied fh - 1 times.
  parallel_for((rows + per_task - 1) / per_task, per_task * fh * W_out, [&](int64_t task) {
    const int64_t end = std::min(rows, (task + 1) * per_task);
    for (int64_t t = task * per_task; t < end; ++t) {
      const T* __restrict xr = x + t * W_in;
      T* __restrict y0 = y + t * fh * W_out;
      if (fw == 2) {
        for (int64_t iw = 0; iw < W_in; ++iw) {
          y0[2 * iw] = xr[iw];
          y0[2 * iw + 1] = xr[iw];
        }
      } else {
        for (int64_t iw = 0; iw < W_in; ++iw) {
          for (int64_t kw = 0; kw < fw; ++kw) y0[iw * fw + kw] = xr[iw];
        }
      }
      for (int64_t kh = 1; kh < fh; ++kh) {
        std::memcpy(y0 + kh * W_out, y0, static_cast<size_t>(W_out) * sizeof(T));
      }
    }
  });
}

template <typename T>
void upsample_nearest_backward(const ResizeArgs& a, const T* dy, T* dx) {
  if (dx == nullptr || a.H_in <= 0 || a.W_in <= 0) return;
  const int64_t fh = a.H_out / a.H_in, fw = a.W_out / a.W_in;
  const int64_t W_in = a.W_in, W_out = a.W_out;
  const int64_t rows = a.N * a.C * a.H_in;
  if (fh == 0 || fw == 0) {
    std::fill(dx, dx + rows * W_in, T(0));
    return;
  }
  const int64_t per_task = rows_per_task(fh * W_out);
  parallel_for((rows + per_task - 1) / per_task, per_task * fh * W_out, [&](int64_t task) {
    const int64_t end = std::min(rows, (task + 1) * per_task);
    for (int64_t t = task * per_task; t < end; ++t) {
      const T* d = dy + t * fh * W_out;
      if (fw == 2) {
        nearest_backward_row<2>(d, W_out, fh, W_in, fw, dx + t * W_in);
      } else {
        nearest_backward_row<0>(d, W_out, fh, W_in, fw, dx + t * W_in);
      }
    }
  });
}

template <typename T>
void resize_bilinear_forward(const ResizeArgs& a, const T* x, T* y) {
  const BilinearTaps<T> tp = bilinear_taps<T>(a);
  const int64_t H_in = a.H_in, W_in = a.W_in, H_out = a.H_out, W_out = a.W_out;
  // Input rows some output row reads (a downscale skips some).
  thread_local std::vector<char> used_buf;
  if (static_cast<int64_t>(used_buf.size()) < H_in) used_buf.resize(static_cast<size_t>(H_in));
  char* used = used_buf.data();
  std::fill(used, used + H_in, 0);
  for (int64_t oh = 0; oh < H_out; ++oh) used[tp.h0[oh]] = used[tp.h1[oh]] = 1;
  // Separable, in PyTorch's order: each input row is interpolated along W once into a scratch
  // plane, then output rows blend two scratch rows along H (contiguous, vectorized). The values
  // are the same as PyTorch's per-pixel W-then-H evaluation, bit for bit. (For C == 1 PyTorch
  // treats NCHW as channels-last and runs another kernel with a different rounding order; there
  // the two agree to 1 ulp.)
  parallel_for(a.N * a.C, 4 * (H_in + H_out) * W_out, [&](int64_t plane) {
    thread_local std::vector<T> tmp_buf;
    if (static_cast<int64_t>(tmp_buf.size()) < H_in * W_out) {
      tmp_buf.resize(static_cast<size_t>(H_in * W_out));
    }
    T* tmp = tmp_buf.data();
    const T* xp = x + plane * H_in * W_in;
    for (int64_t ih = 0; ih < H_in; ++ih) {
      if (!used[ih]) continue;
      const T* __restrict xr = xp + ih * W_in;
      T* __restrict tr = tmp + ih * W_out;
      for (int64_t ow = 0; ow < W_out; ++ow) {
        tr[ow] = mul_add(xr[tp.w0[ow]], tp.wl0[ow], xr[tp.w1[ow]] * tp.wl1[ow]);
      }
    }
    T* yp = y + plane * H_out * W_out;
    for (int64_t oh = 0; oh < H_out; ++oh) {
      const T* __restrict t0 = tmp + tp.h0[oh] * W_out;
      const T* __restrict t1 = tmp + tp.h1[oh] * W_out;
      const T a0 = tp.hl0[oh], a1 = tp.hl1[oh];
      T* __restrict yr = yp + oh * W_out;
      for (int64_t ow = 0; ow < W_out; ++ow) yr[ow] = mul_add(t0[ow], a0, t1[ow] * a1);
    }
  });
}

template <typename T>
void resize_bilinear_backward(const ResizeArgs& a, const T* dy, T* dx) {
  if (dx == nullptr) return;
  const BilinearTaps<T> tp = bilinear_taps<T>(a);
  const int64_t H_in = a.H_in, W_in = a.W_in, H_out = a.H_out, W_out = a.W_out;
  // Serial scatter within a plane, in PyTorch's order and rounding; planes in parallel.
  parallel_for(a.N * a.C, 4 * H_out * W_out, [&](int64_t plane) {
    T* d = dx + plane * H_in * W_in;
    std::fill(d, d + H_in * W_in, T(0));
    const T* g = dy + plane * H_out * W_out;
    for (int64_t oh = 0; oh < H_out; ++oh) {
      T* r0 = d + tp.h0[oh] * W_in;  // r1 == r0 at the bottom edge: no __restrict
      T* r1 = d + tp.h1[oh] * W_in;
      const T a0 = tp.hl0[oh], a1 = tp.hl1[oh];
      for (int64_t ow = 0; ow < W_out; ++ow) {
        const int64_t c0 = tp.w0[ow], c1 = tp.w1[ow];
        const T b0 = tp.wl0[ow], b1 = tp.wl1[ow];
        const T v = g[oh * W_out + ow];
        r0[c0] = mul_add(a0 * b0, v, r0[c0]);
        r0[c1] = mul_add(a0 * b1, v, r0[c1]);
        r1[c0] = mul_add(a1 * b0, v, r1[c0]);
        r1[c1] = mul_add(a1 * b1, v, r1[c1]);
      }
    }
  });
}

#define LDM_INSTANTIATE(T)                                                                    \
  template void silu_forward<T>(int64_t, const T*, T*);                                       \
  template void silu_backward<T>(int64_t, const T*, const T*, T*);                            \
  template void tanh_forward<T>(int64_t, const T*, T*);                                       \
  template void tanh_backward<T>(int64_t, const T*, const T*, T*);                            \
  template void hardtanh_forward<T>(const ElementwiseArgs&, const T*, T*);                    \
  template void hardtanh_backward<T>(const ElementwiseArgs&, const T*, const T*, T*);         \
  template void scale_forward<T>(const ElementwiseArgs&, const T*, T*);                       \
  template void add_forward<T>(const BroadcastArgs&, const T*, const T*, T*);                 \
  template void add_backward<T>(const BroadcastArgs&, const T*, T*, T*);                      \
  template void mul_forward<T>(const BroadcastArgs&, const T*, const T*, T*);                 \
  template void mul_backward<T>(const BroadcastArgs&, const T*, const T*, const T*, T*, T*);  \
  template void slice_copy<T>(const ConcatSliceArgs&, const T*, T*);                          \
  template void insert_copy<T>(const ConcatSliceArgs&, const T*, T*);                         \
  template void permute_copy<T>(const PermuteArgs&, const T*, T*);                            \
  template void upsample_nearest_forward<T>(const ResizeArgs&, const T*, T*);                 \
  template void upsample_nearest_backward<T>(const ResizeArgs&, const T*, T*);                \
  template void resize_bilinear_forward<T>(const ResizeArgs&, const T*, T*);                  \
  template void resize_bilinear_backward<T>(const ResizeArgs&, const T*, T*);

LDM_INSTANTIATE(float)
LDM_INSTANTIATE(double)
#undef LDM_INSTANTIATE

}  // namespace ldm::kernels::cpu
