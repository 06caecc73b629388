// CPU conv2d / conv_transpose2d (see conv.h). Each pass is a single OpenBLAS gemm whose wide
// dimension is P = nb * Ho * Wo (a whole batch chunk): at the U-Net's 8x8 and 4x4 latents a
// gemm per sample would be 64 or 16 columns wide and run far below peak.
//
// The im2col matrix comes in two layouts, picked per shape by the length of the runs it copies:
// - channel rows [C * K * K, P], built from NCHW planes in runs of Wo pixels: wide images with
//   few channels (the VQ-VAE's outer layers, a 1-channel input);
// - pixel rows [P, K * K * C], built from a channels-last copy of the image in runs of K * C
//   values: narrow images with many channels (the U-Net), where Wo-long runs are too short.
// conv_transpose2d is the adjoint of conv2d with the roles of image and grid swapped, so both
// share the same im2col / col2im pair.
#include "kernels/cpu/conv.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <new>
#include <vector>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/parallel.h"

namespace ldm::kernels::cpu {
namespace {

// Batch chunks keep the im2col matrix near this many elements (32 MiB of float): large enough
// that the gemm stays wide, small enough that 256x256 images do not need gigabytes of scratch.
constexpr int64_t kColBudget = int64_t{1} << 23;

// A pointwise conv reads NCHW directly as the gemm operand once a sample's plane is this wide.
constexpr int64_t kDirectMinHW = 256;

constexpr int64_t kLanes = 8;

// Cache-line aligned, so that the copies in and out of the gemm start on whole vectors.
template <typename T>
struct AlignedAllocator {
  using value_type = T;
  AlignedAllocator() = default;
  template <typename U>
  explicit AlignedAllocator(const AlignedAllocator<U>&) {}
  T* allocate(std::size_t n) {
    return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{64}));
  }
  void deallocate(T* p, std::size_t) { ::operator delete(p, std::align_val_t{64}); }
  friend bool operator==(const AlignedAllocator&, const AlignedAllocator&) { return true; }
};

enum class Slot { kCol, kMat, kImage, kWeight, kPlane, kCount };

// Per-thread scratch that only grows; the old contents are dropped before growing so that peak
// memory is one buffer, not two.
template <typename T>
T* scratch(Slot slot, int64_t n) {
  thread_local std::vector<T, AlignedAllocator<T>> bufs[static_cast<int>(Slot::kCount)];
  auto& b = bufs[static_cast<int>(slot)];
  if (static_cast<int64_t>(b.size()) < n) {
    b.clear();
    b.shrink_to_fit();
    b.resize(static_cast<std::size_t>(n));
  }
  return b.data();
}

// An image [C, H, W] seen through K x K windows at stride s and padding p, one window per point
// of an Ho x Wo grid. conv2d: the image is x and the grid y; conv_transpose2d: the image is y and
// the grid x.
struct Geom {
  int64_t C, H, W, Ho, Wo, K, s, p;
  int64_t rows() const { return C * K * K; }
  int64_t hw() const { return H * W; }
  int64_t hwo() const { return Ho * Wo; }
};

enum class Layout { kChannelRows, kPixelRows };

Layout choose_layout(const Geom& g) {
  return g.C > g.Wo ? Layout::kPixelRows : Layout::kChannelRows;
}

Geom conv_geom(const Conv2dArgs& a) {
  return {a.C_in, a.H_in, a.W_in, a.H_out, a.W_out, a.kernel, a.stride, a.padding};
}

Geom transpose_geom(const Conv2dArgs& a) {
  return {a.C_out, a.H_out, a.W_out, a.H_in, a.W_in, a.kernel, a.stride, a.padding};
}

bool is_pointwise(const Conv2dArgs& a) {
  return a.kernel == 1 && a.stride == 1 && a.padding == 0;
}

