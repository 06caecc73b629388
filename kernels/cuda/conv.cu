// CUDA conv2d / conv_transpose2d (see conv.h): every pass is one implicit GEMM on a single
// shared-memory tiled kernel.
//
// Both ops relate an "image" (conv2d: x; conv_transpose2d: y) and a "grid" of K x K windows on
// it at stride s and padding p (conv2d: y; conv_transpose2d: x), through weights w[Cg, Ci, K, K]
// (grid channels first, PyTorch's layout for both ops). That gives three GEMMs,
// C[m, col] = sum_k A[m, k] B[k, col]:
// - window: grid [Cg, N*Ho*Wo] = w [Cg, Ci*K*K] * patches of the image [Ci*K*K, N*Ho*Wo]
//   (conv2d forward, conv_transpose2d dx);
// - gather: image [Ci, N*H*W] = sum over the taps that hit each pixel of w * grid (conv2d dx,
//   conv_transpose2d forward). Split by the pixel's parity class (h mod s, w mod s), each class
//   is a dense GEMM over Cg * ceil(K/s)^2 taps with no zero taps and no atomics;
// - weight: dw [Cg, Ci*K*K] = grid [Cg, N*Ho*Wo] * patches^T [N*Ho*Wo, Ci*K*K] (both dw).
// No operand is materialized: a GemmPass says how a flat index of each GEMM dimension splits
// into three mixed-radix digits (e.g. k -> (ci, kh, kw), col -> (n, oh, ow)) and which affine
// maps of those digits address A, B (an image window, zero outside the image: the padding) and
// C. Each C element is owned by one thread and sums its k terms in increasing k, so results are
// deterministic. Index math is 32-bit: every tensor must have fewer than 2^31 elements.
#include "kernels/cuda/conv.h"

#include "kernels/cuda/launch.h"

