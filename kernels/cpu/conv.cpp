// CPU conv2d / conv_transpose2d (see conv.h). 3x3 stride-1 convs with 16+ channels go to
// winograd.cpp; everything else is im2col here. Each pass is one OpenBLAS gemm per batch chunk,
// whose wide dimension is P = nb * Ho * Wo: at the U-Net's 8x8 and 4x4 latents a gemm per
// sample would be 64 or 16 columns wide and run far below peak.
//
// The im2col matrix ("col") comes in two layouts, picked per shape by the length of the runs
// its copies move:
// - channel rows [C * K * K, P], built from NCHW planes in runs of Wo pixels: wide images with
//   few channels (a 1-channel input, the VQ-VAE's outer layers);
// - pixel rows [P, K * K * C], built from a channels-last copy of each image in runs of K * C
//   values: narrow images with many channels (the U-Net). Its columns are ordered (kh, kw, c),
//   so the weights are reordered to match.
// conv_transpose2d is the adjoint of conv2d with the image and the grid swapped, so both use the
// same im2col / col2im pair.
//
// Batch chunks are kept small enough (kColBudget) that col stays in cache between its copy and
// its gemm, which measured faster than one batch-wide gemm. The batch is split into a fixed
// number of parts run in parallel (see kParts below), each doing its own copies and
// single-threaded gemms.
#include "kernels/cpu/conv.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/scratch.h"
#include "kernels/cpu/transpose.h"
#include "kernels/cpu/winograd.h"