// Samples per chunk so that a [per_sample, nb] matrix stays near kColBudget.
int64_t batch_chunk(int64_t N, int64_t per_sample) {
  return std::clamp<int64_t>(kColBudget / std::max<int64_t>(per_sample, 1), 1,
                             std::max<int64_t>(N, 1));
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
  parallel_for(C, N * HW, [&](int64_t c) {
    T s = 0;
    for (int64_t n = 0; n < N; ++n) s += row_sum(dy + (n * C + c) * HW, HW);
    db[c] = s;
  });
}

// [nb, C, HW] -> [C, nb * HW]: the batch becomes the gemm's wide dimension.
template <typename T>
void batch_to_rows(const T* src, int64_t nb, int64_t C, int64_t HW, T* dst) {
  parallel_for(C * nb, HW, [&](int64_t i) {
    const int64_t c = i / nb, n = i % nb;
    std::memcpy(dst + (c * nb + n) * HW, src + (n * C + c) * HW,
                static_cast<std::size_t>(HW) * sizeof(T));
  });
}

// [C, nb * HW] -> [nb, C, HW], adding bias[c] when bias is not null.
template <typename T>
void rows_to_batch(const T* src, int64_t nb, int64_t C, int64_t HW, const T* bias, T* dst) {
  parallel_for(C * nb, HW, [&](int64_t i) {
    const int64_t c = i / nb, n = i % nb;
    const T* __restrict s = src + (c * nb + n) * HW;
    T* __restrict d = dst + (n * C + c) * HW;
    const T b = bias ? bias[c] : T(0);
    for (int64_t j = 0; j < HW; ++j) d[j] = s[j] + b;
  });
}

// dst [B, C, R] = src [B, R, C] transposed per batch entry, plus bias[c] when bias is not null.
// Tiled so that both sides are walked in cache-line sized pieces.
template <typename T>
void transpose_batched(const T* src, int64_t B, int64_t R, int64_t C, const T* bias, T* dst) {
  constexpr int64_t kTile = 16;
  const int64_t tiles_c = (C + kTile - 1) / kTile;
  parallel_for(B * tiles_c, R * kTile, [&](int64_t i) {
    const int64_t b = i / tiles_c, c0 = (i % tiles_c) * kTile, c1 = std::min(C, c0 + kTile);
    const T* __restrict s = src + b * R * C;
    T* __restrict d = dst + b * R * C;
    for (int64_t r0 = 0; r0 < R; r0 += kTile) {
      const int64_t r1 = std::min(R, r0 + kTile);
      for (int64_t c = c0; c < c1; ++c) {
        const T bc = bias ? bias[c] : T(0);
        for (int64_t r = r0; r < r1; ++r) d[c * R + r] = s[r * C + c] + bc;
      }
    }
  });
}

// ---- channel rows: col [C * K * K, P], row (c, kh, kw), column (n, oh, ow) ----

// Copies one plane [H, W] into pp [H + 2p, W + 2p] with a zero border, so that the window
// loops below need no bounds tests.
template <typename T>
void pad_plane(const Geom& g, const T* __restrict src, T* __restrict pp) {
  const int64_t Wp = g.W + 2 * g.p;
  std::fill(pp, pp + g.p * Wp, T(0));
  for (int64_t h = 0; h < g.H; ++h) {
    T* __restrict d = pp + (h + g.p) * Wp;
    for (int64_t w = 0; w < g.p; ++w) d[w] = T(0);
    for (int64_t w = 0; w < g.W; ++w) d[g.p + w] = src[h * g.W + w];
    for (int64_t w = g.p + g.W; w < Wp; ++w) d[w] = T(0);
  }
  std::fill(pp + (g.H + g.p) * Wp, pp + (g.H + 2 * g.p) * Wp, T(0));
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
// from it, rows visited in a fixed order.
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
  const int64_t P = nb * g.hwo();
  const int64_t Hp = g.H + 2 * g.p, Wp = g.W + 2 * g.p;
  parallel_for(g.C * nb, g.K * g.K * g.hwo(), [&](int64_t i) {
    const int64_t c = i / nb, n = i % nb;
    const T* plane = img + (n * g.C + c) * g.hw();
    if (g.p > 0) {
      T* pp = scratch<T>(Slot::kPlane, Hp * Wp);
      pad_plane(g, plane, pp);
      plane = pp;
    }
    expand_dispatch(g, plane, Wp, col + c * g.K * g.K * P + n * g.hwo(), P);
  });
}

