// CUDA scale, broadcasting add/mul, concat/slice/permute copies and resampling (see
// elementwise.h). All memory-bound: one thread per output element, coalesced writes, index math
// in 32 bits whenever the tensor allows. Reductions (broadcast backward, upsample backward,
// bilinear backward) are gathers: each output element is summed by one thread, or by one block
// with a fixed-shape tree, so results never depend on scheduling. Where the CPU kernel sums in
// float, the gather adds the same terms in the same order with explicitly rounded operations,
// so those results are the CPU's bitwise; the broadcast sums accumulate in double, as the CPU's.
#include "kernels/cuda/elementwise.h"

#include "kernels/broadcast.h"
#include "kernels/cuda/grid.h"
#include "kernels/cuda/launch.h"

namespace ldm::kernels::cuda::inline LDM_CUDA_TARGET {
namespace {

constexpr int kThreads = 256;
constexpr int kRank = BroadcastArgs::kMaxRank;
static_assert(PermuteArgs::kMaxRank == kRank);

int64_t numel(const int64_t* shape) {
  int64_t n = 1;
  for (int d = 0; d < kRank; ++d) n *= shape[d];
  return n;
}

// True when every index and offset of an n-element tensor fits 32 bits, where the divisions of
// the index math are several times cheaper on a GPU.
bool fits_u32(int64_t n) {
  return n < (int64_t{1} << 32);
}

// The offsets off[k] = sum_d index_d * stride[k][d] of flat row-major index i over dims
// [0, rank) of size. Unrolled over the maximum rank with the dims beyond `rank` skipped, so every
// array index is a constant (the arrays stay in registers / the kernel's parameter bank instead
// of a local-memory copy); the outermost dim takes the quotient, without a division.
template <int Ops, typename I>
__device__ __forceinline__ void decode(int rank, const int64_t* size,
                                       const int64_t (*stride)[kRank], I i, I* off) {
  LDM_UNROLL
  for (int k = 0; k < Ops; ++k) off[k] = 0;
  LDM_UNROLL
  for (int d = kRank - 1; d > 0; --d) {
    if (d < rank) {
      const I n = static_cast<I>(size[d]);
      const I q = i / n;
      const I r = i - q * n;
      LDM_UNROLL
      for (int k = 0; k < Ops; ++k) off[k] += r * static_cast<I>(stride[k][d]);
      i = q;
    }
  }
  LDM_UNROLL
  for (int k = 0; k < Ops; ++k) off[k] += i * static_cast<I>(stride[k][0]);
}

// Grid-stride loop in index type I (grid.h's for_each_index, but 32-bit where possible).
template <typename I, typename Body>
__device__ __forceinline__ void for_each(I n, Body body) {
  const I stride = static_cast<I>(gridDim.x) * blockDim.x;
  for (I i = static_cast<I>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) body(i);
}

// ---- scale, copies ----

__global__ void scale_kernel(int64_t n, float alpha, const float* __restrict__ x,
                             float* __restrict__ y) {
  for_each_index(n, [&](int64_t i) { y[i] = __fmul_rn(alpha, x[i]); });
}

__global__ void fill_kernel(int64_t n, float v, float* __restrict__ y) {
  for_each_index(n, [&](int64_t i) { y[i] = v; });
}

__global__ void copy_kernel(int64_t n, const float* __restrict__ x, float* __restrict__ y) {
  for_each_index(n, [&](int64_t i) { y[i] = x[i]; });
}

// dst[row * dst_stride + j] = src[row * src_stride + j] for row < rows, j < len: slice and
// insert are both a copy of strided rows.
template <typename I>
__global__ void copy_rows_kernel(I rows, I len, const float* __restrict__ src, I src_stride,
                                 float* __restrict__ dst, I dst_stride) {
  for_each(rows * len, [&](I i) {
    const I row = i / len, j = i - row * len;
    dst[row * dst_stride + j] = src[row * src_stride + j];
  });
}

// ---- broadcasting add / mul ----

enum class BinaryOp { kAdd, kMul };

template <BinaryOp Op>
__device__ __forceinline__ float apply(float p, float q) {
  return Op == BinaryOp::kAdd ? __fadd_rn(p, q) : __fmul_rn(p, q);
}

// out[i] = op(x, y) over s's space; operand 0 is out (contiguous), 1 is x, 2 is y.
template <BinaryOp Op, typename I>
__device__ __forceinline__ void binary_body(const Strided& s, I total, const float* __restrict__ x,
                                            const float* __restrict__ y, float* __restrict__ out) {
  for_each(total, [&](I i) {
    I off[2];
    decode<2>(s.rank, s.size, s.stride + 1, i, off);
    out[i] = apply<Op>(x[off[0]], y[off[1]]);
  });
}

// One kernel per op (rather than a kernel templated on the op) so that each has its own name
// in profiles and in the ptxas table.
template <typename I>
__global__ void add_kernel(Strided s, I total, const float* __restrict__ x,
                           const float* __restrict__ y, float* __restrict__ out) {
  binary_body<BinaryOp::kAdd>(s, total, x, y, out);
}

template <typename I>
__global__ void mul_kernel(Strided s, I total, const float* __restrict__ x,
                           const float* __restrict__ y, float* __restrict__ out) {
  binary_body<BinaryOp::kMul>(s, total, x, y, out);
}

template <BinaryOp Op, typename I>
constexpr auto binary_kernel = Op == BinaryOp::kAdd ? add_kernel<I> : mul_kernel<I>;

template <BinaryOp Op>
void binary(const int64_t* out_shape, const int64_t* x_shape, const int64_t* y_shape,
            const float* x, const float* y, float* out, cudaStream_t stream) {
  const int64_t total = numel(out_shape);
  if (total == 0) return;
  const int64_t* shapes[3] = {out_shape, x_shape, y_shape};
  const Strided s = make_strided(out_shape, shapes, 3);
  const dim3 grid = grid_for(total, kThreads);
  if (fits_u32(total)) {
    launch(binary_kernel<Op, uint32_t>, grid, dim3(kThreads), 0, stream, s,
           static_cast<uint32_t>(total), x, y, out);
  } else {
    launch(binary_kernel<Op, int64_t>, grid, dim3(kThreads), 0, stream, s, total, x, y, out);
  }
}

// The backward of a broadcast: dst [dst_shape] = sum over the broadcast dims of src [out_shape]
// (times other, broadcast to out_shape, when other is not null). The merged dims split into the
// kept ones (dst's, in dst's order, so a flat index over them is dst's offset) and the reduced
// ones; strides [0] are src's, [1] other's.
struct ReducePlan {
  int n_kept = 0, n_red = 0;
  int64_t kept_size[kRank] = {}, red_size[kRank] = {};
  int64_t kept_stride[2][kRank] = {}, red_stride[2][kRank] = {};
};

__device__ __forceinline__ double term(const float* src, const float* other, int64_t a, int64_t b) {
  const double v = static_cast<double>(src[a]);
  return other ? v * static_cast<double>(other[b]) : v;
}

// One thread per dst element, walking the reduced index in row-major order.
template <typename I>
__global__ void reduce_thread_kernel(ReducePlan p, I n_dst, I n_red, const float* __restrict__ src,
                                     const float* __restrict__ other, float* __restrict__ dst) {
  for_each(n_dst, [&](I e) {
    I base[2];
    decode<2>(p.n_kept, p.kept_size, p.kept_stride, e, base);
    double acc = 0.0;
    for (I r = 0; r < n_red; ++r) {
      I off[2];
      decode<2>(p.n_red, p.red_size, p.red_stride, r, off);
      acc += term(src, other, base[0] + off[0], base[1] + off[1]);
    }
    dst[e] = static_cast<float>(acc);
  });
}

// One block per dst element: thread t sums reduced positions t, t + T, ... (consecutive threads
// read consecutive src along the innermost reduced dim), then a fixed tree over the T partials
// in shared memory. T is a power of two fixed by the reduction length alone.
template <typename I>
__global__ void reduce_block_kernel(ReducePlan p, I n_dst, I n_red, const float* __restrict__ src,
                                    const float* __restrict__ other, float* __restrict__ dst) {
  LDM_DYNAMIC_SHARED(double, partial);  // [blockDim.x]
  const unsigned t = threadIdx.x, T = blockDim.x;
  for (I e = blockIdx.x; e < n_dst; e += gridDim.x) {
    I base[2];
    decode<2>(p.n_kept, p.kept_size, p.kept_stride, e, base);
    double acc = 0.0;
    for (I r = t; r < n_red; r += T) {
      I off[2];
      decode<2>(p.n_red, p.red_size, p.red_stride, r, off);
      acc += term(src, other, base[0] + off[0], base[1] + off[1]);
    }
    partial[t] = acc;
    __syncthreads();
    for (unsigned w = T / 2; w > 0; w /= 2) {
      if (t < w) partial[t] += partial[t + w];
      __syncthreads();
    }
    if (t == 0) dst[e] = static_cast<float>(partial[0]);
    __syncthreads();  // partial[0] is read before the next element overwrites it
  }
}

// Reductions at least this long are split across a block when the innermost dim is reduced
// (the bias-like [1, C, 1, 1] of [N, C, H, W]), or when there are too few outputs to fill a GPU
// with one thread each; shorter ones take one thread per output.
constexpr int64_t kBlockReduceMin = 64;
constexpr int64_t kFewOutputs = 4096, kLongReduce = 1024;

void reduce_broadcast(const int64_t* out_shape, const int64_t* dst_shape, const float* src,
                      const int64_t* other_shape, const float* other, float* dst,
                      cudaStream_t stream) {
  const int64_t n_dst = numel(dst_shape), total = numel(out_shape);
  if (n_dst == 0) return;
  if (total == 0) {  // broadcast of a size-1 dim against size 0: an empty sum
    launch(fill_kernel, grid_for(n_dst, kThreads), dim3(kThreads), 0, stream, n_dst, 0.0f, dst);
    return;
  }
  if (n_dst == total) {  // nothing reduced: dout, or dout * other in float as the CPU
    if (other == nullptr) {
      launch(copy_kernel, grid_for(total, kThreads), dim3(kThreads), 0, stream, total, src, dst);
    } else {
      binary<BinaryOp::kMul>(out_shape, out_shape, other_shape, src, other, dst, stream);
    }
    return;
  }
  const int64_t* shapes[3] = {dst_shape, out_shape, other ? other_shape : out_shape};
  const Strided s = make_strided(out_shape, shapes, 3);
  ReducePlan p;
  for (int d = 0; d < s.rank; ++d) {
    const bool kept = s.stride[0][d] != 0;
    int& n = kept ? p.n_kept : p.n_red;
    (kept ? p.kept_size : p.red_size)[n] = s.size[d];
    for (int k = 0; k < 2; ++k) (kept ? p.kept_stride : p.red_stride)[k][n] = s.stride[k + 1][d];
    ++n;
  }
  if (p.n_kept == 0) {  // a sum of everything: one dst element
    p.n_kept = 1;
    p.kept_size[0] = 1;
  }
  const int64_t n_red = total / n_dst;
  const bool inner_reduced = s.stride[0][s.rank - 1] == 0;
  const bool by_block =
      n_red >= kBlockReduceMin && (inner_reduced || (n_dst < kFewOutputs && n_red >= kLongReduce));
  const bool u32 = fits_u32(total);
  if (by_block) {
    int threads = 32;  // about 8 terms a thread, 32 to 256 threads
    while (threads < 256 && threads * 16 <= n_red) threads *= 2;
    const dim3 grid(static_cast<unsigned>(n_dst < 65535 ? n_dst : 65535));
    const std::size_t smem = threads * sizeof(double);
    if (u32) {
      launch(reduce_block_kernel<uint32_t>, grid, dim3(threads), smem, stream, p,
             static_cast<uint32_t>(n_dst), static_cast<uint32_t>(n_red), src, other, dst);
    } else {
      launch(reduce_block_kernel<int64_t>, grid, dim3(threads), smem, stream, p, n_dst, n_red, src,
             other, dst);
    }
  } else if (u32) {
    launch(reduce_thread_kernel<uint32_t>, grid_for(n_dst, kThreads), dim3(kThreads), 0, stream, p,
           static_cast<uint32_t>(n_dst), static_cast<uint32_t>(n_red), src, other, dst);
  } else {
    launch(reduce_thread_kernel<int64_t>, grid_for(n_dst, kThreads), dim3(kThreads), 0, stream, p,
           n_dst, n_red, src, other, dst);
  }
}

// ---- permute ----

// A permutation reduced to what the copy needs (as the CPU kernel's plan): the output dims in
// row-major order with each one's stride in src, size-1 dims dropped and output neighbours that
// are neighbours in src too merged. stride[0] is src's, stride[1] dst's (contiguous).
struct PermutePlan {
  int rank = 0;
  int64_t size[kRank] = {};
  int64_t stride[2][kRank] = {};
};

PermutePlan plan_permute(const PermuteArgs& a) {
  int64_t in_stride[kRank];
  int64_t s = 1;
  for (int d = a.rank - 1; d >= 0; --d) {
    in_stride[d] = s;
    s *= a.in_shape[d];
  }
  PermutePlan p;
  for (int k = 0; k < a.rank; ++k) {
    const int64_t n = a.in_shape[a.order[k]], st = in_stride[a.order[k]];
    if (n == 1) continue;
    if (p.rank > 0 && p.stride[0][p.rank - 1] == st * n) {
      p.size[p.rank - 1] *= n;
      p.stride[0][p.rank - 1] = st;
    } else {
      p.size[p.rank] = n;
      p.stride[0][p.rank] = st;
      ++p.rank;
    }
  }
  s = 1;
  for (int k = p.rank - 1; k >= 0; --k) {
    p.stride[1][k] = s;
    s *= p.size[k];
  }
  return p;
}

// The general permute: one thread per dst element in dst order (coalesced writes), reading src
// through the plan's strides. Used when src's innermost dim stays innermost, so reads are
// coalesced too (whole rows move, as in the qkv split).
template <typename I>
__global__ void permute_gather_kernel(PermutePlan p, I total, const float* __restrict__ src,
                                      float* __restrict__ dst) {
  for_each(total, [&](I i) {
    I off[1];
    decode<1>(p.rank, p.size, p.stride, i, off);
    dst[i] = src[off[0]];
  });
}

// The transposing permute: src's innermost dim (`rows` long, stride 1 in src) ends up somewhere
// other than dst's innermost (`cols` long, stride 1 in dst), as in [N, C, HW] <-> [N, HW, C].
// 32 x 32 tiles through shared memory, so both the reads along src's rows and the writes along
// dst's rows are coalesced; the extra column keeps the transposed reads free of bank conflicts.
// The remaining (outer) dims, up to four, are decoded once a tile.
struct TransposePlan {
  int n_outer = 0;
  int64_t outer_size[kRank] = {};
  int64_t outer_stride[2][kRank] = {};  // src, dst
  int64_t rows = 0, cols = 0;
  int64_t src_col_stride = 0;  // src stride of dst's innermost dim
  int64_t dst_row_stride = 0;  // dst stride of src's innermost dim
};

constexpr int kTile = 32, kTileRows = 8;

__global__ void permute_transpose_kernel(TransposePlan p, int64_t n_tiles,
                                         const float* __restrict__ src, float* __restrict__ dst) {
  __shared__ float tile[kTile][kTile + 1];  // [col in tile][row in tile]
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t tiles_r = (p.rows + kTile - 1) / kTile, tiles_c = (p.cols + kTile - 1) / kTile;
  for (int64_t t = blockIdx.x; t < n_tiles; t += gridDim.x) {  // uniform over the block
    const int64_t tc = t % tiles_c, tr = (t / tiles_c) % tiles_r, outer = t / (tiles_c * tiles_r);
    int64_t base[2];
    decode<2>(p.n_outer, p.outer_size, p.outer_stride, outer, base);
    const int64_t r0 = tr * kTile, c0 = tc * kTile;
    const int64_t r = r0 + tx;
    for (int k = ty; k < kTile; k += kTileRows) {
      const int64_t c = c0 + k;
      if (r < p.rows && c < p.cols) tile[k][tx] = src[base[0] + r + c * p.src_col_stride];
    }
    __syncthreads();
    const int64_t c = c0 + tx;
    for (int k = ty; k < kTile; k += kTileRows) {
      const int64_t rr = r0 + k;
      if (rr < p.rows && c < p.cols) dst[base[1] + rr * p.dst_row_stride + c] = tile[tx][k];
    }
    __syncthreads();  // the tile is read before the next one overwrites it
  }
}

// ---- resampling ----

// Nearest upsampling by integer factors fh, fw: one thread per output element.
template <typename I>
__global__ void upsample_nearest_kernel(I total, I H_in, I W_in, I H_out, I W_out, I fh, I fw,
                                        const float* __restrict__ x, float* __restrict__ y) {
  for_each(total, [&](I i) {
    const I ow = i % W_out, q = i / W_out;
    const I oh = q % H_out, plane = q / H_out;
    y[i] = x[(plane * H_in + oh / fh) * W_in + ow / fw];
  });
}

// dx[ih, iw] = sum of its fh x fw block of dy, in the CPU's order and rounding: each block row
// summed left to right, the row sums added top to bottom.
template <typename I>
__global__ void upsample_nearest_backward_kernel(I total, I H_in, I W_in, I W_out, I fh, I fw,
                                                 const float* __restrict__ dy,
                                                 float* __restrict__ dx) {
  for_each(total, [&](I i) {
    const I iw = i % W_in, q = i / W_in;
    const I ih = q % H_in, plane = q / H_in;
    const float* d = dy + ((plane * H_in + ih) * fh) * W_out + iw * fw;
    float acc = 0.0f;
    for (I kh = 0; kh < fh; ++kh) {
      const float* row = d + kh * W_out;
      float s = row[0];
      for (I kw = 1; kw < fw; ++kw) s = __fadd_rn(s, row[kw]);
      acc = kh == 0 ? s : __fadd_rn(acc, s);
    }
    dx[i] = acc;
  });
}

// One axis of PyTorch's linear interpolation (align_corners=False), exactly as the CPU kernel
// computes it: the scale in float, the source coordinate in double (fused), clamped at 0; at
// the far edge both taps are the last pixel.
struct Tap {
  int64_t i0, i1;
  float l0, l1;
};

__device__ __forceinline__ int64_t tap_index(int64_t in, int64_t out, float scale, int64_t o) {
  if (in == out) return o;
  double real = fma(static_cast<double>(scale), static_cast<double>(o) + 0.5, -0.5);
  if (real < 0.0) real = 0.0;
  return static_cast<int64_t>(real);
}

__device__ __forceinline__ Tap linear_tap(int64_t in, int64_t out, float scale, int64_t o) {
  if (in == out) return {o, o, 1.0f, 0.0f};
  double real = fma(static_cast<double>(scale), static_cast<double>(o) + 0.5, -0.5);
  if (real < 0.0) real = 0.0;
  const int64_t i = static_cast<int64_t>(real);
  const float l1 = static_cast<float>(real - static_cast<double>(i));
  return {i, i + (i < in - 1 ? 1 : 0), __fsub_rn(1.0f, l1), l1};
}

// The first output o whose first tap is >= target (taps are monotone in o): an estimate from
// the inverse map, then corrected by exact steps (usually none).
__device__ __forceinline__ int64_t first_tap_at_least(int64_t in, int64_t out, float scale,
                                                      int64_t target) {
  double est = (static_cast<double>(target) + 0.5) / static_cast<double>(scale) - 0.5;
  est = est < 0.0 ? 0.0 : (est > static_cast<double>(out) ? static_cast<double>(out) : est);
  int64_t o = static_cast<int64_t>(ceil(est));
  while (o > 0 && tap_index(in, out, scale, o - 1) >= target) --o;
  while (o < out && tap_index(in, out, scale, o) < target) ++o;
  return o;
}

// y = blend along H of two blends along W, as the CPU's separable pass (fused the same way).
__global__ void bilinear_forward_kernel(int64_t total, int64_t H_in, int64_t W_in, int64_t H_out,
                                        int64_t W_out, float scale_h, float scale_w,
                                        const float* __restrict__ x, float* __restrict__ y) {
  for_each_index(total, [&](int64_t i) {
    const int64_t ow = i % W_out, q = i / W_out;
    const int64_t oh = q % H_out, plane = q / H_out;
    const Tap th = linear_tap(H_in, H_out, scale_h, oh);
    const Tap tw = linear_tap(W_in, W_out, scale_w, ow);
    const float* r0 = x + (plane * H_in + th.i0) * W_in;
    const float* r1 = x + (plane * H_in + th.i1) * W_in;
    const float t0 = __fmaf_rn(r0[tw.i0], tw.l0, __fmul_rn(r0[tw.i1], tw.l1));
    const float t1 = __fmaf_rn(r1[tw.i0], tw.l0, __fmul_rn(r1[tw.i1], tw.l1));
    y[i] = __fmaf_rn(t0, th.l0, __fmul_rn(t1, th.l1));
  });
}

// dx[ih, iw] gathers every output pixel whose taps touch it: the output rows whose first tap is
// ih - 1 or ih (a contiguous range, taps being monotone), likewise for columns. Terms are added
// in the CPU scatter's order (output pixels row-major, then its four taps r0c0, r0c1, r1c0,
// r1c1) with the same fused rounding, so dx is the CPU's bitwise, without atomics.
__global__ void bilinear_backward_kernel(int64_t total, int64_t H_in, int64_t W_in, int64_t H_out,
                                         int64_t W_out, float scale_h, float scale_w,
                                         const float* __restrict__ dy, float* __restrict__ dx) {
  for_each_index(total, [&](int64_t i) {
    const int64_t iw = i % W_in, q = i / W_in;
    const int64_t ih = q % H_in, plane = q / H_in;
    const int64_t oh0 = first_tap_at_least(H_in, H_out, scale_h, ih - 1);
    const int64_t oh1 = first_tap_at_least(H_in, H_out, scale_h, ih + 1);
    const int64_t ow0 = first_tap_at_least(W_in, W_out, scale_w, iw - 1);
    const int64_t ow1 = first_tap_at_least(W_in, W_out, scale_w, iw + 1);
    const float* g = dy + plane * H_out * W_out;
    float acc = 0.0f;
    for (int64_t oh = oh0; oh < oh1; ++oh) {
      const Tap th = linear_tap(H_in, H_out, scale_h, oh);
      const bool top = th.i0 == ih, bottom = th.i1 == ih;
      for (int64_t ow = ow0; ow < ow1; ++ow) {
        const Tap tw = linear_tap(W_in, W_out, scale_w, ow);
        const float v = g[oh * W_out + ow];
        const bool left = tw.i0 == iw, right = tw.i1 == iw;
        if (top && left) acc = __fmaf_rn(__fmul_rn(th.l0, tw.l0), v, acc);
        if (top && right) acc = __fmaf_rn(__fmul_rn(th.l0, tw.l1), v, acc);
        if (bottom && left) acc = __fmaf_rn(__fmul_rn(th.l1, tw.l0), v, acc);
        if (bottom && right) acc = __fmaf_rn(__fmul_rn(th.l1, tw.l1), v, acc);
      }
    }
    dx[i] = acc;
  });
}

}  // namespace

void scale_forward(const ElementwiseArgs& a, const float* x, float* y, cudaStream_t stream) {
  if (a.n == 0) return;
  launch(scale_kernel, grid_for(a.n, kThreads), dim3(kThreads), 0, stream, a.n,
         static_cast<float>(a.alpha), x, y);
}

void add_forward(const BroadcastArgs& a, const float* x, const float* y, float* out,
                 cudaStream_t stream) {
  binary<BinaryOp::kAdd>(a.out_shape, a.a_shape, a.b_shape, x, y, out, stream);
}

void add_backward(const BroadcastArgs& a, const float* dout, float* dx, float* dy,
                  cudaStream_t stream) {
  if (dx) reduce_broadcast(a.out_shape, a.a_shape, dout, nullptr, nullptr, dx, stream);
  if (dy) reduce_broadcast(a.out_shape, a.b_shape, dout, nullptr, nullptr, dy, stream);
}

void mul_forward(const BroadcastArgs& a, const float* x, const float* y, float* out,
                 cudaStream_t stream) {
  binary<BinaryOp::kMul>(a.out_shape, a.a_shape, a.b_shape, x, y, out, stream);
}

void mul_backward(const BroadcastArgs& a, const float* x, const float* y, const float* dout,
                  float* dx, float* dy, cudaStream_t stream) {
  if (dx) reduce_broadcast(a.out_shape, a.a_shape, dout, a.b_shape, y, dx, stream);
  if (dy) reduce_broadcast(a.out_shape, a.b_shape, dout, a.a_shape, x, dy, stream);
}

namespace {

void copy_rows(int64_t rows, int64_t len, const float* src, int64_t src_stride, float* dst,
               int64_t dst_stride, cudaStream_t stream) {
  if (rows <= 0 || len <= 0) return;
  const int64_t total = rows * len;
  const dim3 grid = grid_for(total, kThreads);
  if (fits_u32(rows * (src_stride > dst_stride ? src_stride : dst_stride))) {
    launch(copy_rows_kernel<uint32_t>, grid, dim3(kThreads), 0, stream, static_cast<uint32_t>(rows),
           static_cast<uint32_t>(len), src, static_cast<uint32_t>(src_stride), dst,
           static_cast<uint32_t>(dst_stride));
  } else {
    launch(copy_rows_kernel<int64_t>, grid, dim3(kThreads), 0, stream, rows, len, src, src_stride,
           dst, dst_stride);
  }
}

}  // namespace

void slice_copy(const ConcatSliceArgs& a, const float* src, float* dst, cudaStream_t stream) {
  copy_rows(a.outer, a.dim_out * a.inner, src + a.start * a.inner, a.dim_in * a.inner, dst,
            a.dim_out * a.inner, stream);
}

void insert_copy(const ConcatSliceArgs& a, const float* src, float* dst, cudaStream_t stream) {
  copy_rows(a.outer, a.dim_in * a.inner, src, a.dim_in * a.inner, dst + a.start * a.inner,
            a.dim_out * a.inner, stream);
}

void permute_copy(const PermuteArgs& a, const float* src, float* dst, cudaStream_t stream) {
  int64_t total = 1;
  for (int d = 0; d < a.rank; ++d) total *= a.in_shape[d];
  if (total == 0) return;
  const PermutePlan p = plan_permute(a);
  if (p.rank <= 1) {  // the identity once size-1 dims are dropped
    launch(copy_kernel, grid_for(total, kThreads), dim3(kThreads), 0, stream, total, src, dst);
    return;
  }
  const int last = p.rank - 1;
  if (p.stride[0][last] == 1) {
    const dim3 grid = grid_for(total, kThreads);
    if (fits_u32(total)) {
      launch(permute_gather_kernel<uint32_t>, grid, dim3(kThreads), 0, stream, p,
             static_cast<uint32_t>(total), src, dst);
    } else {
      launch(permute_gather_kernel<int64_t>, grid, dim3(kThreads), 0, stream, p, total, src, dst);
    }
    return;
  }
  // src's innermost dim: the output dim with src stride 1 (merging keeps it last in a group).
  int inner = 0;
  while (p.stride[0][inner] != 1) ++inner;
  TransposePlan t;
  for (int k = 0; k < last; ++k) {
    if (k == inner) continue;
    t.outer_size[t.n_outer] = p.size[k];
    t.outer_stride[0][t.n_outer] = p.stride[0][k];
    t.outer_stride[1][t.n_outer] = p.stride[1][k];
    ++t.n_outer;
  }
  if (t.n_outer == 0) {
    t.n_outer = 1;
    t.outer_size[0] = 1;
  }
  t.rows = p.size[inner];
  t.cols = p.size[last];
  t.src_col_stride = p.stride[0][last];
  t.dst_row_stride = p.stride[1][inner];
  const int64_t n_tiles =
      (total / (t.rows * t.cols)) * ((t.rows + kTile - 1) / kTile) * ((t.cols + kTile - 1) / kTile);
  const dim3 grid(static_cast<unsigned>(n_tiles < 65535 ? n_tiles : 65535));
  launch(permute_transpose_kernel, grid, dim3(kTile, kTileRows), 0, stream, t, n_tiles, src, dst);
}

void upsample_nearest_forward(const ResizeArgs& a, const float* x, float* y, cudaStream_t stream) {
  if (a.H_in <= 0 || a.W_in <= 0) return;
  const int64_t total = a.N * a.C * a.H_out * a.W_out;
  if (total == 0) return;
  const int64_t fh = a.H_out / a.H_in, fw = a.W_out / a.W_in;
  const dim3 grid = grid_for(total, kThreads);
  if (fits_u32(total)) {
    using U = uint32_t;
    launch(upsample_nearest_kernel<U>, grid, dim3(kThreads), 0, stream, static_cast<U>(total),
           static_cast<U>(a.H_in), static_cast<U>(a.W_in), static_cast<U>(a.H_out),
           static_cast<U>(a.W_out), static_cast<U>(fh), static_cast<U>(fw), x, y);
  } else {
    launch(upsample_nearest_kernel<int64_t>, grid, dim3(kThreads), 0, stream, total, a.H_in, a.W_in,
           a.H_out, a.W_out, fh, fw, x, y);
  }
}

void upsample_nearest_backward(const ResizeArgs& a, const float* dy, float* dx,
                               cudaStream_t stream) {
  if (!dx || a.H_in <= 0 || a.W_in <= 0) return;
  const int64_t total = a.N * a.C * a.H_in * a.W_in;
  if (total == 0) return;
  const int64_t fh = a.H_out / a.H_in, fw = a.W_out / a.W_in;
  const dim3 grid = grid_for(total, kThreads);
  if (fh == 0 || fw == 0) {  // nothing maps onto dx
    launch(fill_kernel, grid, dim3(kThreads), 0, stream, total, 0.0f, dx);
    return;
  }
  if (fits_u32(a.N * a.C * a.H_out * a.W_out)) {
    using U = uint32_t;
    launch(upsample_nearest_backward_kernel<U>, grid, dim3(kThreads), 0, stream,
           static_cast<U>(total), static_cast<U>(a.H_in), static_cast<U>(a.W_in),
           static_cast<U>(a.W_out), static_cast<U>(fh), static_cast<U>(fw), dy, dx);
  } else {
    launch(upsample_nearest_backward_kernel<int64_t>, grid, dim3(kThreads), 0, stream, total,
           a.H_in, a.W_in, a.W_out, fh, fw, dy, dx);
  }
}

void resize_bilinear_forward(const ResizeArgs& a, const float* x, float* y, cudaStream_t stream) {
  const int64_t total = a.N * a.C * a.H_out * a.W_out;
  if (total == 0) return;
  const float scale_h = static_cast<float>(a.H_in) / static_cast<float>(a.H_out);
  const float scale_w = static_cast<float>(a.W_in) / static_cast<float>(a.W_out);
  launch(bilinear_forward_kernel, grid_for(total, kThreads), dim3(kThreads), 0, stream, total,
         a.H_in, a.W_in, a.H_out, a.W_out, scale_h, scale_w, x, y);
}

void resize_bilinear_backward(const ResizeArgs& a, const float* dy, float* dx,
                              cudaStream_t stream) {
  const int64_t total = a.N * a.C * a.H_in * a.W_in;
  if (!dx || total == 0) return;
  if (a.H_out == 0 || a.W_out == 0) {  // no output pixel: dx is an empty sum
    launch(fill_kernel, grid_for(total, kThreads), dim3(kThreads), 0, stream, total, 0.0f, dx);
    return;
  }
  const float scale_h = static_cast<float>(a.H_in) / static_cast<float>(a.H_out);
  const float scale_w = static_cast<float>(a.W_in) / static_cast<float>(a.W_out);
  launch(bilinear_backward_kernel, grid_for(total, kThreads), dim3(kThreads), 0, stream, total,
         a.H_in, a.W_in, a.H_out, a.W_out, scale_h, scale_w, dy, dx);
}

}  // namespace ldm::kernels::cuda::inline LDM_CUDA_TARGET

#undef LDM_UNROLL
