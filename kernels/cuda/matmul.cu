// CUDA linear layers, batched matmul, softmax and attention (see matmul.h).
//
// Every product goes through one shared-memory tiled SGEMM (64 x 64 block tile, 16-deep K
// chunks, 4 x 4 outputs a thread, the next chunk prefetched into registers while the current one
// is multiplied); transposed operands differ only in how a tile is loaded, so each of the six
// linear/matmul products is one instantiation. Softmax is one warp a row. Attention keeps the
// scores of 16 query rows in shared memory and streams K and V through it in chunks of 32 keys,
// so the [L, L] scores never reach global memory except as the probs the caller keeps; its
// backward recomputes dprobs from dout and V the same way. Nothing here uses float atomics:
// every sum runs in an order fixed by the launch configuration, so results repeat bitwise.
#include "kernels/cuda/matmul.h"

#include "kernels/cuda/grid.h"
#include "kernels/cuda/launch.h"

namespace ldm::kernels::cuda::inline LDM_CUDA_TARGET {
namespace {

// ---- SGEMM ----

constexpr int kTile = 64;    // rows and columns of C a block computes
constexpr int kTileK = 16;   // depth of the K chunk staged in shared memory
constexpr int kTilePad = 4;  // spreads the transposing stores over the banks
constexpr int kTileStride = kTile + kTilePad;
constexpr int kGemmThreads = 256;  // 16 x 16 threads, each 4 x 4 outputs
constexpr int kMicro = 4;
constexpr int kLoads = kTile * kTileK / kGemmThreads;  // elements of each operand a thread loads

// One operand tile's worth of global loads into registers: kLoads elements of a [kTile, kTileK]
// slab, zero outside the matrix. `major` is the tile dim (M of A, N of B), `depth` the K offset.
// When kKContiguous the matrix is stored [major][K] (threads walk K, 16 at a time, so a
// half-warp reads 64 contiguous bytes), otherwise [K][major] (threads walk major).
template <bool kKContiguous>
__device__ __forceinline__ void load_operand(const float* __restrict__ src, int major_size, int K,
                                             int major0, int k0, float (&reg)[kLoads]) {
  const int t = threadIdx.x;
  LDM_UNROLL
  for (int i = 0; i < kLoads; ++i) {
    const int major = kKContiguous ? t / kTileK + i * (kGemmThreads / kTileK) : t % kTile;
    const int k = kKContiguous ? t % kTileK : t / kTile + i * (kGemmThreads / kTile);
    const int gm = major0 + major, gk = k0 + k;
    float v = 0.0f;
    if (gm < major_size && gk < K) {
      v = kKContiguous ? src[static_cast<int64_t>(gm) * K + gk]
                       : src[static_cast<int64_t>(gk) * major_size + gm];
    }
    reg[i] = v;
  }
}

// The registers of load_operand into the [kTileK][kTileStride] shared tile.
template <bool kKContiguous>
__device__ __forceinline__ void store_operand(float* tile, const float (&reg)[kLoads]) {
  const int t = threadIdx.x;
  LDM_UNROLL
  for (int i = 0; i < kLoads; ++i) {
    const int major = kKContiguous ? t / kTileK + i * (kGemmThreads / kTileK) : t % kTile;
    const int k = kKContiguous ? t % kTileK : t / kTile + i * (kGemmThreads / kTile);
    tile[k * kTileStride + major] = reg[i];
  }
}

// C[b] [M, N] = op(A[b]) [M, K] op(B[b]) [K, N] (+ bias[N]) for b = blockIdx.z. A is stored
// [M, K], or [K, M] when kTransA; B is stored [K, N], or [N, K] when kTransB. Each thread owns
// rows ty + 16 i and columns tx + 16 j of the block tile: a warp's shared reads are then one
// broadcast (A) and 16 consecutive words (B), and its stores 16-float runs of two rows. The sum
// over K runs in ascending k with one FMA chain an output.
template <bool kTransA, bool kTransB>
__global__ void __launch_bounds__(kGemmThreads)
    gemm_kernel(int M, int N, int K, const float* __restrict__ A, int64_t a_batch,
                const float* __restrict__ B, int64_t b_batch, const float* __restrict__ bias,
                float* __restrict__ C, int64_t c_batch) {
  LDM_DYNAMIC_SHARED(float, smem);
  float* a_tile = smem;                         // [kTileK][kTileStride], m fastest
  float* b_tile = smem + kTileK * kTileStride;  // [kTileK][kTileStride], n fastest
  const int64_t b = blockIdx.z;
  A += b * a_batch;
  B += b * b_batch;
  C += b * c_batch;
  const int m0 = blockIdx.y * kTile, n0 = blockIdx.x * kTile;
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;

  float acc[kMicro][kMicro] = {};
  float a_reg[kLoads], b_reg[kLoads];
  load_operand<!kTransA>(A, M, K, m0, 0, a_reg);
  load_operand<kTransB>(B, N, K, n0, 0, b_reg);
  for (int k0 = 0; k0 < K; k0 += kTileK) {
    store_operand<!kTransA>(a_tile, a_reg);
    store_operand<kTransB>(b_tile, b_reg);
    __syncthreads();
    if (k0 + kTileK < K) {  // the next chunk's loads overlap this chunk's FMAs
      load_operand<!kTransA>(A, M, K, m0, k0 + kTileK, a_reg);
      load_operand<kTransB>(B, N, K, n0, k0 + kTileK, b_reg);
    }
    LDM_UNROLL
    for (int k = 0; k < kTileK; ++k) {
      float av[kMicro], bv[kMicro];
      LDM_UNROLL
      for (int i = 0; i < kMicro; ++i) av[i] = a_tile[k * kTileStride + ty + 16 * i];
      LDM_UNROLL
      for (int j = 0; j < kMicro; ++j) bv[j] = b_tile[k * kTileStride + tx + 16 * j];
      LDM_UNROLL
      for (int i = 0; i < kMicro; ++i) {
        LDM_UNROLL
        for (int j = 0; j < kMicro; ++j) acc[i][j] += av[i] * bv[j];
      }
    }
    __syncthreads();  // the tiles are overwritten next chunk
  }
  LDM_UNROLL
  for (int i = 0; i < kMicro; ++i) {
    const int m = m0 + ty + 16 * i;
    if (m >= M) continue;
    LDM_UNROLL
    for (int j = 0; j < kMicro; ++j) {
      const int n = n0 + tx + 16 * j;
      if (n < N) C[static_cast<int64_t>(m) * N + n] = bias ? acc[i][j] + bias[n] : acc[i][j];
    }
  }
}

constexpr std::size_t kGemmShared = 2 * kTileK * kTileStride * sizeof(float);

// C = op(A) op(B) (+ bias), `batch` times with the given element strides between matrices.
template <bool kTransA, bool kTransB>
void gemm(int64_t batch, int64_t M, int64_t N, int64_t K, const float* A, int64_t a_batch,
          const float* B, int64_t b_batch, const float* bias, float* C, int64_t c_batch,
          cudaStream_t stream) {
  if (batch == 0 || M == 0 || N == 0) return;
  // K == 0 runs too: the loop is skipped and C becomes bias (or 0), as the CPU's product.
  const dim3 grid(static_cast<unsigned>((N + kTile - 1) / kTile),
                  static_cast<unsigned>((M + kTile - 1) / kTile), static_cast<unsigned>(batch));
  launch(gemm_kernel<kTransA, kTransB>, grid, dim3(kGemmThreads), kGemmShared, stream,
         static_cast<int>(M), static_cast<int>(N), static_cast<int>(K), A, a_batch, B, b_batch,
         bias, C, c_batch);
}

// ---- column sums (linear bias gradient) ----

constexpr int kSumCols = 32, kSumRows = 8;

// db[n] = sum over m of dy[m, n]. A block owns 32 columns; its 8 warps-rows each sum every 8th
// row (a warp reads 32 consecutive floats of a row), then one thread adds the 8 partials in
// order. Row-parallel enough for the batch-sized M of the linear layers here.
__global__ void __launch_bounds__(kSumCols* kSumRows)
    column_sum_kernel(int64_t M, int64_t N, const float* __restrict__ dy, float* __restrict__ db) {
  __shared__ float partial[kSumRows][kSumCols];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t n = static_cast<int64_t>(blockIdx.x) * kSumCols + tx;
  float s = 0.0f;
  if (n < N) {
    for (int64_t m = ty; m < M; m += kSumRows) s += dy[m * N + n];
  }
  partial[ty][tx] = s;
  __syncthreads();
  if (ty == 0 && n < N) {
    float total = partial[0][tx];
    for (int r = 1; r < kSumRows; ++r) total += partial[r][tx];
    db[n] = total;
  }
}

// ---- softmax ----

constexpr int kWarp = 32;
constexpr unsigned kFull = 0xffffffffu;
constexpr int kRowThreads = 256;  // 8 rows a block, one warp each

// Butterfly reductions: every lane ends with the same value (each step adds the same two
// partials on both lanes, and a + b == b + a), in an order fixed by the lane numbers.
__device__ __forceinline__ float warp_sum(float v) {
  LDM_UNROLL
  for (int o = kWarp / 2; o > 0; o /= 2) v += __shfl_xor_sync(kFull, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
  LDM_UNROLL
  for (int o = kWarp / 2; o > 0; o /= 2) v = fmaxf(v, __shfl_xor_sync(kFull, v, o));
  return v;
}

// y = softmax(x * scale) over each row of `cols` (y may be x: each element is read and then
// written by the same lane, and every lane's reads of a pass end at the warp's reduction).
// The scaled value is rounded before the max, as the CPU's softmax_row rounds it.
__global__ void __launch_bounds__(kRowThreads)
    softmax_forward_kernel(int64_t rows, int cols, float scale, const float* x, float* y) {
  const int lane = threadIdx.x % kWarp;
  const int64_t warps = kRowThreads / kWarp;
  for (int64_t r = blockIdx.x * warps + threadIdx.x / kWarp; r < rows; r += gridDim.x * warps) {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    float m = -INFINITY;
    for (int j = lane; j < cols; j += kWarp) m = fmaxf(m, xr[j] * scale);
    m = warp_max(m);
    float s = 0.0f;
    for (int j = lane; j < cols; j += kWarp) {
      const float e = expf(xr[j] * scale - m);
      yr[j] = e;
      s += e;
    }
    const float inv = 1.0f / warp_sum(s);
    for (int j = lane; j < cols; j += kWarp) yr[j] *= inv;
  }
}

// dx = y * (dy - sum(y * dy)) per row; dx may be dy (read before written, as above).
__global__ void __launch_bounds__(kRowThreads)
    softmax_backward_kernel(int64_t rows, int cols, const float* __restrict__ y, const float* dy,
                            float* dx) {
  const int lane = threadIdx.x % kWarp;
  const int64_t warps = kRowThreads / kWarp;
  for (int64_t r = blockIdx.x * warps + threadIdx.x / kWarp; r < rows; r += gridDim.x * warps) {
    const float* yr = y + r * cols;
    const float* gr = dy + r * cols;
    float* out = dx + r * cols;
    float s = 0.0f;
    for (int j = lane; j < cols; j += kWarp) s += yr[j] * gr[j];
    s = warp_sum(s);
    for (int j = lane; j < cols; j += kWarp) out[j] = yr[j] * (gr[j] - s);
  }
}

void softmax(int64_t rows, int64_t cols, float scale, const float* x, float* y,
             cudaStream_t stream) {
  if (rows == 0 || cols == 0) return;
  launch(softmax_forward_kernel, grid_for(rows, kRowThreads / kWarp, 4096), dim3(kRowThreads), 0,
         stream, rows, static_cast<int>(cols), scale, x, y);
}

// ---- fused attention ----
//
// A block holds kRows query rows (or, for dk/dv, kChunk keys) of one head; keys stream through
// shared memory kChunk at a time, lane j of every warp owning key j of the chunk in the
// products q.k and dout.v, and lane d (+ 32 u) owning output column d in probs v and friends.
// Limits: D <= kMaxD (four output columns a lane); the forward also keeps the scores of its
// rows, so L <= kMaxFusedL. Larger heads take the GEMM + softmax path (forward) or the
// unfused kernels below (backward).

constexpr int kRows = 16;   // query rows a block
constexpr int kChunk = 32;  // keys staged at a time: one a lane
constexpr int kAttnThreads = 256;
constexpr int kAttnWarps = kAttnThreads / kWarp;
constexpr int kRowsPerWarp = kRows / kAttnWarps;  // 2
constexpr int kMaxD = 128;
constexpr int kCols = kMaxD / kWarp;  // output columns a lane
constexpr int kMaxFusedL = 256;
constexpr int kKeysPerWarp = kChunk / kAttnWarps;  // 4, in the dk/dv kernel

__device__ __forceinline__ int min_int(int a, int b) {
  return a < b ? a : b;
}

// Row stride of a staged key chunk: odd, so that lane j reading word j * stride + d hits bank
// (j * stride + d) mod 32, 32 different banks.
__host__ __device__ __forceinline__ int chunk_stride(int D) {
  return D | 1;
}

// dst[r * dst_stride + d] = src[(row0 + r) * D + d] for r < rows, zero for rows at or past L.
// Consecutive threads read consecutive floats.
__device__ __forceinline__ void stage_rows(float* dst, int dst_stride, const float* src,
                                           int64_t row0, int rows, int L, int D) {
  for (int e = threadIdx.x; e < rows * D; e += blockDim.x) {
    const int r = e / D, d = e % D;
    dst[r * dst_stride + d] = row0 + r < L ? src[(row0 + r) * D + d] : 0.0f;
  }
}

// out[i] = dot(rows[warp + kAttnWarps i], chunk[lane]) over D, d ascending; rows are staged with
// stride D, the chunk with chunk_stride(D).
__device__ __forceinline__ void chunk_dots(const float* rows, const float* chunk, int D,
                                           float (&out)[kRowsPerWarp]) {
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  const float* kr = chunk + lane * chunk_stride(D);
  LDM_UNROLL
  for (int i = 0; i < kRowsPerWarp; ++i) out[i] = 0.0f;
  for (int d = 0; d < D; ++d) {
    const float kd = kr[d];
    LDM_UNROLL
    for (int i = 0; i < kRowsPerWarp; ++i) out[i] += rows[(warp + kAttnWarps * i) * D + d] * kd;
  }
}

// acc[i][u] += sum over c < n of w[r_i * w_stride + c] * chunk[c][lane + 32 u], c ascending, for
// the warp's rows r_i = warp + kAttnWarps i.
__device__ __forceinline__ void accumulate_rows(const float* w, int w_stride, const float* chunk,
                                                int n, int D, float (&acc)[kRowsPerWarp][kCols]) {
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  const int stride = chunk_stride(D);
  for (int c = 0; c < n; ++c) {
    float wv[kRowsPerWarp];
    LDM_UNROLL
    for (int i = 0; i < kRowsPerWarp; ++i) wv[i] = w[(warp + kAttnWarps * i) * w_stride + c];
    LDM_UNROLL
    for (int u = 0; u < kCols; ++u) {
      const int d = lane + kWarp * u;
      const float x = d < D ? chunk[c * stride + d] : 0.0f;
      LDM_UNROLL
      for (int i = 0; i < kRowsPerWarp; ++i) acc[i][u] += wv[i] * x;
    }
  }
}

// dst[(row0 + r_i) * D + d] = acc[i][u] for the rows and columns inside the head.
__device__ __forceinline__ void store_rows(float* dst, int64_t row0, int L, int D,
                                           const float (&acc)[kRowsPerWarp][kCols]) {
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  LDM_UNROLL
  for (int i = 0; i < kRowsPerWarp; ++i) {
    const int64_t row = row0 + warp + kAttnWarps * i;
    if (row >= L) continue;
    LDM_UNROLL
    for (int u = 0; u < kCols; ++u) {
      const int d = lane + kWarp * u;
      if (d < D) dst[row * D + d] = acc[i][u];
    }
  }
}

// probs and out for query rows [blockIdx.x * kRows, + kRows) of head blockIdx.y.
// Shared: q rows [kRows][D], a K or V chunk [kChunk][chunk_stride(D)], scores [kRows][L].
__global__ void __launch_bounds__(kAttnThreads)
    attention_forward_kernel(int L, int D, float scale, const float* __restrict__ q,
                             const float* __restrict__ k, const float* __restrict__ v,
                             float* __restrict__ out, float* __restrict__ probs) {
  LDM_DYNAMIC_SHARED(float, smem);
  float* qs = smem;
  float* kv = qs + kRows * D;
  float* sc = kv + kChunk * chunk_stride(D);
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  const int64_t head = static_cast<int64_t>(blockIdx.y) * L * D;
  const int64_t row0 = static_cast<int64_t>(blockIdx.x) * kRows;
  q += head;
  k += head;
  v += head;

  stage_rows(qs, D, q, row0, kRows, L, D);
  // Scores, rounded and then scaled as the CPU does (q.k, then softmax of it times scale).
  for (int j0 = 0; j0 < L; j0 += kChunk) {
    __syncthreads();  // qs staged; the previous chunk fully read
    stage_rows(kv, chunk_stride(D), k, j0, kChunk, L, D);
    __syncthreads();
    float s[kRowsPerWarp];
    chunk_dots(qs, kv, D, s);
    if (j0 + lane < L) {
      LDM_UNROLL
      for (int i = 0; i < kRowsPerWarp; ++i)
        sc[(warp + kAttnWarps * i) * L + j0 + lane] = s[i] * scale;
    }
  }
  __syncthreads();
  // Row softmax: each warp owns its rows end to end, so no barrier until probs v.
  LDM_UNROLL
  for (int i = 0; i < kRowsPerWarp; ++i) {
    const int r = warp + kAttnWarps * i;
    if (row0 + r >= L) continue;  // warp-uniform
    float* sr = sc + r * L;
    float m = -INFINITY;
    for (int j = lane; j < L; j += kWarp) m = fmaxf(m, sr[j]);
    m = warp_max(m);
    float sum = 0.0f;
    for (int j = lane; j < L; j += kWarp) {
      const float e = expf(sr[j] - m);
      sr[j] = e;
      sum += e;
    }
    const float inv = 1.0f / warp_sum(sum);
    float* pr = probs + (static_cast<int64_t>(blockIdx.y) * L + row0 + r) * L;
    for (int j = lane; j < L; j += kWarp) {
      const float p = sr[j] * inv;
      sr[j] = p;
      pr[j] = p;
    }
  }
  float acc[kRowsPerWarp][kCols] = {};
  for (int j0 = 0; j0 < L; j0 += kChunk) {
    __syncthreads();  // probs in shared; the previous chunk fully read
    stage_rows(kv, chunk_stride(D), v, j0, kChunk, L, D);
    __syncthreads();
    accumulate_rows(sc + j0, L, kv, min_int(kChunk, L - j0), D, acc);
  }
  store_rows(out + head, row0, L, D, acc);
}

// delta[i] = sum over all keys j of probs[r_i, j] * (dout[r_i] . v[j]) for the warp's rows
// r_i (rowsum(probs * dprobs) of the softmax backward), with dout's rows staged in `rows` and
// V streamed through `chunk`. Lane-strided partials, then the butterfly: the same order in
// every kernel that calls it, so they agree bitwise on delta.
__device__ __forceinline__ void row_deltas(const float* rows, float* chunk, const float* v,
                                           const float* p_rows, int64_t row0, int L, int D,
                                           float (&delta)[kRowsPerWarp]) {
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  float part[kRowsPerWarp] = {};
  for (int j0 = 0; j0 < L; j0 += kChunk) {
    __syncthreads();  // rows staged; the previous chunk fully read
    stage_rows(chunk, chunk_stride(D), v, j0, kChunk, L, D);
    __syncthreads();
    float dp[kRowsPerWarp];
    chunk_dots(rows, chunk, D, dp);
    if (j0 + lane < L) {
      LDM_UNROLL
      for (int i = 0; i < kRowsPerWarp; ++i) {
        const int64_t row = row0 + warp + kAttnWarps * i;
        if (row < L) part[i] += p_rows[row * L + j0 + lane] * dp[i];
      }
    }
  }
  LDM_UNROLL
  for (int i = 0; i < kRowsPerWarp; ++i) delta[i] = warp_sum(part[i]);
}

// dq for query rows [blockIdx.x * kRows, + kRows) of head blockIdx.y:
// dq[i] = sum_j scale * p[i, j] * (dout[i] . v[j] - delta[i]) * k[j].
// Shared: dout rows [kRows][D], V and K chunks [kChunk][chunk_stride(D)] each, dscores
// [kRows][kChunk].
__global__ void __launch_bounds__(kAttnThreads)
    attention_dq_kernel(int L, int D, float scale, const float* __restrict__ k,
                        const float* __restrict__ v, const float* __restrict__ probs,
                        const float* __restrict__ dout, float* __restrict__ dq) {
  LDM_DYNAMIC_SHARED(float, smem);
  const int cs = chunk_stride(D);
  float* gs = smem;
  float* vs = gs + kRows * D;
  float* ks = vs + kChunk * cs;
  float* ds = ks + kChunk * cs;
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  const int64_t head = static_cast<int64_t>(blockIdx.y) * L * D;
  const int64_t row0 = static_cast<int64_t>(blockIdx.x) * kRows;
  const float* ph = probs + static_cast<int64_t>(blockIdx.y) * L * L;
  k += head;
  v += head;

  stage_rows(gs, D, dout + head, row0, kRows, L, D);
  float delta[kRowsPerWarp];
  row_deltas(gs, vs, v, ph, row0, L, D, delta);
  float acc[kRowsPerWarp][kCols] = {};
  for (int j0 = 0; j0 < L; j0 += kChunk) {
    __syncthreads();  // the previous chunk and dscores fully read
    stage_rows(vs, cs, v, j0, kChunk, L, D);
    stage_rows(ks, cs, k, j0, kChunk, L, D);
    __syncthreads();
    float dp[kRowsPerWarp];
    chunk_dots(gs, vs, D, dp);
    LDM_UNROLL
    for (int i = 0; i < kRowsPerWarp; ++i) {
      const int64_t row = row0 + warp + kAttnWarps * i;
      const int64_t j = j0 + lane;
      // (scale * p) * (dp - delta): the CPU's rounding order.
      ds[(warp + kAttnWarps * i) * kChunk + lane] =
          row < L && j < L ? scale * ph[row * L + j] * (dp[i] - delta[i]) : 0.0f;
    }
    __syncthreads();
    accumulate_rows(ds, kChunk, ks, min_int(kChunk, L - j0), D, acc);
  }
  store_rows(dq + head, row0, L, D, acc);
}

// dk and dv for keys [blockIdx.x * kChunk, + kChunk) of head blockIdx.y, from every query row:
// dv[j] = sum_i p[i, j] dout[i], dk[j] = sum_i scale * p[i, j] (dout[i] . v[j] - delta[i]) q[i],
// i ascending. Query rows come kRows at a time; delta needs all of V for each, which is the
// price of owning the keys (no scratch, no atomics). Warp w owns keys w + 8 c, lane d + 32 u.
// Shared: this block's V keys and a streamed V chunk [kChunk][chunk_stride(D)] each, dout rows
// (then q rows) [kRows][D], probs and dscores [kRows][kChunk] each.
__global__ void __launch_bounds__(kAttnThreads)
    attention_dkv_kernel(int L, int D, float scale, const float* __restrict__ q,
                         const float* __restrict__ v, const float* __restrict__ probs,
                         const float* __restrict__ dout, float* __restrict__ dk,
                         float* __restrict__ dv) {
  LDM_DYNAMIC_SHARED(float, smem);
  const int cs = chunk_stride(D);
  float* vb = smem;
  float* vc = vb + kChunk * cs;
  float* rs = vc + kChunk * cs;
  float* ps = rs + kRows * D;
  float* ds = ps + kRows * kChunk;
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  const int64_t head = static_cast<int64_t>(blockIdx.y) * L * D;
  const int64_t key0 = static_cast<int64_t>(blockIdx.x) * kChunk;
  const float* ph = probs + static_cast<int64_t>(blockIdx.y) * L * L;
  q += head;
  v += head;
  dout += head;

  stage_rows(vb, cs, v, key0, kChunk, L, D);
  float acc_k[kKeysPerWarp][kCols] = {}, acc_v[kKeysPerWarp][kCols] = {};
  for (int i0 = 0; i0 < L; i0 += kRows) {
    const int rows = min_int(kRows, L - i0);
    __syncthreads();  // the previous rows' q, probs and dscores fully read
    stage_rows(rs, D, dout, i0, kRows, L, D);
    for (int e = threadIdx.x; e < kRows * kChunk; e += kAttnThreads) {
      const int64_t i = i0 + e / kChunk, j = key0 + e % kChunk;
      ps[e] = i < L && j < L ? ph[i * L + j] : 0.0f;
    }
    if (dk) {  // uniform: every thread takes the same branch
      float delta[kRowsPerWarp];
      row_deltas(rs, vc, v, ph, i0, L, D, delta);  // its barriers also publish rs and ps
      float dp[kRowsPerWarp];
      chunk_dots(rs, vb, D, dp);
      LDM_UNROLL
      for (int i = 0; i < kRowsPerWarp; ++i) {
        const int e = (warp + kAttnWarps * i) * kChunk + lane;
        ds[e] = scale * ps[e] * (dp[i] - delta[i]);  // 0 where probs was padded with 0
      }
    }
    __syncthreads();
    if (dv) {
      for (int r = 0; r < rows; ++r) {
        LDM_UNROLL
        for (int c = 0; c < kKeysPerWarp; ++c) {
          const float p = ps[r * kChunk + warp + kAttnWarps * c];
          LDM_UNROLL
          for (int u = 0; u < kCols; ++u) {
            const int d = lane + kWarp * u;
            acc_v[c][u] += p * (d < D ? rs[r * D + d] : 0.0f);
          }
        }
      }
    }
    if (dk) {
      __syncthreads();  // dout rows fully read: q rows take their place
      stage_rows(rs, D, q, i0, kRows, L, D);
      __syncthreads();
      for (int r = 0; r < rows; ++r) {
        LDM_UNROLL
        for (int c = 0; c < kKeysPerWarp; ++c) {
          const float g = ds[r * kChunk + warp + kAttnWarps * c];
          LDM_UNROLL
          for (int u = 0; u < kCols; ++u) {
            const int d = lane + kWarp * u;
            acc_k[c][u] += g * (d < D ? rs[r * D + d] : 0.0f);
          }
        }
      }
    }
  }
  LDM_UNROLL
  for (int c = 0; c < kKeysPerWarp; ++c) {
    const int64_t key = key0 + warp + kAttnWarps * c;
    if (key >= L) continue;
    LDM_UNROLL
    for (int u = 0; u < kCols; ++u) {
      const int d = lane + kWarp * u;
      if (d >= D) continue;
      if (dk) dk[head + key * D + d] = acc_k[c][u];
      if (dv) dv[head + key * D + d] = acc_v[c][u];
    }
  }
}

// ---- unfused attention backward, for heads wider than kMaxD ----
//
// Slow but general and still scratch-free: one block per (head, query row) for dq and per
// (head, key) for dk, each computing its row of dprobs from global memory. dv goes to the GEMM.

constexpr int kWideThreads = 128;

// a . b over n, ascending.
__device__ __forceinline__ float row_dot(const float* __restrict__ a, const float* __restrict__ b,
                                         int n) {
  float s = 0.0f;
  for (int d = 0; d < n; ++d) s += a[d] * b[d];
  return s;
}

// coef[i] (shared, [L]) for one head: dq's block (by_row) gets scale * p[row, j] * (dp[row, j] -
// delta[row]) for every key j; dk's block gets the same for every query i at key `row`.
__global__ void __launch_bounds__(kWideThreads)
    attention_dq_wide_kernel(int L, int D, float scale, const float* __restrict__ k,
                             const float* __restrict__ v, const float* __restrict__ probs,
                             const float* __restrict__ dout, float* __restrict__ dq) {
  LDM_DYNAMIC_SHARED(float, coef);  // [L]
  const int64_t head = static_cast<int64_t>(blockIdx.y) * L * D;
  const int64_t i = blockIdx.x;
  const float* g = dout + head + i * D;
  const float* pr = probs + (static_cast<int64_t>(blockIdx.y) * L + i) * L;
  for (int j = threadIdx.x; j < L; j += kWideThreads) {
    coef[j] = row_dot(g, v + head + static_cast<int64_t>(j) * D, D);
  }
  __syncthreads();
  float delta = 0.0f;  // every thread, the same order
  for (int j = 0; j < L; ++j) delta += pr[j] * coef[j];
  __syncthreads();
  for (int j = threadIdx.x; j < L; j += kWideThreads) coef[j] = scale * pr[j] * (coef[j] - delta);
  __syncthreads();
  for (int d = threadIdx.x; d < D; d += kWideThreads) {
    float s = 0.0f;
    for (int j = 0; j < L; ++j) s += coef[j] * k[head + static_cast<int64_t>(j) * D + d];
    dq[head + i * D + d] = s;
  }
}

__global__ void __launch_bounds__(kWideThreads)
    attention_dk_wide_kernel(int L, int D, float scale, const float* __restrict__ q,
                             const float* __restrict__ v, const float* __restrict__ probs,
                             const float* __restrict__ dout, float* __restrict__ dk) {
  LDM_DYNAMIC_SHARED(float, coef);  // [L]
  const int64_t head = static_cast<int64_t>(blockIdx.y) * L * D;
  const int64_t key = blockIdx.x;
  const float* ph = probs + static_cast<int64_t>(blockIdx.y) * L * L;
  for (int i = threadIdx.x; i < L; i += kWideThreads) {
    const float* g = dout + head + static_cast<int64_t>(i) * D;
    float delta = 0.0f;
    for (int j = 0; j < L; ++j) {
      delta += ph[static_cast<int64_t>(i) * L + j] *
               row_dot(g, v + head + static_cast<int64_t>(j) * D, D);
    }
    const float dp_key = row_dot(g, v + head + key * D, D);
    coef[i] = scale * ph[static_cast<int64_t>(i) * L + key] * (dp_key - delta);
  }
  __syncthreads();
  for (int d = threadIdx.x; d < D; d += kWideThreads) {
    float s = 0.0f;
    for (int i = 0; i < L; ++i) s += coef[i] * q[head + static_cast<int64_t>(i) * D + d];
    dk[head + key * D + d] = s;
  }
}

unsigned blocks(int64_t n, int per_block) {
  return static_cast<unsigned>((n + per_block - 1) / per_block);
}

}  // namespace

void linear_forward(const MatmulArgs& a, const float* x, const float* w, const float* bias,
                    float* y, cudaStream_t stream) {
  gemm<false, true>(1, a.M, a.N, a.K, x, 0, w, 0, bias, y, 0, stream);
}

void linear_backward(const MatmulArgs& a, const float* x, const float* w, const float* dy,
                     float* dx, float* dw, float* db, cudaStream_t stream) {
  const int64_t M = a.M, N = a.N, K = a.K;
  if (dx) gemm<false, false>(1, M, K, N, dy, 0, w, 0, nullptr, dx, 0, stream);  // dy w
  if (dw) gemm<true, false>(1, N, K, M, dy, 0, x, 0, nullptr, dw, 0, stream);   // dy^T x
  if (db && N > 0) {
    launch(column_sum_kernel, dim3(blocks(N, kSumCols)), dim3(kSumCols, kSumRows), 0, stream, M, N,
           dy, db);
  }
}

void matmul_forward(const MatmulArgs& a, const float* x, const float* y, float* out,
                    cudaStream_t stream) {
  const int64_t M = a.M, N = a.N, K = a.K;
  gemm<false, false>(a.batch, M, N, K, x, M * K, y, K * N, nullptr, out, M * N, stream);
}

void matmul_backward(const MatmulArgs& a, const float* x, const float* y, const float* dout,
                     float* dx, float* dy, cudaStream_t stream) {
  const int64_t B = a.batch, M = a.M, N = a.N, K = a.K;
  if (dx) gemm<false, true>(B, M, K, N, dout, M * N, y, K * N, nullptr, dx, M * K, stream);
  if (dy) gemm<true, false>(B, K, N, M, x, M * K, dout, M * N, nullptr, dy, K * N, stream);
}

void softmax_forward(const SoftmaxArgs& a, const float* x, float* y, cudaStream_t stream) {
  softmax(a.rows, a.cols, 1.0f, x, y, stream);
}

void softmax_backward(const SoftmaxArgs& a, const float* y, const float* dy, float* dx,
                      cudaStream_t stream) {
  if (a.rows == 0 || a.cols == 0 || !dx) return;
  launch(softmax_backward_kernel, grid_for(a.rows, kRowThreads / kWarp, 4096), dim3(kRowThreads), 0,
         stream, a.rows, static_cast<int>(a.cols), y, dy, dx);
}

void attention_forward(const AttentionArgs& a, const float* q, const float* k, const float* v,
                       float* out, float* probs, cudaStream_t stream) {
  const int64_t BH = a.BH, L = a.L, D = a.D;
  const float scale = static_cast<float>(a.scale);
  if (BH == 0 || L == 0) return;
  if (D <= kMaxD && L <= kMaxFusedL) {
    const std::size_t shared =
        sizeof(float) * (kRows * D + kChunk * chunk_stride(static_cast<int>(D)) + kRows * L);
    launch(attention_forward_kernel, dim3(blocks(L, kRows), static_cast<unsigned>(BH)),
           dim3(kAttnThreads), shared, stream, static_cast<int>(L), static_cast<int>(D), scale, q,
           k, v, out, probs);
    return;
  }
  // probs doubles as the scores buffer: q k^T, softmax(scores * scale) in place, then probs v.
  gemm<false, true>(BH, L, L, D, q, L * D, k, L * D, nullptr, probs, L * L, stream);
  softmax(BH * L, L, scale, probs, probs, stream);
  gemm<false, false>(BH, L, D, L, probs, L * L, v, L * D, nullptr, out, L * D, stream);
}

void attention_backward(const AttentionArgs& a, const float* q, const float* k, const float* v,
                        const float* probs, const float* dout, float* dq, float* dk, float* dv,
                        cudaStream_t stream) {
  const int64_t BH = a.BH, L = a.L, D = a.D;
  const float scale = static_cast<float>(a.scale);
  if (BH == 0 || L == 0 || D == 0) return;
  const unsigned heads = static_cast<unsigned>(BH);
  if (D <= kMaxD) {
    const int cs = chunk_stride(static_cast<int>(D));
    if (dq) {
      const std::size_t shared = sizeof(float) * (kRows * D + 2 * kChunk * cs + kRows * kChunk);
      launch(attention_dq_kernel, dim3(blocks(L, kRows), heads), dim3(kAttnThreads), shared, stream,
             static_cast<int>(L), static_cast<int>(D), scale, k, v, probs, dout, dq);
    }
    if (dk || dv) {
      const std::size_t shared = sizeof(float) * (2 * kChunk * cs + kRows * D + 2 * kRows * kChunk);
      launch(attention_dkv_kernel, dim3(blocks(L, kChunk), heads), dim3(kAttnThreads), shared,
             stream, static_cast<int>(L), static_cast<int>(D), scale, q, v, probs, dout, dk, dv);
    }
    return;
  }
  const std::size_t shared = sizeof(float) * L;
  if (dq) {
    launch(attention_dq_wide_kernel, dim3(static_cast<unsigned>(L), heads), dim3(kWideThreads),
           shared, stream, static_cast<int>(L), static_cast<int>(D), scale, k, v, probs, dout, dq);
  }
  if (dk) {
    launch(attention_dk_wide_kernel, dim3(static_cast<unsigned>(L), heads), dim3(kWideThreads),
           shared, stream, static_cast<int>(L), static_cast<int>(D), scale, q, v, probs, dout, dk);
  }
  if (dv) gemm<true, false>(BH, L, D, L, probs, L * L, dout, L * D, nullptr, dv, L * D, stream);
}

}  // namespace ldm::kernels::cuda::inline LDM_CUDA_TARGET

#undef LDM_UNROLL