// The adjoint of im2col_channel_rows: img [nb, C, H, W] = sum of the col entries that map to
// each pixel, plus bias[c] when bias is not null. Parallel over planes, so no two threads write
// one pixel.
template <typename T>
void col2im_channel_rows(const Geom& g, const T* col, int64_t nb, const T* bias, T* img) {
  const int64_t P = nb * g.hwo();
  const int64_t Hp = g.H + 2 * g.p, Wp = g.W + 2 * g.p;
  parallel_for(g.C * nb, g.K * g.K * g.hwo(), [&](int64_t i) {
    const int64_t c = i / nb, n = i % nb;
    T* out = img + (n * g.C + c) * g.hw();
    const T b = bias ? bias[c] : T(0);
    const T* src = col + c * g.K * g.K * P + n * g.hwo();
    if (g.p == 0) {
      std::fill(out, out + g.hw(), b);
      collapse_dispatch(g, src, P, out, Wp);
      return;
    }
    T* pp = scratch<T>(Slot::kPlane, Hp * Wp);
    std::fill(pp, pp + Hp * Wp, T(0));
    collapse_dispatch(g, src, P, pp, Wp);
    for (int64_t h = 0; h < g.H; ++h) {
      const T* __restrict s = pp + (h + g.p) * Wp + g.p;
      T* __restrict d = out + h * g.W;
      for (int64_t w = 0; w < g.W; ++w) d[w] = s[w] + b;
    }
  });
}

// ---- pixel rows: col [P, K * K * C], row (n, oh, ow), column (kh, kw, c) ----

// The kw range of window (oh, ow) row kh that falls inside the image: for any stride,
// consecutive kw are consecutive pixels, so the K * C values of one window row are one run.
struct KwRange {
  int64_t lo, hi;
};

inline KwRange kw_range(const Geom& g, int64_t ow) {
  const int64_t w0 = ow * g.s - g.p;
  return {std::max<int64_t>(0, -w0), std::min<int64_t>(g.K, g.W - w0)};
}

// img [nb, H, W, C] (channels last) -> col [nb * Ho * Wo, K * K * C].
template <typename T>
void im2col_pixel_rows(const Geom& g, const T* img, int64_t nb, T* col) {
  const int64_t KC = g.K * g.C, KKC = g.K * KC;
  parallel_for(nb * g.Ho, g.Wo * KKC, [&](int64_t i) {
    const int64_t n = i / g.Ho, oh = i % g.Ho;
    for (int64_t ow = 0; ow < g.Wo; ++ow) {
      T* __restrict d = col + (i * g.Wo + ow) * KKC;
      const KwRange r = kw_range(g, ow);
      const int64_t w0 = ow * g.s - g.p;
      for (int64_t kh = 0; kh < g.K; ++kh) {
        T* __restrict dk = d + kh * KC;
        const int64_t ih = oh * g.s - g.p + kh;
        if (ih < 0 || ih >= g.H || r.hi <= r.lo) {
          std::fill(dk, dk + KC, T(0));
          continue;
        }
        std::fill(dk, dk + r.lo * g.C, T(0));
        const T* __restrict s = img + ((n * g.H + ih) * g.W + w0 + r.lo) * g.C;
        std::memcpy(dk + r.lo * g.C, s, static_cast<std::size_t>((r.hi - r.lo) * g.C) * sizeof(T));
        std::fill(dk + r.hi * g.C, dk + KC, T(0));
      }
    }
  });
}

