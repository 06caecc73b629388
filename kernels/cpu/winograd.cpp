// Winograd F(2x2, 3x3) convolution (Lavin and Gray, "Fast Algorithms for Convolutional Neural
// Networks", 2016), see winograd.h. With d a 4x4 input tile, g a 3x3 filter and m the 4x4
// elementwise products,
//   y (2x2) = A^T m A,   m = (G g G^T) . (B^T d B)   (". " elementwise)
// and, summed over input channels, each of the 16 elements e of m is one gemm over the whole
// chunk of tiles:
//   M[e] [T, C_out] = V[e] [T, C_in] * U[e]^T [C_in, C_out]
// with U[e] [C_out, C_in] the transformed filters, V the transformed input tiles and T the tile
// count. The backward transposes every step: dM = A dY A^T, dU[e] = dM[e]^T V[e],
// dV[e] = dM[e] U[e], dg = G^T dU G, and dx = the sum of B dV B^T over the overlapping tiles.
//
// The tiles are channels-last (row t of V[e] holds every channel of tile t), so the transforms
// run as vector loops over channels on a channels-last copy of each image. Tile (ti, tj) covers
// output rows 2ti, 2ti + 1 and columns 2tj, 2tj + 1, and input rows 2ti - 1 .. 2ti + 2 (padding
// 1); an odd size drops the last tile's second row or column.
#include "kernels/cpu/winograd.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/parallel.h"
#include "kernels/cpu/scratch.h"
#include "kernels/cpu/transpose.h"