namespace ldm::kernels::cpu {
namespace {

// Elements of col per batch chunk (4 MiB of float).
constexpr int64_t kColBudget = int64_t{1} << 20;

// A pointwise conv reads NCHW directly as the gemm operand once a sample's plane is this wide.
constexpr int64_t kDirectMinHW = 256;

constexpr int64_t kLanes = 8;

enum class Slot { kCol, kMat, kWeight, kPlane, kPartials };

// An image [C, H, W] seen through K x K windows at stride s and padding p, one window per point
// of an Ho x Wo grid. conv2d: the image is x and the grid y; conv_transpose2d: the image is y and
// the grid x.
struct Geom {
  int64_t C, H, W, Ho, Wo, K, s, p;
  int64_t rows() const { return C * K * K; }
  int64_t hw() const { return H * W; }
  int64_t hwo() const { return Ho * Wo; }
  int64_t hp() const { return H + 2 * p; }
  int64_t wp() const { return W + 2 * p; }
};

Geom conv_geom(const Conv2dArgs& a) {
  return {a.C_in, a.H_in, a.W_in, a.H_out, a.W_out, a.kernel, a.stride, a.padding};
}

Geom transpose_geom(const Conv2dArgs& a) {
  return {a.C_out, a.H_out, a.W_out, a.H_in, a.W_in, a.kernel, a.stride, a.padding};
}

enum class Layout { kChannelRows, kPixelRows };

bool is_pointwise(const Geom& g) { return g.K == 1 && g.s == 1 && g.p == 0; }

Layout choose_layout(const Geom& g) {
  if (is_pointwise(g)) return Layout::kChannelRows;  // col is then a block copy of the image
  return g.C >= g.Wo ? Layout::kPixelRows : Layout::kChannelRows;
}

Trans flip(Trans t) { return t == Trans::kYes ? Trans::kNo : Trans::kYes; }

// col seen as a gemm operand of shape [R, P]: stored as is, or transposed.
struct ColOperand {
  Trans trans;
  int64_t ld;
};

ColOperand col_as_rp(Layout layout, int64_t R, int64_t P) {
  return layout == Layout::kChannelRows ? ColOperand{Trans::kNo, P} : ColOperand{Trans::kYes, R};
}

// col [R, P] = op(A)[R, K] * op(B)[K, P], stored in the layout's orientation; pixel rows
// compute the transpose, B^T A^T, so that no copy is needed.
template <typename T>
void gemm_into_col(Layout layout, Trans ta, Trans tb, int64_t R, int64_t P, int64_t K,
                   const T* A, int64_t lda, const T* B, int64_t ldb, T* col) {
  if (layout == Layout::kChannelRows) {
    gemm<T>(ta, tb, R, P, K, T(1), A, lda, B, ldb, T(0), col, P);
  } else {
    gemm<T>(flip(tb), flip(ta), P, R, K, T(1), B, ldb, A, lda, T(0), col, R);
  }
}

// Samples per chunk: as few chunks as keep col under kColBudget, of equal size so that no
// chunk is a narrow gemm.
int64_t batch_chunk(int64_t N, int64_t per_sample) {
  const int64_t fit = std::max<int64_t>(1, kColBudget / std::max<int64_t>(per_sample, 1));
  const int64_t chunks = (N + fit - 1) / fit;
  return chunks > 0 ? (N + chunks - 1) / chunks : 1;
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

// db[C] = sum of dy [N, C, HW] over N and HW, in a fixed order.
template <typename T>
void bias_grad(const T* dy, int64_t N, int64_t C, int64_t HW, T* db) {
  for (int64_t c = 0; c < C; ++c) {
    T s = 0;
    for (int64_t n = 0; n < N; ++n) s += row_sum(dy + (n * C + c) * HW, HW);
    db[c] = s;
  }
}

// [nb, C, HW] -> [C, nb * HW]: the batch becomes the gemm's wide dimension.
template <typename T>
void batch_to_rows(const T* src, int64_t nb, int64_t C, int64_t HW, T* dst) {
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t n = 0; n < nb; ++n) {
      std::memcpy(dst + (c * nb + n) * HW, src + (n * C + c) * HW,
                  static_cast<std::size_t>(HW) * sizeof(T));
    }
  }
}

// [C, nb * HW] -> [nb, C, HW], adding bias[c] when bias is not null.
template <typename T>
void rows_to_batch(const T* src, int64_t nb, int64_t C, int64_t HW, const T* bias, T* dst) {
  for (int64_t c = 0; c < C; ++c) {
    const T b = bias ? bias[c] : T(0);
    for (int64_t n = 0; n < nb; ++n) {
      const T* __restrict s = src + (c * nb + n) * HW;
      T* __restrict d = dst + (n * C + c) * HW;
      for (int64_t j = 0; j < HW; ++j) d[j] = s[j] + b;
    }
  }
}

// Weights [A, B, KK] -> [A, KK, B]: pixel-row column order (kh, kw, c) for B = channels, and
// back with B and KK swapped.
template <typename T>
void swap_inner(const T* src, int64_t A, int64_t B, int64_t KK, T* dst) {
  for (int64_t a = 0; a < A; ++a) {
    transpose_2d(src + a * B * KK, KK, B, KK, static_cast<const T*>(nullptr), dst + a * B * KK,
                 B);
  }
}

// ---- channel rows: col [C * K * K, P], row (c, kh, kw), column (n, oh, ow) ----

// Copies one plane [H, W] into pp [Hp, Wp] with a zero border, so that the window loops need
// no bounds tests.
template <typename T>
void pad_plane(const Geom& g, const T* __restrict src, T* __restrict pp) {
  const int64_t Wp = g.wp();
  std::fill(pp, pp + g.p * Wp, T(0));
  for (int64_t h = 0; h < g.H; ++h) {
    T* __restrict d = pp + (h + g.p) * Wp;
    for (int64_t w = 0; w < g.p; ++w) d[w] = T(0);
    for (int64_t w = 0; w < g.W; ++w) d[g.p + w] = src[h * g.W + w];
    for (int64_t w = g.p + g.W; w < Wp; ++w) d[w] = T(0);
  }
  std::fill(pp + (g.H + g.p) * Wp, pp + g.hp() * Wp, T(0));
}

// Writes the K * K col rows of one (padded) plane: row (kh, kw) at dst + (kh * K + kw) * P
// holds the Ho x Wo window samples. kWo > 0 fixes the output width at compile time so that the
// short rows of small images become straight vector copies.
template <typename T, int64_t kWo>
void expand_plane(const Geom& g, const T* __restrict pp, int64_t Wp, T* __restrict dst,
                  int64_t P) {
  const int64_t Wo = kWo > 0 ? kWo : g.Wo;
  const int64_t s = g.s;
  for (int64_t kh = 0; kh < g.K; ++kh) {
    for (int64_t kw = 0; kw < g.K; ++kw) {
      T* __restrict d = dst + (kh * g.K + kw) * P;
      const T* __restrict src = pp + kh * Wp + kw;
      if (s == 1) {
        for (int64_t oh = 0; oh < g.Ho; ++oh) {
          for (int64_t ow = 0; ow < Wo; ++ow) d[oh * Wo + ow] = src[oh * Wp + ow];
        }
      } else {
        for (int64_t oh = 0; oh < g.Ho; ++oh) {
          for (int64_t ow = 0; ow < Wo; ++ow) d[oh * Wo + ow] = src[oh * s * Wp + ow * s];
        }
      }
    }
  }
}

// The adjoint of expand_plane: acc (a zeroed padded plane) += every window sample that came
// from it, in a fixed order.
template <typename T, int64_t kWo>
void collapse_plane(const Geom& g, const T* __restrict src, int64_t P, T* __restrict acc,
                    int64_t Wp) {
  const int64_t Wo = kWo > 0 ? kWo : g.Wo;
  const int64_t s = g.s;
  for (int64_t kh = 0; kh < g.K; ++kh) {
    for (int64_t kw = 0; kw < g.K; ++kw) {
      const T* __restrict d = src + (kh * g.K + kw) * P;
      T* __restrict a = acc + kh * Wp + kw;
      if (s == 1) {
        for (int64_t oh = 0; oh < g.Ho; ++oh) {
          for (int64_t ow = 0; ow < Wo; ++ow) a[oh * Wp + ow] += d[oh * Wo + ow];
        }
      } else {
        for (int64_t oh = 0; oh < g.Ho; ++oh) {
          for (int64_t ow = 0; ow < Wo; ++ow) a[oh * s * Wp + ow * s] += d[oh * Wo + ow];
        }
      }
    }
  }
}

template <typename T>
void expand_dispatch(const Geom& g, const T* pp, int64_t Wp, T* dst, int64_t P) {
  switch (g.Wo) {
    case 4: expand_plane<T, 4>(g, pp, Wp, dst, P); break;
    case 8: expand_plane<T, 8>(g, pp, Wp, dst, P); break;
    case 16: expand_plane<T, 16>(g, pp, Wp, dst, P); break;
    case 32: expand_plane<T, 32>(g, pp, Wp, dst, P); break;
    default: expand_plane<T, 0>(g, pp, Wp, dst, P); break;
  }
}

template <typename T>
void collapse_dispatch(const Geom& g, const T* src, int64_t P, T* acc, int64_t Wp) {
  switch (g.Wo) {
    case 4: collapse_plane<T, 4>(g, src, P, acc, Wp); break;
    case 8: collapse_plane<T, 8>(g, src, P, acc, Wp); break;
    case 16: collapse_plane<T, 16>(g, src, P, acc, Wp); break;
    case 32: collapse_plane<T, 32>(g, src, P, acc, Wp); break;
    default: collapse_plane<T, 0>(g, src, P, acc, Wp); break;
  }
}

// img [nb, C, H, W] -> col [C * K * K, nb * Ho * Wo].
template <typename T>
void im2col_channel_rows(const Geom& g, const T* img, int64_t nb, T* col) {
  if (is_pointwise(g)) {
    batch_to_rows(img, nb, g.C, g.hw(), col);
    return;
  }
  const int64_t P = nb * g.hwo();
  T* pp = g.p > 0 ? scratch<T, Slot::kPlane>(g.hp() * g.wp()) : nullptr;
  for (int64_t c = 0; c < g.C; ++c) {
    for (int64_t n = 0; n < nb; ++n) {
      const T* plane = img + (n * g.C + c) * g.hw();
      if (pp) {
        pad_plane(g, plane, pp);
        plane = pp;
      }
      expand_dispatch(g, plane, g.wp(), col + c * g.K * g.K * P + n * g.hwo(), P);
    }
  }
}

// The adjoint of im2col_channel_rows: img [nb, C, H, W] = sum of the col entries that map to
// each pixel, plus bias[c] when bias is not null.
template <typename T>
void col2im_channel_rows(const Geom& g, const T* col, int64_t nb, const T* bias, T* img) {
  if (is_pointwise(g)) {
    rows_to_batch(col, nb, g.C, g.hw(), bias, img);
    return;
  }
  const int64_t P = nb * g.hwo(), Wp = g.wp();
  T* pp = g.p > 0 ? scratch<T, Slot::kPlane>(g.hp() * Wp) : nullptr;
  for (int64_t c = 0; c < g.C; ++c) {
    const T b = bias ? bias[c] : T(0);
    for (int64_t n = 0; n < nb; ++n) {
      T* out = img + (n * g.C + c) * g.hw();
      const T* src = col + c * g.K * g.K * P + n * g.hwo();
      if (!pp) {
        std::fill(out, out + g.hw(), b);
        collapse_dispatch(g, src, P, out, Wp);
        continue;
      }
      std::fill(pp, pp + g.hp() * Wp, T(0));
      collapse_dispatch(g, src, P, pp, Wp);
      for (int64_t h = 0; h < g.H; ++h) {
        const T* __restrict s = pp + (h + g.p) * Wp + g.p;
        T* __restrict d = out + h * g.W;
        for (int64_t w = 0; w < g.W; ++w) d[w] = s[w] + b;
      }
    }
  }
}

// ---- pixel rows: col [P, K * K * C], row (n, oh, ow), column (kh, kw, c) ----

// One sample: img [C, H, W] -> pp [Hp, Wp, C] (channels last) with a zero border. The K
// window pixels of one window row are then K * C consecutive values.
template <typename T>
void pad_channels_last(const Geom& g, const T* img, T* pp) {
  const int64_t Wp = g.wp(), rowp = Wp * g.C;
  std::fill(pp, pp + g.p * rowp, T(0));
  for (int64_t h = 0; h < g.H; ++h) {
    T* d = pp + (h + g.p) * rowp;
    std::fill(d, d + g.p * g.C, T(0));
    transpose_2d(img + h * g.W, g.hw(), g.C, g.W, static_cast<const T*>(nullptr),
                 d + g.p * g.C, g.C);
    std::fill(d + (g.p + g.W) * g.C, d + rowp, T(0));
  }
  std::fill(pp + (g.H + g.p) * rowp, pp + g.hp() * rowp, T(0));
}

// img [nb, C, H, W] -> col [nb * Ho * Wo, K * K * C].
template <typename T>
void im2col_pixel_rows(const Geom& g, const T* img, int64_t nb, T* col) {
  const int64_t KC = g.K * g.C, KKC = g.K * KC, Wp = g.wp();
  T* pp = scratch<T, Slot::kPlane>(g.hp() * Wp * g.C);
  for (int64_t n = 0; n < nb; ++n) {
    pad_channels_last(g, img + n * g.C * g.hw(), pp);
    for (int64_t oh = 0; oh < g.Ho; ++oh) {
      for (int64_t ow = 0; ow < g.Wo; ++ow) {
        T* d = col + ((n * g.Ho + oh) * g.Wo + ow) * KKC;
        for (int64_t kh = 0; kh < g.K; ++kh) {
          std::memcpy(d + kh * KC, pp + ((oh * g.s + kh) * Wp + ow * g.s) * g.C,
                      static_cast<std::size_t>(KC) * sizeof(T));
        }
      }
    }
  }
}

// The adjoint of im2col_pixel_rows: img [nb, C, H, W] = sum of the col entries that map to
// each pixel, plus bias[c] when bias is not null. Accumulates one sample at a time in a
// channels-last padded plane, in a fixed order.
template <typename T>
void col2im_pixel_rows(const Geom& g, const T* col, int64_t nb, const T* bias, T* img) {
  const int64_t KC = g.K * g.C, KKC = g.K * KC, Wp = g.wp(), rowp = Wp * g.C;
  T* pp = scratch<T, Slot::kPlane>(g.hp() * rowp);
  for (int64_t n = 0; n < nb; ++n) {
    std::fill(pp, pp + g.hp() * rowp, T(0));
    for (int64_t oh = 0; oh < g.Ho; ++oh) {
      for (int64_t ow = 0; ow < g.Wo; ++ow) {
        const T* __restrict d = col + ((n * g.Ho + oh) * g.Wo + ow) * KKC;
        for (int64_t kh = 0; kh < g.K; ++kh) {
          const T* __restrict s = d + kh * KC;
          T* __restrict a = pp + ((oh * g.s + kh) * Wp + ow * g.s) * g.C;
          for (int64_t j = 0; j < KC; ++j) a[j] += s[j];
        }
      }
    }
    T* out = img + n * g.C * g.hw();
    for (int64_t h = 0; h < g.H; ++h) {
      transpose_2d(pp + (h + g.p) * rowp + g.p * g.C, g.C, g.W, g.C, bias, out + h * g.W,
                   g.hw());
    }
  }
}

template <typename T>
void im2col(Layout layout, const Geom& g, const T* img, int64_t nb, T* col) {
  if (layout == Layout::kChannelRows) {
    im2col_channel_rows(g, img, nb, col);
  } else {
    im2col_pixel_rows(g, img, nb, col);
  }
}

template <typename T>
void col2im(Layout layout, const Geom& g, const T* col, int64_t nb, const T* bias, T* img) {
  if (layout == Layout::kChannelRows) {
    col2im_channel_rows(g, col, nb, bias, img);
  } else {
    col2im_pixel_rows(g, col, nb, bias, img);
  }
}

// The weights as the gemms see them: [A, B * K * K] in the layout's column order. Channel rows
// use the caller's array; pixel rows a reordered copy ([A, K, K, B]) in scratch.
template <typename T>
const T* layout_weights(Layout layout, const T* w, int64_t A, int64_t B, int64_t KK) {
  if (layout == Layout::kChannelRows) return w;
  T* wr = scratch<T, Slot::kWeight>(2 * A * B * KK);
  swap_inner(w, A, B, KK, wr);
  return wr;
}

// Where the gemms accumulate dw: dw itself for channel rows, else scratch next to the
// reordered weights, swapped back by finish_weight_grad.
template <typename T>
T* layout_weight_grad(Layout layout, T* dw, int64_t A, int64_t B, int64_t KK) {
  if (layout == Layout::kChannelRows) return dw;
  return scratch<T, Slot::kWeight>(2 * A * B * KK) + A * B * KK;
}

template <typename T>
void finish_weight_grad(Layout layout, const T* dwk, int64_t A, int64_t B, int64_t KK, T* dw) {
  if (layout == Layout::kPixelRows) swap_inner(dwk, A, KK, B, dw);
}

// The batch is cut into kParts contiguous parts that run in parallel, each on one thread with
// its own scratch and single-threaded gemms (OpenBLAS's OpenMP build runs serially inside a
// parallel region). The copies around the gemms then run on every core too, and the small gemms
// of the U-Net's 4x4 level do not pay for OpenBLAS's own fork/join. The part count is fixed, not
// the thread count, because the weight gradient sums the parts: its rounding must not depend on
// how many threads a run has.
constexpr int64_t kParts = 4;

struct Part {
  int64_t begin, end, chunk;  // samples [begin, end) in chunks of `chunk` (the last may be short)
};

// Part i of the batch, with the chunk size for per_sample col elements a sample.
Part batch_part(int64_t N, int64_t parts, int64_t i, int64_t per_sample) {
  const int64_t begin = N * i / parts, end = N * (i + 1) / parts;
  return {begin, end, batch_chunk(end - begin, per_sample)};
}

int64_t part_count(int64_t N) { return std::min(kParts, N); }

// Per-part weight gradients are summed in part order, so the result is the same for any thread
// count. partials [parts, n] -> out [n].
template <typename T>
void sum_parts(const T* partials, int64_t parts, int64_t n, T* out) {
  parallel_chunks(n, 4096, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      T s = partials[i];
      for (int64_t p = 1; p < parts; ++p) s += partials[p * n + i];
      out[i] = s;
    }
  });
}

}  // namespace

