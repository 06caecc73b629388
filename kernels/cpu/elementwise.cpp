// CPU elementwise, broadcasting, copy and resampling kernels. These are memory bound, so the aim
// is contiguous inner loops the compiler vectorizes, split into chunks across the cores.
// Reductions (broadcast backward) accumulate in double in a fixed order, so results do not
// depend on the thread count.
#include "kernels/cpu/elementwise.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/cpu/parallel.h"

namespace ldm::kernels::cpu {
namespace {

// Elements per parallel task in flat loops: large enough to amortize scheduling, small enough
// to split a single big row across both cores.
constexpr int64_t kChunk = 8192;
constexpr int kRank = BroadcastArgs::kMaxRank;

// Runs body(begin, end) over [0, n) in contiguous chunks so inner loops stay vectorizable.
template <typename Body>
void parallel_chunks(int64_t n, Body&& body) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  parallel_for(chunks, kChunk, [&](int64_t c) {
    const int64_t begin = c * kChunk;
    body(begin, std::min(n, begin + kChunk));
  });
}

// Sum of p[0, n) in double with 8 independent lanes: vectorizable, and the association order
// depends only on n.
template <typename T>
double sum_lanes(const T* __restrict p, int64_t n) {
  constexpr int kL = 8;
  double acc[kL] = {};
  int64_t i = 0;
  for (; i + kL <= n; i += kL) {
    for (int k = 0; k < kL; ++k) acc[k] += static_cast<double>(p[i + k]);
  }
  for (int k = 0; i + k < n; ++k) acc[k] += static_cast<double>(p[i + k]);
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

// Dot product of p[0, n) and q[0, n) in double, same lane scheme as sum_lanes.
template <typename T>
double dot_lanes(const T* __restrict p, const T* __restrict q, int64_t n) {
  constexpr int kL = 8;
  double acc[kL] = {};
  int64_t i = 0;
  for (; i + kL <= n; i += kL) {
    for (int k = 0; k < kL; ++k) {
      acc[k] += static_cast<double>(p[i + k]) * static_cast<double>(q[i + k]);
    }
  }
  for (int k = 0; i + k < n; ++k) {
    acc[k] += static_cast<double>(p[i + k]) * static_cast<double>(q[i + k]);
  }
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

int64_t numel(const int64_t* shape) {
  int64_t n = 1;
  for (int d = 0; d < kRank; ++d) n *= shape[d];
  return n;
}

// An iteration space over up to three operands with per-operand element strides (0 along
// broadcast dims). Size-1 dims are dropped and neighbours merged while every operand stays
// linear across them, so [N,C,H,W] (+) [N,C,1,1] becomes [N*C, H*W] with strides [HW,1]/[1,0].
struct Strided {
  int rank = 0;
  int64_t size[kRank] = {};
  int64_t stride[3][kRank] = {};
};

// shapes[k] is operand k's shape, contiguous, broadcast against iter_shape.
Strided make_strided(const int64_t* iter_shape, const int64_t* const* shapes, int ops) {
  int64_t st[3][kRank];
  for (int k = 0; k < ops; ++k) {
    int64_t s = 1;
    for (int d = kRank - 1; d >= 0; --d) {
      st[k][d] = (shapes[k][d] == 1) ? 0 : s;
      s *= shapes[k][d];
    }
  }
  Strided r;
  for (int d = 0; d < kRank; ++d) {
    if (iter_shape[d] == 1) continue;
    bool merge = r.rank > 0;
    for (int k = 0; k < ops && merge; ++k) {
      merge = r.stride[k][r.rank - 1] == st[k][d] * iter_shape[d];
    }
    if (merge) {
      r.size[r.rank - 1] *= iter_shape[d];
      for (int k = 0; k < ops; ++k) r.stride[k][r.rank - 1] = st[k][d];
    } else {
      r.size[r.rank] = iter_shape[d];
      for (int k = 0; k < ops; ++k) r.stride[k][r.rank] = st[k][d];
      ++r.rank;
    }
  }
  if (r.rank == 0) {  // a single element
    r.rank = 1;
    r.size[0] = 1;
    for (int k = 0; k < ops; ++k) r.stride[k][0] = 1;
  }
  return r;
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
      parallel_chunks(total, [&](int64_t b, int64_t e) {
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

}  // namespace

template <typename T>
void silu_forward(int64_t n, const T* x, T* y) {
  parallel_chunks(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = x[i] / (T(1) + std::exp(-x[i]));
  });
}

template <typename T>
void silu_backward(int64_t n, const T* x, const T* dy, T* dx) {
  if (dx == nullptr) return;
  parallel_chunks(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const T s = T(1) / (T(1) + std::exp(-x[i]));
      dx[i] = dy[i] * (s * (T(1) + x[i] * (T(1) - s)));
    }
  });
}

template <typename T>
void tanh_forward(int64_t n, const T* x, T* y) {
  parallel_chunks(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = std::tanh(x[i]);
  });
}

template <typename T>
void tanh_backward(int64_t n, const T* y, const T* dy, T* dx) {
  if (dx == nullptr) return;
  parallel_chunks(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) dx[i] = dy[i] * (T(1) - y[i] * y[i]);
  });
}

template <typename T>
void hardtanh_forward(const ElementwiseArgs& a, const T* x, T* y) {
  const T lo = static_cast<T>(a.min_val), hi = static_cast<T>(a.max_val);
  parallel_chunks(a.n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = std::min(std::max(x[i], lo), hi);
  });
}