namespace ldm::kernels::cpu {
namespace {

constexpr int kElems = 16;  // elements of a 4x4 tile: one gemm each

// The gemms' inner dimension is a channel count, 9x shorter than im2col's; below this many
// channels on either side im2col is left to do the work. (The models' 3x3 convs all have 32 or
// more; the threshold between is not tuned.)
constexpr int64_t kMinChannels = 16;

// Elements of V and M (or dM) per batch chunk: the chunk's tiles stay in the last-level cache
// between their transform and their gemm.
constexpr int64_t kTileBudget = int64_t{1} << 20;

// The distance between the matrices of consecutive tile elements, for matrices of n values:
// rounded up to whole 4 KiB pages plus one cache line. The transforms write all 16 matrices
// at once, and at a power-of-two distance those 16 streams would fall into one L1 set.
int64_t element_stride(int64_t n) {
  constexpr int64_t kPage = 1024, kLine = 16;  // in floats
  return (n + kPage - 1) / kPage * kPage + kLine;
}

// Filters per task of the filter transforms (a multiple of every vector width).
constexpr int64_t kFilterBlock = 1024;

enum class Slot { kFilterRows, kFilters, kFilterGrad, kInput, kProducts, kImage };

struct Tiling {
  int64_t H, W;    // plane size, the same for input and output
  int64_t TH, TW;  // tiles down and across
  int64_t tiles() const { return TH * TW; }
  // A zero-padded input image that every tile reads whole: 2 * TH + 2 rows.
  int64_t ph() const { return 2 * TH + 2; }
  int64_t pw() const { return 2 * TW + 2; }
};

Tiling tiling(const Conv2dArgs& a) {
  return {a.H_in, a.W_in, (a.H_in + 1) / 2, (a.W_in + 1) / 2};
}

// Samples per chunk: as few equal chunks as keep both tile buffers under kTileBudget.
int64_t batch_chunk(const Conv2dArgs& a, const Tiling& g) {
  const int64_t per_sample = kElems * g.tiles() * (a.C_in + a.C_out);
  const int64_t fit = std::max<int64_t>(1, kTileBudget / std::max<int64_t>(per_sample, 1));
  const int64_t chunks = (a.N + fit - 1) / fit;
  return (a.N + chunks - 1) / chunks;
}

// ---- the transforms of one tile, as 4-point steps applied to columns, then rows ----
// G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1], B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],
// A^T = [1 1 1 0; 0 1 -1 -1]. s and d are strided views of one column or row of a tile, of
// scalars or of vectors (0.5f converts exactly to either element type).

template <int kS, int kD, typename T>
inline void g_step(const T* s, T* d) {  // d[4] = G s[3]
  d[0] = s[0];
  d[kD] = (s[0] + s[kS] + s[2 * kS]) * 0.5f;
  d[2 * kD] = (s[0] - s[kS] + s[2 * kS]) * 0.5f;
  d[3 * kD] = s[2 * kS];
}

template <int kS, int kD, typename T>
inline void gt_step(const T* s, T* d) {  // d[3] = G^T s[4]
  d[0] = s[0] + (s[kS] + s[2 * kS]) * 0.5f;
  d[kD] = (s[kS] - s[2 * kS]) * 0.5f;
  d[2 * kD] = (s[kS] + s[2 * kS]) * 0.5f + s[3 * kS];
}

template <int kS, int kD, typename T>
inline void bt_step(const T* s, T* d) {  // d[4] = B^T s[4]
  d[0] = s[0] - s[2 * kS];
  d[kD] = s[kS] + s[2 * kS];
  d[2 * kD] = s[2 * kS] - s[kS];
  d[3 * kD] = s[kS] - s[3 * kS];
}

template <int kS, int kD, typename T>
inline void b_step(const T* s, T* d) {  // d[4] = B s[4]
  d[0] = s[0];
  d[kD] = s[kS] - s[2 * kS] + s[3 * kS];
  d[2 * kD] = s[kS] + s[2 * kS] - s[0];
  d[3 * kD] = -s[3 * kS];
}

template <int kS, int kD, typename T>
inline void at_step(const T* s, T* d) {  // d[2] = A^T s[4]
  d[0] = s[0] + s[kS] + s[2 * kS];
  d[kD] = s[kS] - s[2 * kS] - s[3 * kS];
}

template <int kS, int kD, typename T>
inline void a_step(const T* s, T* d) {  // d[4] = A s[2]
  d[0] = s[0];
  d[kD] = s[0] + s[kS];
  d[2 * kD] = s[0] - s[kS];
  d[3 * kD] = -s[kS];
}

template <typename T>
inline void filter_tile(const T* g, T* u) {  // u (4x4) = G g (3x3) G^T
  T gg[12];
  for (int j = 0; j < 3; ++j) g_step<3, 3>(g + j, gg + j);
  for (int i = 0; i < 4; ++i) g_step<1, 1>(gg + i * 3, u + i * 4);
}

template <typename T>
inline void filter_grad_tile(const T* du, T* dg) {  // dg (3x3) = G^T du (4x4) G
  T gd[12];
  for (int j = 0; j < 4; ++j) gt_step<4, 4>(du + j, gd + j);
  for (int i = 0; i < 3; ++i) gt_step<1, 1>(gd + i * 4, dg + i * 3);
}

template <typename T>
inline void input_tile(const T* d, T* v) {  // v = B^T d B
  T r[16];
  for (int j = 0; j < 4; ++j) bt_step<4, 4>(d + j, r + j);
  for (int i = 0; i < 4; ++i) bt_step<1, 1>(r + i * 4, v + i * 4);
}

template <typename T>
inline void input_grad_tile(const T* dv, T* dd) {  // dd = B dv B^T
  T r[16];
  for (int j = 0; j < 4; ++j) b_step<4, 4>(dv + j, r + j);
  for (int i = 0; i < 4; ++i) b_step<1, 1>(r + i * 4, dd + i * 4);
}

template <typename T>
inline void output_tile(const T* m, T* y) {  // y (2x2) = A^T m A
  T r[8];
  for (int j = 0; j < 4; ++j) at_step<4, 4>(m + j, r + j);
  for (int i = 0; i < 2; ++i) at_step<1, 1>(r + i * 4, y + i * 2);
}

template <typename T>
inline void output_grad_tile(const T* dy, T* dm) {  // dm = A dy (2x2) A^T
  T r[8];
  for (int j = 0; j < 2; ++j) a_step<2, 2>(dy + j, r + j);
  for (int i = 0; i < 4; ++i) a_step<1, 1>(r + i * 2, dm + i * 4);
}

// ---- images: one sample at a time, through a channels-last copy ----

// img [C, H, W] -> dst [rows, cols, C], the image at row `top`, column `left`, zeros around.
template <typename T>
void to_channels_last(const T* img, int64_t C, int64_t H, int64_t W, int64_t rows, int64_t cols,
                      int64_t top, int64_t left, T* dst) {
  const int64_t row = cols * C;
  std::fill(dst, dst + top * row, T(0));
  for (int64_t h = 0; h < H; ++h) {
    T* d = dst + (top + h) * row;
    std::fill(d, d + left * C, T(0));
    transpose_2d(img + h * W, H * W, C, W, static_cast<const T*>(nullptr), d + left * C, C);
    std::fill(d + (left + W) * C, d + row, T(0));
  }
  std::fill(dst + (top + H) * row, dst + rows * row, T(0));
}

// The inverse: src [rows, cols, C] at (top, left) -> img [C, H, W], plus bias[c] if not null.
template <typename T>
void from_channels_last(const T* src, int64_t C, int64_t H, int64_t W, int64_t cols, int64_t top,
                        int64_t left, const T* bias, T* img) {
  for (int64_t h = 0; h < H; ++h) {
    transpose_2d(src + ((top + h) * cols + left) * C, C, W, C, bias, img + h * W, H * W);
  }
}

// The tile loops below run over channels, a vector of kLanes channels at a time (GCC vector
// extensions, which the tile transforms above accept as their value type), then one channel at a
// time for the rest.
template <typename T>
struct VecOf;
template <>
struct VecOf<float> {
  typedef float type __attribute__((vector_size(64)));
};
template <>
struct VecOf<double> {
  typedef double type __attribute__((vector_size(64)));
};
template <typename T>
using Vec = typename VecOf<T>::type;

template <typename T>
constexpr int64_t kLanes = 64 / sizeof(T);

template <typename V, typename T>
inline V load(const T* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

template <typename V, typename T>
inline void store(T* p, const V& v) {
  std::memcpy(p, &v, sizeof v);
}

// step(V{}, c) for the channels c .. c + lanes(V) - 1, over all C channels.
template <typename T, typename Step>
inline void over_lanes(int64_t C, Step&& step) {
  int64_t c = 0;
  for (; c + kLanes<T> <= C; c += kLanes<T>) step(Vec<T>{}, c);
  for (; c < C; ++c) step(T{}, c);
}

// ---- filters ----

// w [C_out, C_in, 3, 3] -> u: U[e] [C_out, C_in] at u + e * element_stride(C_out * C_in).
// The filters are first transposed to [9, C_out * C_in], so that the transform runs on vectors
// of filters.
template <typename T>
void transform_filters(const Conv2dArgs& a, const T* w, T* u) {
  const int64_t pairs = a.C_out * a.C_in, es = element_stride(pairs);
  T* wt = scratch<T, Slot::kFilterRows>(9 * pairs);
  transpose_2d(w, 9, pairs, 9, static_cast<const T*>(nullptr), wt, pairs);
  parallel_chunks(pairs, kFilterBlock, [&](int64_t begin, int64_t end) {
    over_lanes<T>(end - begin, [&](auto lanes, int64_t i) {
      using V = decltype(lanes);
      const int64_t k = begin + i;
      V g[9], tile[kElems];
      for (int j = 0; j < 9; ++j) g[j] = load<V>(wt + j * pairs + k);
      filter_tile(g, tile);
      for (int e = 0; e < kElems; ++e) store(u + e * es + k, tile[e]);
    });
  });
}

// The adjoint of transform_filters: du (same layout) -> dw [C_out, C_in, 3, 3].
template <typename T>
void filter_grad(const Conv2dArgs& a, const T* du, T* dw) {
  const int64_t pairs = a.C_out * a.C_in, es = element_stride(pairs);
  T* dwt = scratch<T, Slot::kFilterRows>(9 * pairs);
  parallel_chunks(pairs, kFilterBlock, [&](int64_t begin, int64_t end) {
    over_lanes<T>(end - begin, [&](auto lanes, int64_t i) {
      using V = decltype(lanes);
      const int64_t k = begin + i;
      V tile[kElems], g[9];
      for (int e = 0; e < kElems; ++e) tile[e] = load<V>(du + e * es + k);
      filter_grad_tile(tile, g);
      for (int j = 0; j < 9; ++j) store(dwt + j * pairs + k, g[j]);
    });
  });
  transpose_2d(dwt, pairs, 9, pairs, static_cast<const T*>(nullptr), dw, 9);
}

// step(V{}, pixel, row) for every tile of one sample and every vector of channels: pixel is
// the offset of the tile's top-left corner (and of the first of those channels) in a
// channels-last image whose rows are row_pixels wide, row the offset of the tile's row t (same
// channels) in a [tiles, C] matrix.
template <typename T, typename Step>
inline void for_each_tile(const Tiling& g, int64_t row_pixels, int64_t C, Step&& step) {
  for (int64_t ti = 0; ti < g.TH; ++ti) {
    for (int64_t tj = 0; tj < g.TW; ++tj) {
      const int64_t pixel = (2 * ti * row_pixels + 2 * tj) * C, row = (ti * g.TW + tj) * C;
      over_lanes<T>(C, [&](auto lanes, int64_t c) { step(lanes, pixel + c, row + c); });
    }
  }
}

// One sample's image (channels-last, padded by 1, [ph, pw, C]) -> rows [tiles] of each V[e]
// (V[e] at v + e * vs).
template <typename T>
void input_tiles(const Tiling& g, const T* img, int64_t C, T* v, int64_t vs) {
  const int64_t line = g.pw() * C;
  for_each_tile<T>(g, g.pw(), C, [&](auto lanes, int64_t pixel, int64_t row) {
    using V = decltype(lanes);
    V tile[kElems], tv[kElems];
    for (int i = 0; i < 4; ++i) {
      for (int j = 0; j < 4; ++j) tile[i * 4 + j] = load<V>(img + pixel + i * line + j * C);
    }
    input_tile(tile, tv);
    for (int e = 0; e < kElems; ++e) store(v + e * vs + row, tv[e]);
  });
}

// The adjoint of input_tiles: img [ph, pw, C] (zeroed by the caller) += B dV B^T of every
// tile, tiles in order.
template <typename T>
void input_grad_tiles(const Tiling& g, const T* dv, int64_t vs, int64_t C, T* img) {
  const int64_t line = g.pw() * C;
  for_each_tile<T>(g, g.pw(), C, [&](auto lanes, int64_t pixel, int64_t row) {
    using V = decltype(lanes);
    V tile[kElems], td[kElems];
    for (int e = 0; e < kElems; ++e) tile[e] = load<V>(dv + e * vs + row);
    input_grad_tile(tile, td);
    for (int i = 0; i < 4; ++i) {
      for (int j = 0; j < 4; ++j) {
        T* p = img + pixel + i * line + j * C;
        store(p, load<V>(p) + td[i * 4 + j]);
      }
    }
  });
}

// Rows [tiles] of each M[e] (M[e] at m + e * ms) -> one sample's output, channels last,
// [2 * TH, 2 * TW, C].
template <typename T>
void output_tiles(const Tiling& g, const T* m, int64_t ms, int64_t C, T* img) {
  const int64_t line = 2 * g.TW * C;
  for_each_tile<T>(g, 2 * g.TW, C, [&](auto lanes, int64_t pixel, int64_t row) {
    using V = decltype(lanes);
    V tile[kElems], ty[4];
    for (int e = 0; e < kElems; ++e) tile[e] = load<V>(m + e * ms + row);
    output_tile(tile, ty);
    for (int i = 0; i < 2; ++i) {
      for (int j = 0; j < 2; ++j) store(img + pixel + i * line + j * C, ty[i * 2 + j]);
    }
  });
}

// The adjoint of output_tiles: one sample's dy, channels last [2 * TH, 2 * TW, C] with zeros
// where an odd size has no pixel -> rows [tiles] of each dM[e].
template <typename T>
void output_grad_tiles(const Tiling& g, const T* img, int64_t C, T* dm, int64_t ms) {
  const int64_t line = 2 * g.TW * C;
  for_each_tile<T>(g, 2 * g.TW, C, [&](auto lanes, int64_t pixel, int64_t row) {
    using V = decltype(lanes);
    V ty[4], tile[kElems];
    for (int i = 0; i < 2; ++i) {
      for (int j = 0; j < 2; ++j) ty[i * 2 + j] = load<V>(img + pixel + i * line + j * C);
    }
    output_grad_tile(ty, tile);
    for (int e = 0; e < kElems; ++e) store(dm + e * ms + row, tile[e]);
  });
}

// x [nb, C, H, W] -> V[e] [nb * tiles, C] at v + e * vs, one sample per task.
template <typename T>
void transform_inputs(const Tiling& g, const T* x, int64_t nb, int64_t C, T* v, int64_t vs) {
  parallel_for(nb, kElems * g.tiles() * C, [&](int64_t n) {
    T* img = scratch<T, Slot::kImage>(g.ph() * g.pw() * C);
    to_channels_last(x + n * C * g.H * g.W, C, g.H, g.W, g.ph(), g.pw(), 1, 1, img);
    input_tiles(g, img, C, v + n * g.tiles() * C, vs);
  });
}

}  // namespace

bool winograd_applies(const Conv2dArgs& a) {
  return a.kernel == 3 && a.stride == 1 && a.padding == 1 && a.C_in >= kMinChannels &&
         a.C_out >= kMinChannels;
}

template <typename T>
void winograd_conv2d_forward(const Conv2dArgs& a, const T* x, const T* w, const T* bias, T* y) {
  if (a.N == 0) return;
  const Tiling g = tiling(a);
  const int64_t HW = g.H * g.W, chunk = batch_chunk(a, g), filters = a.C_out * a.C_in;
  const int64_t us = element_stride(filters);
  T* u = scratch<T, Slot::kFilters>(kElems * us);
  transform_filters(a, w, u);
  T* v = scratch<T, Slot::kInput>(kElems * element_stride(chunk * g.tiles() * a.C_in));
  T* m = scratch<T, Slot::kProducts>(kElems * element_stride(chunk * g.tiles() * a.C_out));
  for (int64_t n0 = 0; n0 < a.N; n0 += chunk) {
    const int64_t nb = std::min(chunk, a.N - n0), T_all = nb * g.tiles();
    const int64_t vs = element_stride(T_all * a.C_in), ms = element_stride(T_all * a.C_out);
    transform_inputs(g, x + n0 * a.C_in * HW, nb, a.C_in, v, vs);
    // M[e] [T, C_out] = V[e] [T, C_in] U[e]^T [C_in, C_out]
    parallel_for(kElems, filters * T_all, [&](int64_t e) {
      gemm<T>(Trans::kNo, Trans::kYes, T_all, a.C_out, a.C_in, T(1), v + e * vs, a.C_in, u + e * us,
              a.C_in, T(0), m + e * ms, a.C_out);
    });
    parallel_for(nb, kElems * g.tiles() * a.C_out, [&](int64_t n) {
      T* img = scratch<T, Slot::kImage>(4 * g.tiles() * a.C_out);
      output_tiles(g, m + n * g.tiles() * a.C_out, ms, a.C_out, img);
      from_channels_last(img, a.C_out, g.H, g.W, 2 * g.TW, 0, 0, bias, y + (n0 + n) * a.C_out * HW);
    });
  }
}

template <typename T>
void winograd_conv2d_backward(const Conv2dArgs& a, const T* x, const T* w, const T* dy, T* dx,
                              T* dw) {
  if (!dx && !dw) return;
  if (a.N == 0) {
    if (dw) std::fill(dw, dw + a.C_out * a.C_in * 9, T(0));
    return;
  }
  const Tiling g = tiling(a);
  const int64_t HW = g.H * g.W, chunk = batch_chunk(a, g), filters = a.C_out * a.C_in;
  const int64_t us = element_stride(filters);
  T* u = nullptr;
  if (dx) {
    u = scratch<T, Slot::kFilters>(kElems * us);
    transform_filters(a, w, u);
  }
  T* du = dw ? scratch<T, Slot::kFilterGrad>(kElems * us) : nullptr;
  // V holds the input tiles for dU, then is overwritten with dV.
  T* v = scratch<T, Slot::kInput>(kElems * element_stride(chunk * g.tiles() * a.C_in));
  T* dm = scratch<T, Slot::kProducts>(kElems * element_stride(chunk * g.tiles() * a.C_out));
  for (int64_t n0 = 0; n0 < a.N; n0 += chunk) {
    const int64_t nb = std::min(chunk, a.N - n0), T_all = nb * g.tiles();
    const int64_t vs = element_stride(T_all * a.C_in), ms = element_stride(T_all * a.C_out);
    if (dw) transform_inputs(g, x + n0 * a.C_in * HW, nb, a.C_in, v, vs);
    parallel_for(nb, kElems * g.tiles() * a.C_out, [&](int64_t n) {
      T* img = scratch<T, Slot::kImage>(4 * g.tiles() * a.C_out);
      to_channels_last(dy + (n0 + n) * a.C_out * HW, a.C_out, g.H, g.W, 2 * g.TH, 2 * g.TW, 0, 0,
                       img);
      output_grad_tiles(g, img, a.C_out, dm + n * g.tiles() * a.C_out, ms);
    });
    parallel_for(kElems, 2 * filters * T_all, [&](int64_t e) {
      T* ve = v + e * vs;
      const T* dme = dm + e * ms;
      if (du) {
        // dU[e] [C_out, C_in] (+)= dM[e]^T [C_out, T] V[e] [T, C_in]; chunks add in batch
        // order.
        gemm<T>(Trans::kYes, Trans::kNo, a.C_out, a.C_in, T_all, T(1), dme, a.C_out, ve, a.C_in,
                n0 == 0 ? T(0) : T(1), du + e * us, a.C_in);
      }
      if (u) {
        // dV[e] [T, C_in] = dM[e] [T, C_out] U[e] [C_out, C_in], into V[e] once dU is done.
        gemm<T>(Trans::kNo, Trans::kNo, T_all, a.C_in, a.C_out, T(1), dme, a.C_out, u + e * us,
                a.C_in, T(0), ve, a.C_in);
      }
    });
    if (dx) {
      parallel_for(nb, kElems * g.tiles() * a.C_in, [&](int64_t n) {
        T* img = scratch<T, Slot::kImage>(g.ph() * g.pw() * a.C_in);
        std::fill(img, img + g.ph() * g.pw() * a.C_in, T(0));
        input_grad_tiles(g, v + n * g.tiles() * a.C_in, vs, a.C_in, img);
        from_channels_last(img, a.C_in, g.H, g.W, g.pw(), 1, 1, static_cast<const T*>(nullptr),
                           dx + (n0 + n) * a.C_in * HW);
      });
    }
  }
  if (dw) filter_grad(a, du, dw);
}

#define LDM_INSTANTIATE_WINOGRAD(T)                                                              \
  template void winograd_conv2d_forward<T>(const Conv2dArgs&, const T*, const T*, const T*, T*); \
  template void winograd_conv2d_backward<T>(const Conv2dArgs&, const T*, const T*, const T*, T*, \
                                            T*);
LDM_INSTANTIATE_WINOGRAD(float)
LDM_INSTANTIATE_WINOGRAD(double)
#undef LDM_INSTANTIATE_WINOGRAD

}  // namespace ldm::kernels::cpu