template <typename T>
void conv2d_forward(const Conv2dArgs& a, const T* x, const T* w, const T* bias, T* y) {
  if (winograd_applies(a)) {
    winograd_conv2d_forward(a, x, w, bias, y);
    return;
  }
  const Geom g = conv_geom(a);
  const int64_t R = g.rows(), HWi = g.hw(), HWo = g.hwo();
  if (is_pointwise(g) && HWo >= kDirectMinHW) {
    // Each sample's NCHW plane already is the gemm operand [C_in, HW].
    parallel_for(a.N, kMinParallelWork, [&](int64_t n) {
      T* yn = y + n * a.C_out * HWo;
      if (bias) {
        for (int64_t c = 0; c < a.C_out; ++c) std::fill(yn + c * HWo, yn + (c + 1) * HWo, bias[c]);
      }
      gemm<T>(Trans::kNo, Trans::kNo, a.C_out, HWo, a.C_in, T(1), w, a.C_in, x + n * a.C_in * HWi,
              HWi, bias ? T(1) : T(0), yn, HWo);
    });
    return;
  }
  const Layout layout = choose_layout(g);
  const T* wk = layout_weights(layout, w, a.C_out, a.C_in, g.K * g.K);  // shared, read-only
  const int64_t parts = part_count(a.N);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < parts; ++i) {
    const Part part = batch_part(a.N, parts, i, R * HWo);
    T* col = scratch<T, Slot::kCol>(R * part.chunk * HWo);
    T* ymat = scratch<T, Slot::kMat>(a.C_out * part.chunk * HWo);
    for (int64_t n0 = part.begin; n0 < part.end; n0 += part.chunk) {
      const int64_t cur = std::min(part.chunk, part.end - n0), P = cur * HWo;
      const ColOperand c = col_as_rp(layout, R, P);
      im2col(layout, g, x + n0 * a.C_in * HWi, cur, col);
      // y [C_out, P] = w [C_out, R] col [R, P]
      gemm<T>(Trans::kNo, c.trans, a.C_out, P, R, T(1), wk, R, col, c.ld, T(0), ymat, P);
      rows_to_batch(ymat, cur, a.C_out, HWo, bias, y + n0 * a.C_out * HWo);
    }
  }
}