// The adjoint of im2col_pixel_rows: img [nb, H, W, C] (channels last) = sum of the col entries
// that map to each pixel. Parallel over samples, windows visited in a fixed order.
template <typename T>
void col2im_pixel_rows(const Geom& g, const T* col, int64_t nb, T* img) {
  const int64_t KC = g.K * g.C, KKC = g.K * KC;
  parallel_for(nb, g.hwo() * KKC, [&](int64_t n) {
    T* __restrict out = img + n * g.hw() * g.C;
    std::fill(out, out + g.hw() * g.C, T(0));
    for (int64_t oh = 0; oh < g.Ho; ++oh) {
      for (int64_t ow = 0; ow < g.Wo; ++ow) {
        const T* __restrict d = col + ((n * g.Ho + oh) * g.Wo + ow) * KKC;
        const KwRange r = kw_range(g, ow);
        const int64_t w0 = ow * g.s - g.p;
        for (int64_t kh = 0; kh < g.K; ++kh) {
          const int64_t ih = oh * g.s - g.p + kh;
          if (ih < 0 || ih >= g.H) continue;
          const T* __restrict s = d + kh * KC + r.lo * g.C;
          T* __restrict o = out + ((ih * g.W) + w0 + r.lo) * g.C;
          for (int64_t j = 0; j < (r.hi - r.lo) * g.C; ++j) o[j] += s[j];
        }
      }
    }
  });
}

// ---- conv2d passes per layout, on one batch chunk of cur samples ----

// Weights [A, B, K, K] -> [A, K, K, B], the column order of pixel-row im2col (and back with the
// roles of B and K * K swapped).
template <typename T>
void weights_to_pixel_order(const T* w, int64_t A, int64_t B, int64_t KK, T* wr) {
  transpose_batched(w, A, B, KK, static_cast<const T*>(nullptr), wr);
}

}  // namespace

template <typename T>
void conv2d_forward(const Conv2dArgs& a, const T* x, const T* w, const T* bias, T* y) {
  const Geom g = conv_geom(a);
  const int64_t R = g.rows(), HWi = g.hw(), HWo = g.hwo(), KK = g.K * g.K;
  if (is_pointwise(a) && HWo >= kDirectMinHW) {
    // Each sample's NCHW plane already is the gemm operand [C_in, HW].
    if (bias) {
      parallel_for(a.N * a.C_out, HWo, [&](int64_t i) {
        std::fill(y + i * HWo, y + (i + 1) * HWo, bias[i % a.C_out]);
      });
    }
    for (int64_t n = 0; n < a.N; ++n) {
      gemm<T>(Trans::kNo, Trans::kNo, a.C_out, HWo, a.C_in, T(1), w, a.C_in,
              x + n * a.C_in * HWi, HWi, bias ? T(1) : T(0), y + n * a.C_out * HWo, HWo);
    }
    return;
  }
  const Layout layout = choose_layout(g);
  const int64_t nb = batch_chunk(a.N, R * HWo);
  T* col = scratch<T>(Slot::kCol, R * nb * HWo);
  T* ymat = scratch<T>(Slot::kMat, a.C_out * nb * HWo);
  const T* wk = w;
  T* xt = nullptr;
  if (layout == Layout::kPixelRows) {
    T* wr = scratch<T>(Slot::kWeight, a.C_out * R);
    weights_to_pixel_order(w, a.C_out, a.C_in, KK, wr);
    wk = wr;
    xt = scratch<T>(Slot::kImage, nb * a.C_in * HWi);
  }
  for (int64_t n0 = 0; n0 < a.N; n0 += nb) {
    const int64_t cur = std::min(nb, a.N - n0), P = cur * HWo;
    const T* xc = x + n0 * a.C_in * HWi;
    if (layout == Layout::kPixelRows) {
      transpose_batched(xc, cur, a.C_in, HWi, static_cast<const T*>(nullptr), xt);
      im2col_pixel_rows(g, xt, cur, col);
      gemm<T>(Trans::kNo, Trans::kYes, a.C_out, P, R, T(1), wk, R, col, R, T(0), ymat, P);
    } else {
      im2col_channel_rows(g, xc, cur, col);
      gemm<T>(Trans::kNo, Trans::kNo, a.C_out, P, R, T(1), wk, R, col, P, T(0), ymat, P);
    }
    rows_to_batch(ymat, cur, a.C_out, HWo, bias, y + n0 * a.C_out * HWo);
  }
}