template <typename T>
void hardtanh_backward(const ElementwiseArgs& a, const T* x, const T* dy, T* dx) {
  if (dx == nullptr) return;
  const T lo = static_cast<T>(a.min_val), hi = static_cast<T>(a.max_val);
  parallel_chunks(a.n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) dx[i] = (x[i] > lo && x[i] < hi) ? dy[i] : T(0);
  });
}

template <typename T>
void scale_forward(const ElementwiseArgs& a, const T* x, T* y) {
  const T alpha = static_cast<T>(a.alpha);
  parallel_chunks(a.n, [&](int64_t b, int64_t e) {
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

template <typename T>
void upsample_nearest_forward(const ResizeArgs& a, const T* x, T* y) {
  if (a.H_in <= 0 || a.W_in <= 0) return;
  const int64_t fh = a.H_out / a.H_in, fw = a.W_out / a.W_in;
  const int64_t W_in = a.W_in, W_out = a.W_out;
  // One task per input row: expand it once, then replicate the expanded row fh - 1 times.
  parallel_for(a.N * a.C * a.H_in, fh * W_out, [&](int64_t t) {
    const T* __restrict xr = x + t * W_in;
    T* __restrict y0 = y + t * fh * W_out;
    if (fw == 2) {
      for (int64_t iw = 0; iw < W_in; ++iw) y0[2 * iw] = y0[2 * iw + 1] = xr[iw];
    } else {
      for (int64_t iw = 0; iw < W_in; ++iw) {
        for (int64_t kw = 0; kw < fw; ++kw) y0[iw * fw + kw] = xr[iw];
      }
    }
    for (int64_t kh = 1; kh < fh; ++kh) {
      std::memcpy(y0 + kh * W_out, y0, static_cast<size_t>(W_out) * sizeof(T));
    }
  });
}

template <typename T>
void upsample_nearest_backward(const ResizeArgs& a, const T* dy, T* dx) {
  if (dx == nullptr || a.H_in <= 0 || a.W_in <= 0) return;
  const int64_t fh = a.H_out / a.H_in, fw = a.W_out / a.W_in;
  const int64_t W_in = a.W_in, W_out = a.W_out;
  if (fh == 0 || fw == 0) {
    std::fill(dx, dx + a.N * a.C * a.H_in * W_in, T(0));
    return;
  }
  parallel_for(a.N * a.C * a.H_in, fh * W_out, [&](int64_t t) {
    const T* d = dy + t * fh * W_out;
    if (fw == 2) {
      nearest_backward_row<2>(d, W_out, fh, W_in, fw, dx + t * W_in);
    } else {
      nearest_backward_row<0>(d, W_out, fh, W_in, fw, dx + t * W_in);
    }
  });
}

template <typename T>
void resize_bilinear_forward(const ResizeArgs& a, const T* x, T* y) {
  const BilinearTaps<T> tp = bilinear_taps<T>(a);
  const int64_t H_in = a.H_in, W_in = a.W_in, H_out = a.H_out, W_out = a.W_out;
  // One task per output row; the evaluation order (W first, then H) is PyTorch's.
  parallel_for(a.N * a.C * H_out, 8 * W_out, [&](int64_t t) {
    const int64_t plane = t / H_out, oh = t % H_out;
    const T* __restrict r0 = x + (plane * H_in + tp.h0[oh]) * W_in;
    const T* __restrict r1 = x + (plane * H_in + tp.h1[oh]) * W_in;
    const T a0 = tp.hl0[oh], a1 = tp.hl1[oh];
    T* __restrict yr = y + t * W_out;
    for (int64_t ow = 0; ow < W_out; ++ow) {
      const int64_t c0 = tp.w0[ow], c1 = tp.w1[ow];
      const T b0 = tp.wl0[ow], b1 = tp.wl1[ow];
      const T t0 = mul_add(r0[c0], b0, r0[c1] * b1);
      const T t1 = mul_add(r1[c0], b0, r1[c1] * b1);
      yr[ow] = mul_add(t0, a0, t1 * a1);
    }
  });
}

template <typename T>
void resize_bilinear_backward(const ResizeArgs& a, const T* dy, T* dx) {
  if (dx == nullptr) return;
  const BilinearTaps<T> tp = bilinear_taps<T>(a);
  const int64_t H_in = a.H_in, W_in = a.W_in, H_out = a.H_out, W_out = a.W_out;
  // Serial scatter within a plane (PyTorch's order), planes in parallel: deterministic.
  parallel_for(a.N * a.C, 4 * H_out * W_out, [&](int64_t plane) {
    T* __restrict d = dx + plane * H_in * W_in;
    std::fill(d, d + H_in * W_in, T(0));
    const T* g = dy + plane * H_out * W_out;
    for (int64_t oh = 0; oh < H_out; ++oh) {
      T* __restrict r0 = d + tp.h0[oh] * W_in;
      T* __restrict r1 = d + tp.h1[oh] * W_in;
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
  template void upsample_nearest_forward<T>(const ResizeArgs&, const T*, T*);                 \
  template void upsample_nearest_backward<T>(const ResizeArgs&, const T*, T*);                \
  template void resize_bilinear_forward<T>(const ResizeArgs&, const T*, T*);                  \
  template void resize_bilinear_backward<T>(const ResizeArgs&, const T*, T*);

LDM_INSTANTIATE(float)
LDM_INSTANTIATE(double)
#undef LDM_INSTANTIATE

}  // namespace ldm::kernels::cpu