namespace ldm::kernels::cuda::inline LDM_CUDA_TARGET {
namespace {

// A 64 x 64 tile of C a block, 16 values of k a stage; each of the 256 threads holds a 4 x 4
// micro-tile: rows 4 ty .. 4 ty + 3 and columns tx, tx + 16, tx + 32, tx + 48 (tx = t % 16,
// ty = t / 16), so its shared reads of A are one 16-byte vector broadcast across the half warp
// and those of B hit 16 consecutive banks; its stores of C are coalesced along columns.
constexpr int kTileM = 64, kTileN = 64, kTileK = 16;
constexpr int kThreads = 256;
constexpr int kMicro = 4;
constexpr int kSide = 16;             // threads along each tile dimension
constexpr int kPadM = kTileM + 4;     // keeps rows 16-byte aligned; 2-way conflicts on A's stores
constexpr int kMaxClasses = 4;        // gather parity classes per launch (s = 2: all four)
constexpr int kOutside = -(1 << 29);  // a window row that no k offset brings into the image

// Full unrolling of a stage's k loop keeps its shared-memory offsets immediates (nvcc unrolls
// it only 4x on its own); GCC, the emulator build, spells the pragma differently.
#ifdef __CUDACC__
#define LDM_CONV_UNROLL _Pragma("unroll")
#else
#define LDM_CONV_UNROLL _Pragma("GCC unroll 16")
#endif

// split(i) = (i / (n1 n2), i / n2 % n1, i % n2); n12 = n1 * n2.
struct Radix {
  int n12, n2;
};

struct Digits {
  int q, r1, r2;
};

// c0 + q cq + r1 c1 + r2 c2
struct Affine {
  int c0, cq, c1, c2;
};

// The part of an image-window address one GEMM index contributes: plane offset q * plane,
// row h0 + r1 hs, column w0 + r2 ws. B reads the sum of the k part and the column part.
struct WindowPart {
  int plane, h0, hs, w0, ws;
};

struct GemmPass {
  int M, cols, depth;  // C is M x cols; depth = length of the k sums (may be 0)
  Radix k_radix, col_radix;
  const float* a;  // A[m, k] = a[m * a_m + a_k(k)]
  int a_m;
  Affine a_k;
  const float* b;  // B[k, col] = b[plane + h * b_w + w] for 0 <= h < b_h, 0 <= w < b_w, else 0
  int b_h, b_w;
  WindowPart b_k, b_col;
  float* c;  // C[m, col] = c[m * c_m + c_col(col)] (+ bias[m] when bias is not null)
  int c_m;
  Affine c_col;
  const float* bias;
};

// Up to kMaxClasses passes of one shape of launch, one per blockIdx.z.
struct GemmLaunch {
  GemmPass pass[kMaxClasses];
};

__device__ __forceinline__ Digits split(int i, Radix r) {
  const int q = i / r.n12, rem = i - q * r.n12, r1 = rem / r.n2;
  return {q, r1, rem - r1 * r.n2};
}

__device__ __forceinline__ int apply(const Affine& f, Digits d) {
  return f.c0 + d.q * f.cq + d.r1 * f.c1 + d.r2 * f.c2;
}

// The next stage's operands, loaded from global memory into registers while the current stage
// is multiplied: A at k = k0 + tx for rows m0 + ty + 16 i (coalesced where k is contiguous: w
// in the window pass, the grid's pixels in the weight pass), B at k = k0 + ty for this thread's
// four columns (coalesced along the image row where consecutive columns are adjacent pixels).
struct Stage {
  float a[kMicro], b[kMicro];
};

// This thread's four B columns, decoded once: plane offset and window origin (row kOutside for
// a column past the end, which then reads zeros).
struct Columns {
  int plane[kMicro], h[kMicro], w[kMicro];
};

__device__ __forceinline__ Columns decode_columns(const GemmPass& p, int n0, int tx) {
  Columns c;
  for (int j = 0; j < kMicro; ++j) {
    const int col = n0 + tx + kSide * j;
    const Digits d = split(col < p.cols ? col : 0, p.col_radix);
    c.plane[j] = d.q * p.b_col.plane;
    c.h[j] = col < p.cols ? p.b_col.h0 + d.r1 * p.b_col.hs : kOutside;
    c.w[j] = p.b_col.w0 + d.r2 * p.b_col.ws;
  }
  return c;
}

__device__ __forceinline__ void load_stage(const GemmPass& p, const Columns& cols, int m0, int k0,
                                           int tx, int ty, Stage& s) {
  const int ka = k0 + tx;
  if (ka < p.depth) {
    const int off = apply(p.a_k, split(ka, p.k_radix));
    for (int i = 0; i < kMicro; ++i) {
      const int m = m0 + ty + kSide * i;
      s.a[i] = m < p.M ? __ldg(p.a + m * p.a_m + off) : 0.0f;
    }
  } else {
    for (int i = 0; i < kMicro; ++i) s.a[i] = 0.0f;
  }
  const int kb = k0 + ty;
  if (kb < p.depth) {
    const Digits d = split(kb, p.k_radix);
    const int plane = d.q * p.b_k.plane;
    const int h = p.b_k.h0 + d.r1 * p.b_k.hs, w = p.b_k.w0 + d.r2 * p.b_k.ws;
    for (int j = 0; j < kMicro; ++j) {
      const int hh = h + cols.h[j], ww = w + cols.w[j];
      const bool inside = hh >= 0 && hh < p.b_h && ww >= 0 && ww < p.b_w;
      s.b[j] = inside ? __ldg(p.b + plane + cols.plane[j] + hh * p.b_w + ww) : 0.0f;
    }
  } else {
    for (int j = 0; j < kMicro; ++j) s.b[j] = 0.0f;
  }
}

// C tile = A tile * B tile, register-prefetched and double-buffered through shared memory: one
// barrier a stage. A block whose tile lies outside its pass (a smaller parity class) returns
// before the first barrier, as a whole.
__global__ void __launch_bounds__(kThreads) implicit_gemm_kernel(const GemmLaunch launch_args) {
  const GemmPass& p = launch_args.pass[blockIdx.z];
  const int m0 = static_cast<int>(blockIdx.y) * kTileM;
  const int n0 = static_cast<int>(blockIdx.x) * kTileN;
  if (m0 >= p.M || n0 >= p.cols) return;

  alignas(16) __shared__ float a_tile[2][kTileK][kPadM];   // [k][m]
  alignas(16) __shared__ float b_tile[2][kTileK][kTileN];  // [k][col]
  const int tx = static_cast<int>(threadIdx.x) % kSide, ty = static_cast<int>(threadIdx.x) / kSide;
  const Columns cols = decode_columns(p, n0, tx);
  const int stages = (p.depth + kTileK - 1) / kTileK;

  float acc[kMicro][kMicro] = {};
  Stage next;
  auto store = [&](int buf) {
    for (int i = 0; i < kMicro; ++i) a_tile[buf][tx][ty + kSide * i] = next.a[i];
    for (int j = 0; j < kMicro; ++j) b_tile[buf][ty][tx + kSide * j] = next.b[j];
  };
  if (stages > 0) {
    load_stage(p, cols, m0, 0, tx, ty, next);
    store(0);
  }
  __syncthreads();
  for (int stage = 0; stage < stages; ++stage) {
    const int buf = stage & 1;
    const bool more = stage + 1 < stages;
    if (more) load_stage(p, cols, m0, (stage + 1) * kTileK, tx, ty, next);
    LDM_CONV_UNROLL
    for (int k = 0; k < kTileK; ++k) {
      float a[kMicro], b[kMicro];
      for (int i = 0; i < kMicro; ++i) a[i] = a_tile[buf][k][kMicro * ty + i];
      for (int j = 0; j < kMicro; ++j) b[j] = b_tile[buf][k][tx + kSide * j];
      for (int i = 0; i < kMicro; ++i) {
        for (int j = 0; j < kMicro; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
      }
    }
    // The other buffer was last read in the previous stage, before the previous barrier.
    if (more) store(buf ^ 1);
    __syncthreads();
  }

  for (int j = 0; j < kMicro; ++j) {
    const int col = n0 + tx + kSide * j;
    if (col >= p.cols) continue;
    const int out = apply(p.c_col, split(col, p.col_radix));
    for (int i = 0; i < kMicro; ++i) {
      const int m = m0 + kMicro * ty + i;
      if (m < p.M) p.c[m * p.c_m + out] = p.bias ? acc[i][j] + __ldg(p.bias + m) : acc[i][j];
    }
  }
}

constexpr int kBiasThreads = 256;

// db[c] = sum of dy[n, c, :] over n and the plane, one block a channel: each thread sums a fixed
// strided subset in order, then a fixed-shape tree (warp shuffles, then the warp sums).
__global__ void __launch_bounds__(kBiasThreads)
    bias_grad_kernel(int N, int C, int HW, const float* __restrict__ dy, float* __restrict__ db) {
  __shared__ float warp_sums[kBiasThreads / 32];
  const int c = static_cast<int>(blockIdx.x);
  const int total = N * HW;
  float s = 0.0f;
  for (int i = static_cast<int>(threadIdx.x); i < total; i += kBiasThreads) {
    const int n = i / HW;
    s += dy[(n * C + c) * HW + (i - n * HW)];
  }
  for (int offset = 16; offset > 0; offset /= 2) s += __shfl_down_sync(0xffffffffu, s, offset);
  const int lane = static_cast<int>(threadIdx.x) % 32, warp = static_cast<int>(threadIdx.x) / 32;
  if (lane == 0) warp_sums[warp] = s;
  __syncthreads();
  if (warp == 0) {
    s = lane < kBiasThreads / 32 ? warp_sums[lane] : 0.0f;
    for (int offset = 16; offset > 0; offset /= 2) s += __shfl_down_sync(0xffffffffu, s, offset);
    if (lane == 0) db[c] = s;
  }
}

// The image, the grid on it and the window geometry, in one naming for both ops.
struct Geom {
  int N, Ci, H, W;  // image [N, Ci, H, W]
  int Cg, Ho, Wo;   // grid [N, Cg, Ho, Wo]; weights [Cg, Ci, K, K]
  int K, s, p;
  int kk() const { return K * K; }
  int hw() const { return H * W; }
  int hwo() const { return Ho * Wo; }
};

Geom conv_geom(const Conv2dArgs& a) {
  return {static_cast<int>(a.N),      static_cast<int>(a.C_in),   static_cast<int>(a.H_in),
          static_cast<int>(a.W_in),   static_cast<int>(a.C_out),  static_cast<int>(a.H_out),
          static_cast<int>(a.W_out),  static_cast<int>(a.kernel), static_cast<int>(a.stride),
          static_cast<int>(a.padding)};
}

Geom transpose_geom(const Conv2dArgs& a) {
  return {static_cast<int>(a.N),      static_cast<int>(a.C_out),  static_cast<int>(a.H_out),
          static_cast<int>(a.W_out),  static_cast<int>(a.C_in),   static_cast<int>(a.H_in),
          static_cast<int>(a.W_in),   static_cast<int>(a.kernel), static_cast<int>(a.stride),
          static_cast<int>(a.padding)};
}

int ceil_div(int a, int b) {
  return (a + b - 1) / b;
}

// Launches passes[0 .. count) in one grid, blockIdx.z picking the pass; the grid covers the
// largest. Passes with nothing to write are left out.
void run(const GemmPass* passes, int count, cudaStream_t stream) {
  GemmLaunch l{};
  int z = 0, tiles_m = 0, tiles_n = 0;
  for (int i = 0; i < count; ++i) {
    const GemmPass& p = passes[i];
    if (p.M == 0 || p.cols == 0) continue;
    l.pass[z++] = p;
    tiles_m = tiles_m > ceil_div(p.M, kTileM) ? tiles_m : ceil_div(p.M, kTileM);
    tiles_n = tiles_n > ceil_div(p.cols, kTileN) ? tiles_n : ceil_div(p.cols, kTileN);
  }
  if (z == 0) return;
  launch(implicit_gemm_kernel,
         dim3(static_cast<unsigned>(tiles_n), static_cast<unsigned>(tiles_m),
              static_cast<unsigned>(z)),
         dim3(kThreads), 0, stream, l);
}

// grid [N, Cg, Ho, Wo] = w * windows of image [N, Ci, H, W] (+ bias).
void window_pass(const Geom& g, const float* image, const float* w, const float* bias, float* grid,
                 cudaStream_t stream) {
  GemmPass p{};
  p.M = g.Cg;
  p.cols = g.N * g.hwo();
  p.depth = g.Ci * g.kk();
  p.k_radix = {g.kk(), g.K};      // k = (ci, kh, kw)
  p.col_radix = {g.hwo(), g.Wo};  // col = (n, oh, ow)
  p.a = w;
  p.a_m = p.depth;
  p.a_k = {0, g.kk(), g.K, 1};
  p.b = image;
  p.b_h = g.H;
  p.b_w = g.W;
  p.b_k = {g.hw(), 0, 1, 0, 1};
  p.b_col = {g.Ci * g.hw(), -g.p, g.s, -g.p, g.s};
  p.c = grid;
  p.c_m = g.hwo();
  p.c_col = {0, g.Cg * g.hwo(), g.Wo, 1};
  p.bias = bias;
  run(&p, 1, stream);
}

// image [N, Ci, H, W] = the adjoint of window_pass applied to grid (+ bias). The pixels h with
// h mod s = ph are hit by the taps kh = kh0 + s t (kh0 = (ph + p) mod s) from the grid rows
// oh = (h + p - kh) / s = base + i - t for h = ph + s i, base = (ph + p - kh0) / s; likewise for
// columns. Each class (ph, pw) is one dense GEMM.
void gather_pass(const Geom& g, const float* grid, const float* w, const float* bias, float* image,
                 cudaStream_t stream) {
  GemmPass passes[kMaxClasses];
  int count = 0;
  for (int ph = 0; ph < g.s; ++ph) {
    for (int pw = 0; pw < g.s; ++pw) {
      const int kh0 = (ph + g.p) % g.s, kw0 = (pw + g.p) % g.s;
      const int taps_h = kh0 < g.K ? ceil_div(g.K - kh0, g.s) : 0;
      const int taps_w = kw0 < g.K ? ceil_div(g.K - kw0, g.s) : 0;
      const int rows = ph < g.H ? ceil_div(g.H - ph, g.s) : 0;
      const int cols = pw < g.W ? ceil_div(g.W - pw, g.s) : 0;
      GemmPass& p = passes[count++];
      p = GemmPass{};
      p.M = g.Ci;
      p.cols = g.N * rows * cols;
      p.depth = g.Cg * taps_h * taps_w;
      p.k_radix = {taps_h * taps_w, taps_w > 0 ? taps_w : 1};  // k = (cg, t_h, t_w)
      p.col_radix = {rows * cols, cols > 0 ? cols : 1};        // col = (n, i, j)
      p.a = w;
      p.a_m = g.kk();
      p.a_k = {kh0 * g.K + kw0, g.Ci * g.kk(), g.s * g.K, g.s};
      p.b = grid;
      p.b_h = g.Ho;
      p.b_w = g.Wo;
      p.b_k = {g.hwo(), 0, -1, 0, -1};
      p.b_col = {g.Cg * g.hwo(), (ph + g.p - kh0) / g.s, 1, (pw + g.p - kw0) / g.s, 1};
      p.c = image;
      p.c_m = g.hw();
      p.c_col = {ph * g.W + pw, g.Ci * g.hw(), g.s * g.W, g.s};
      p.bias = bias;
      if (count == kMaxClasses) {
        run(passes, count, stream);
        count = 0;
      }
    }
  }
  run(passes, count, stream);
}

// dw [Cg, Ci, K, K] = sum over n, oh, ow of grid[n, cg, oh, ow] * the image window's value.
// N = 0 leaves depth 0: dw is written as zeros.
void weight_pass(const Geom& g, const float* grid, const float* image, float* dw,
                 cudaStream_t stream) {
  GemmPass p{};
  p.M = g.Cg;
  p.cols = g.Ci * g.kk();
  p.depth = g.N * g.hwo();
  p.k_radix = {g.hwo(), g.Wo};  // k = (n, oh, ow)
  p.col_radix = {g.kk(), g.K};  // col = (ci, kh, kw)
  p.a = grid;
  p.a_m = g.hwo();
  p.a_k = {0, g.Cg * g.hwo(), g.Wo, 1};
  p.b = image;
  p.b_h = g.H;
  p.b_w = g.W;
  p.b_k = {g.Ci * g.hw(), -g.p, g.s, -g.p, g.s};
  p.b_col = {g.hw(), 0, 1, 0, 1};
  p.c = dw;
  p.c_m = p.cols;
  p.c_col = {0, g.kk(), g.K, 1};
  p.bias = nullptr;
  run(&p, 1, stream);
}

// db [C] from dy [N, C, HW]; N * HW = 0 gives zeros.
void bias_grad(int N, int C, int HW, const float* dy, float* db, cudaStream_t stream) {
  if (C == 0) return;
  launch(bias_grad_kernel, dim3(static_cast<unsigned>(C)), dim3(kBiasThreads), 0, stream, N, C, HW,
         dy, db);
}

}  // namespace

void conv2d_forward(const Conv2dArgs& a, const float* x, const float* w, const float* bias,
                    float* y, cudaStream_t stream) {
  window_pass(conv_geom(a), x, w, bias, y, stream);
}

void conv2d_backward(const Conv2dArgs& a, const float* x, const float* w, const float* dy,
                     float* dx, float* dw, float* db, cudaStream_t stream) {
  const Geom g = conv_geom(a);
  if (db) bias_grad(g.N, g.Cg, g.hwo(), dy, db, stream);
  if (dx) gather_pass(g, dy, w, nullptr, dx, stream);
  if (dw) weight_pass(g, dy, x, dw, stream);
}

void conv_transpose2d_forward(const Conv2dArgs& a, const float* x, const float* w,
                              const float* bias, float* y, cudaStream_t stream) {
  gather_pass(transpose_geom(a), x, w, bias, y, stream);
}

void conv_transpose2d_backward(const Conv2dArgs& a, const float* x, const float* w, const float* dy,
                               float* dx, float* dw, float* db, cudaStream_t stream) {
  const Geom g = transpose_geom(a);
  if (db) bias_grad(g.N, g.Ci, g.hw(), dy, db, stream);
  if (dx) window_pass(g, dy, w, nullptr, dx, stream);
  if (dw) weight_pass(g, x, dy, dw, stream);
}

}  // namespace ldm::kernels::cuda::inline LDM_CUDA_TARGET