template <typename T>
void conv2d_backward(const Conv2dArgs& a, const T* x, const T* w, const T* dy, T* dx, T* dw,
                     T* db) {
  const Geom g = conv_geom(a);
  const int64_t R = g.rows(), HWi = g.hw(), HWo = g.hwo(), KK = g.K * g.K;
  if (db) bias_grad(dy, a.N, a.C_out, HWo, db);
  if (!dx && !dw) return;
  if (is_pointwise(a) && HWo >= kDirectMinHW) {
    for (int64_t n = 0; n < a.N; ++n) {
      const T* dyn = dy + n * a.C_out * HWo;
      if (dw) {
        gemm<T>(Trans::kNo, Trans::kYes, a.C_out, a.C_in, HWo, T(1), dyn, HWo,
                x + n * a.C_in * HWi, HWi, n == 0 ? T(0) : T(1), dw, a.C_in);
      }
      if (dx) {
        gemm<T>(Trans::kYes, Trans::kNo, a.C_in, HWi, a.C_out, T(1), w, a.C_in, dyn, HWo, T(0),
                dx + n * a.C_in * HWi, HWi);
      }
    }
    return;
  }
  const Layout layout = choose_layout(g);
  const bool pixel_rows = layout == Layout::kPixelRows;
  const int64_t nb = batch_chunk(a.N, R * HWo);
  T* col = scratch<T>(Slot::kCol, R * nb * HWo);
  T* dymat = scratch<T>(Slot::kMat, a.C_out * nb * HWo);
  // Pixel rows keep w and dw in [C_out, K, K, C_in] order; xt is the channels-last image.
  T* wr = pixel_rows ? scratch<T>(Slot::kWeight, 2 * a.C_out * R) : nullptr;
  T* dwr = pixel_rows ? wr + a.C_out * R : dw;
  T* xt = pixel_rows ? scratch<T>(Slot::kImage, nb * a.C_in * HWi) : nullptr;
  if (pixel_rows && dx) weights_to_pixel_order(w, a.C_out, a.C_in, KK, wr);
  for (int64_t n0 = 0; n0 < a.N; n0 += nb) {
    const int64_t cur = std::min(nb, a.N - n0), P = cur * HWo;
    const T* xc = x + n0 * a.C_in * HWi;
    T* dxc = dx ? dx + n0 * a.C_in * HWi : nullptr;
    // Chunks accumulate into dw in batch order; the first one overwrites.
    const T beta = n0 == 0 ? T(0) : T(1);
    batch_to_rows(dy + n0 * a.C_out * HWo, cur, a.C_out, HWo, dymat);
    if (pixel_rows) {
      if (dw) {
        transpose_batched(xc, cur, a.C_in, HWi, static_cast<const T*>(nullptr), xt);
        im2col_pixel_rows(g, xt, cur, col);
        gemm<T>(Trans::kNo, Trans::kNo, a.C_out, R, P, T(1), dymat, P, col, R, beta, dwr, R);
      }
      if (dx) {
        gemm<T>(Trans::kYes, Trans::kNo, P, R, a.C_out, T(1), dymat, P, wr, R, T(0), col, R);
        col2im_pixel_rows(g, col, cur, xt);
        transpose_batched(xt, cur, HWi, a.C_in, static_cast<const T*>(nullptr), dxc);
      }
    } else {
      if (dw) {
        im2col_channel_rows(g, xc, cur, col);
        gemm<T>(Trans::kNo, Trans::kYes, a.C_out, R, P, T(1), dymat, P, col, P, beta, dw, R);
      }
      if (dx) {
        gemm<T>(Trans::kYes, Trans::kNo, R, P, a.C_out, T(1), w, R, dymat, P, T(0), col, P);
        col2im_channel_rows(g, col, cur, static_cast<const T*>(nullptr), dxc);
      }
    }
  }
  if (pixel_rows && dw) weights_to_pixel_order(dwr, a.C_out, KK, a.C_in, dw);
}