template <typename T>
void conv2d_backward(const Conv2dArgs& a, const T* x, const T* w, const T* dy, T* dx, T* dw,
                     T* db) {
  const Geom g = conv_geom(a);
  const int64_t R = g.rows(), HWi = g.hw(), HWo = g.hwo(), KK = g.K * g.K;
  if (db) bias_grad(dy, a.N, a.C_out, HWo, db);
  if (winograd_applies(a)) {
    winograd_conv2d_backward(a, x, w, dy, dx, dw);
    return;
  }
  if (!dx && !dw) return;
  if (a.N == 0) {
    if (dw) std::fill(dw, dw + a.C_out * R, T(0));  // no part will overwrite it
    return;
  }
  const int64_t parts = part_count(a.N), dw_size = a.C_out * R;
  const bool direct = is_pointwise(g) && HWo >= kDirectMinHW;
  const Layout layout = choose_layout(g);
  const T* wk = dx && !direct ? layout_weights(layout, w, a.C_out, a.C_in, KK) : w;
  // Each part's dw [C_out, R] (in the layout's column order), summed after the parallel loop.
  T* dw_parts = dw ? scratch<T, Slot::kPartials>(parts * dw_size) : nullptr;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < parts; ++i) {
    T* dwp = dw ? dw_parts + i * dw_size : nullptr;
    if (direct) {
      // Pointwise on wide planes: NCHW planes are the gemm operands as they are.
      const Part part = batch_part(a.N, parts, i, 1);
      for (int64_t n = part.begin; n < part.end; ++n) {
        const T* dyn = dy + n * a.C_out * HWo;
        if (dwp) {
          gemm<T>(Trans::kNo, Trans::kYes, a.C_out, a.C_in, HWo, T(1), dyn, HWo,
                  x + n * a.C_in * HWi, HWi, n == part.begin ? T(0) : T(1), dwp, a.C_in);
        }
        if (dx) {
          gemm<T>(Trans::kYes, Trans::kNo, a.C_in, HWi, a.C_out, T(1), w, a.C_in, dyn, HWo, T(0),
                  dx + n * a.C_in * HWi, HWi);
        }
      }
      continue;
    }
    const Part part = batch_part(a.N, parts, i, R * HWo);
    T* col = scratch<T, Slot::kCol>(R * part.chunk * HWo);
    T* dymat = scratch<T, Slot::kMat>(a.C_out * part.chunk * HWo);
    for (int64_t n0 = part.begin; n0 < part.end; n0 += part.chunk) {
      const int64_t cur = std::min(part.chunk, part.end - n0), P = cur * HWo;
      const ColOperand c = col_as_rp(layout, R, P);
      batch_to_rows(dy + n0 * a.C_out * HWo, cur, a.C_out, HWo, dymat);
      if (dwp) {
        // dw [C_out, R] (+)= dy [C_out, P] col^T [P, R]; chunks accumulate in batch order.
        im2col(layout, g, x + n0 * a.C_in * HWi, cur, col);
        gemm<T>(Trans::kNo, flip(c.trans), a.C_out, R, P, T(1), dymat, P, col, c.ld,
                n0 == part.begin ? T(0) : T(1), dwp, R);
      }
      if (dx) {
        // col [R, P] = w^T [R, C_out] dy [C_out, P], then scattered back onto the image. (At
        // stride 1 dx is also a conv2d of dy with the flipped kernel, a forward-shaped gemm;
        // measured slower here, including at C_out = 32.)
        gemm_into_col(layout, Trans::kYes, Trans::kNo, R, P, a.C_out, wk, R, dymat, P, col);
        col2im(layout, g, col, cur, static_cast<const T*>(nullptr), dx + n0 * a.C_in * HWi);
      }
    }
  }
  if (!dw) return;
  if (direct || layout == Layout::kChannelRows) {
    sum_parts(dw_parts, parts, dw_size, dw);
    return;
  }
  T* dwk = layout_weight_grad(layout, dw, a.C_out, a.C_in, KK);
  sum_parts(dw_parts, parts, dw_size, dwk);
  finish_weight_grad(layout, dwk, a.C_out, a.C_in, KK, dw);
}