template <typename T>
void conv_transpose2d_forward(const Conv2dArgs& a, const T* x, const T* w, const T* bias, T* y) {
  const Geom g = transpose_geom(a);
  const int64_t R = g.rows(), HWx = g.hwo(), HWy = g.hw(), KK = g.K * g.K;
  const bool pixel_rows = choose_layout(g) == Layout::kPixelRows;
  const int64_t nb = batch_chunk(a.N, R * HWx);
  T* col = scratch<T>(Slot::kCol, R * nb * HWx);
  T* xmat = scratch<T>(Slot::kMat, a.C_in * nb * HWx);
  T* wr = pixel_rows ? scratch<T>(Slot::kWeight, a.C_in * R) : nullptr;
  T* yt = pixel_rows ? scratch<T>(Slot::kImage, nb * a.C_out * HWy) : nullptr;
  if (pixel_rows) weights_to_pixel_order(w, a.C_in, a.C_out, KK, wr);
  for (int64_t n0 = 0; n0 < a.N; n0 += nb) {
    const int64_t cur = std::min(nb, a.N - n0), P = cur * HWx;
    T* yc = y + n0 * a.C_out * HWy;
    batch_to_rows(x + n0 * a.C_in * HWx, cur, a.C_in, HWx, xmat);
    if (pixel_rows) {
      gemm<T>(Trans::kYes, Trans::kNo, P, R, a.C_in, T(1), xmat, P, wr, R, T(0), col, R);
      col2im_pixel_rows(g, col, cur, yt);
      transpose_batched(yt, cur, HWy, a.C_out, bias, yc);
    } else {
      gemm<T>(Trans::kYes, Trans::kNo, R, P, a.C_in, T(1), w, R, xmat, P, T(0), col, P);
      col2im_channel_rows(g, col, cur, bias, yc);
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
  const bool pixel_rows = choose_layout(g) == Layout::kPixelRows;
  const int64_t nb = batch_chunk(a.N, R * HWx);
  T* col = scratch<T>(Slot::kCol, R * nb * HWx);
  T* xmat = scratch<T>(Slot::kMat, a.C_in * nb * HWx);
  // Pixel rows keep w and dw in [C_in, K, K, C_out] order; dyt is the channels-last dy.
  T* wr = pixel_rows ? scratch<T>(Slot::kWeight, 2 * a.C_in * R) : nullptr;
  T* dwr = pixel_rows ? wr + a.C_in * R : dw;
  T* dyt = pixel_rows ? scratch<T>(Slot::kImage, nb * a.C_out * HWy) : nullptr;
  if (pixel_rows && dx) weights_to_pixel_order(w, a.C_in, a.C_out, KK, wr);
  for (int64_t n0 = 0; n0 < a.N; n0 += nb) {
    const int64_t cur = std::min(nb, a.N - n0), P = cur * HWx;
    const T* dyc = dy + n0 * a.C_out * HWy;
    const T beta = n0 == 0 ? T(0) : T(1);
    if (pixel_rows) {
      transpose_batched(dyc, cur, a.C_out, HWy, static_cast<const T*>(nullptr), dyt);
      im2col_pixel_rows(g, dyt, cur, col);
    } else {
      im2col_channel_rows(g, dyc, cur, col);
    }
    const Trans tc = pixel_rows ? Trans::kNo : Trans::kYes;  // col^T as a gemm operand
    const int64_t ldc = pixel_rows ? R : P;
    if (dw) {
      batch_to_rows(x + n0 * a.C_in * HWx, cur, a.C_in, HWx, xmat);
      gemm<T>(Trans::kNo, tc, a.C_in, R, P, T(1), xmat, P, col, ldc, beta, dwr, R);
    }
    if (dx) {
      gemm<T>(Trans::kNo, pixel_rows ? Trans::kYes : Trans::kNo, a.C_in, P, R, T(1),
              pixel_rows ? wr : w, R, col, ldc, T(0), xmat, P);
      rows_to_batch(xmat, cur, a.C_in, HWx, static_cast<const T*>(nullptr),
                    dx + n0 * a.C_in * HWx);
    }
  }
  if (pixel_rows && dw) weights_to_pixel_order(dwr, a.C_in, KK, a.C_out, dw);
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