template <typename T>
void conv_transpose2d_forward(const Conv2dArgs& a, const T* x, const T* w, const T* bias, T* y) {
  const Geom g = transpose_geom(a);
  const int64_t R = g.rows(), HWx = g.hwo(), HWy = g.hw();
  const Layout layout = choose_layout(g);
  const T* wk = layout_weights(layout, w, a.C_in, a.C_out, g.K * g.K);  // shared, read-only
  const int64_t parts = part_count(a.N);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < parts; ++i) {
    const Part part = batch_part(a.N, parts, i, R * HWx);
    T* col = scratch<T, Slot::kCol>(R * part.chunk * HWx);
    T* xmat = scratch<T, Slot::kMat>(a.C_in * part.chunk * HWx);
    for (int64_t n0 = part.begin; n0 < part.end; n0 += part.chunk) {
      const int64_t cur = std::min(part.chunk, part.end - n0), P = cur * HWx;
      batch_to_rows(x + n0 * a.C_in * HWx, cur, a.C_in, HWx, xmat);
      // col [R, P] = w^T [R, C_in] x [C_in, P], then scattered onto the output image.
      gemm_into_col(layout, Trans::kYes, Trans::kNo, R, P, a.C_in, wk, R, xmat, P, col);
      col2im(layout, g, col, cur, bias, y + n0 * a.C_out * HWy);
    }
  }
}

template <typename T>
void conv_transpose2d_backward(const Conv2dArgs& a, const T* x, const T* w, const T* dy, T* dx,
                               T* dw, T* db) {
  const Geom g = transpose_geom(a);
  const int64_t R = g.rows(), HWx = g.hwo(), HWy = g.hw(), KK = g.K * g.K;
  if (db) bias_grad(dy, a.N, a.C_out, HWy, db);
  if (!dx && !dw) return;
  if (a.N == 0) {
    if (dw) std::fill(dw, dw + a.C_in * R, T(0));  // no part will overwrite it
    return;
  }
  const int64_t parts = part_count(a.N), dw_size = a.C_in * R;
  const Layout layout = choose_layout(g);
  const T* wk = dx ? layout_weights(layout, w, a.C_in, a.C_out, KK) : nullptr;
  T* dw_parts = dw ? scratch<T, Slot::kPartials>(parts * dw_size) : nullptr;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < parts; ++i) {
    T* dwp = dw ? dw_parts + i * dw_size : nullptr;
    const Part part = batch_part(a.N, parts, i, R * HWx);
    T* col = scratch<T, Slot::kCol>(R * part.chunk * HWx);
    T* xmat = scratch<T, Slot::kMat>(a.C_in * part.chunk * HWx);
    for (int64_t n0 = part.begin; n0 < part.end; n0 += part.chunk) {
      const int64_t cur = std::min(part.chunk, part.end - n0), P = cur * HWx;
      const ColOperand c = col_as_rp(layout, R, P);
      im2col(layout, g, dy + n0 * a.C_out * HWy, cur, col);
      if (dwp) {
        // dw [C_in, R] (+)= x [C_in, P] col^T [P, R]; chunks accumulate in batch order.
        batch_to_rows(x + n0 * a.C_in * HWx, cur, a.C_in, HWx, xmat);
        gemm<T>(Trans::kNo, flip(c.trans), a.C_in, R, P, T(1), xmat, P, col, c.ld,
                n0 == part.begin ? T(0) : T(1), dwp, R);
      }
      if (dx) {
        // dx [C_in, P] = w [C_in, R] col [R, P]
        gemm<T>(Trans::kNo, c.trans, a.C_in, P, R, T(1), wk, R, col, c.ld, T(0), xmat, P);
        rows_to_batch(xmat, cur, a.C_in, HWx, static_cast<const T*>(nullptr),
                      dx + n0 * a.C_in * HWx);
      }
    }
  }
  if (!dw) return;
  if (layout == Layout::kChannelRows) {
    sum_parts(dw_parts, parts, dw_size, dw);
    return;
  }
  T* dwk = layout_weight_grad(layout, dw, a.C_in, a.C_out, KK);
  sum_parts(dw_parts, parts, dw_size, dwk);
  finish_weight_grad(layout, dwk, a.C_in, a.C_out, KK, dw);
}

#define LDM_INSTANTIATE_CONV(T)                                                               \
  template void conv2d_forward<T>(const Conv2dArgs&, const T*, const T*, const T*, T*);       \
  template void conv2d_backward<T>(const Conv2dArgs&, const T*, const T*, const T*, T*, T*,   \
                                   T*);                                                       \
  template void conv_transpose2d_forward<T>(const Conv2dArgs&, const T*, const T*, const T*,  \
                                            T*);                                              \
  template void conv_transpose2d_backward<T>(const Conv2dArgs&, const T*, const T*, const T*, \
                                             T*, T*, T*);
LDM_INSTANTIATE_CONV(float)
LDM_INSTANTIATE_CONV(double)
#undef LDM_INSTANTIATE_CONV

}  // namespace ldm::kernels::cpu
