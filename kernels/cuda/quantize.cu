// CUDA vector quantization (see quantize.h and kernels/cpu/quantize.h).
//
// Search: one thread per pixel; each block streams the codebook through shared memory in tiles
// of codes (-2 * c and ||c||^2 per code, computed once per tile), and every thread scans the
// tile for its pixel with a strict `<`, codes in increasing order, so ties go to the lowest
// index. The distances round exactly as the CPU kernel's do in the default build (GCC
// -march=native contracts its loops into FMAs): ||c||^2 = fma(c2, c2, fma(c1, c1, c0 * c0)),
// z . (-2c) = fma(z2, -2c2, fma(z1, -2c1, z0 * -2c0)), dist = ||c||^2 + that, all with explicit
// __fmul_rn / __fmaf_rn / __fadd_rn, so nvcc contracts nothing else and the indices agree with
// the CPU's bit for bit, near-ties included. (That CPU rounding is GCC's choice, not its
// source's: a build without FMAs, or its D >= 5 norms loop, which vectorizes without them,
// rounds differently, and only pixels within an ulp of a tie can then disagree.) The model's
// D = 3 keeps z in registers and reads one 16-byte code per step; any other D takes a generic
// path (z from global memory, L1-resident).
//
// Loss: one block sums (z_q - z_e)^2 in double in a fixed order (a strided share per thread,
// then a warp butterfly and the warps in order), from z_q or the indices the search wrote; with
// neither requested it searches again itself (slow: one block; the models always take indices).
//
// Backward: dz_e is elementwise. dcodebook has one thread per code, which scans every pixel's
// index in pixel order (through shared-memory tiles, a broadcast read) and adds z_q - z_e of its
// own pixels into its own row: deterministic without atomics and bitwise the CPU's serial
// scatter. Cost K * N * HW index compares (16.8M at the model's K = 4096 and 64 x 8 x 8 pixels,
// ~20 us on a GPU), against a sort or a scratch buffer the caller does not provide.
#include <cstddef>

#include "kernels/cuda/grid.h"
#include "kernels/cuda/launch.h"
#include "kernels/cuda/quantize.h"

namespace ldm::kernels::cuda::inline LDM_CUDA_TARGET {
namespace {

constexpr int kSearchThreads = 128;
constexpr int kLossThreads = 256;
constexpr int kTileCodes = 512;
// Shared memory for one tile on the generic path; large D gets fewer codes a tile.
constexpr int kGenericTileFloats = 4096;
constexpr int kCodebookThreads = 128;
constexpr int kIndexTile = 1024;
constexpr int kElementwiseThreads = 256;

// One D = 3 code in shared memory: -2 * c and ||c||^2, one 16-byte load per scan step.
struct alignas(16) Code3 {
  float m0, m1, m2, norm;
};

// Codes per shared-memory tile for D, and the bytes the tile takes (a multiple of 16, so that
// what follows it stays aligned for doubles).
int tile_codes_for(int D) {
  if (D == 3) return kTileCodes;
  const int fit = kGenericTileFloats / (D + 1);
  return fit < 1 ? 1 : (fit > kTileCodes ? kTileCodes : fit);
}

std::size_t tile_bytes_for(int D, int tile_codes) {
  const std::size_t bytes = D == 3 ? tile_codes * sizeof(Code3)
                                   : static_cast<std::size_t>(tile_codes) * (D + 1) * sizeof(float);
  return (bytes + 15) / 16 * 16;
}

// argmin_k dist_k for the pixel whose z_e values are z[d * HW] (when `valid`; every thread of
// the block must call this, since it synchronizes). K > 0. A pixel whose distances are all NaN
// or +inf never passes `<` and gets code 0, as on the CPU.
template <int kD>
__device__ int32_t nearest_code(int D, int K, int tile_codes, int64_t HW,
                                const float* __restrict__ codebook, const float* __restrict__ z,
                                bool valid, unsigned char* smem) {
  const int tid = threadIdx.x, T = blockDim.x;
  float best = __int_as_float(0x7f800000);  // +inf
  int32_t best_k = -1;
  if constexpr (kD == 3) {
    Code3* tile = reinterpret_cast<Code3*>(smem);
    float z0 = 0.0f, z1 = 0.0f, z2 = 0.0f;
    if (valid) {
      z0 = z[0];
      z1 = z[HW];
      z2 = z[2 * HW];
    }
    for (int k0 = 0; k0 < K; k0 += tile_codes) {
      const int n_codes = K - k0 < tile_codes ? K - k0 : tile_codes;
      __syncthreads();  // the previous tile has been scanned
      for (int j = tid; j < n_codes; j += T) {
        const float* c = codebook + static_cast<int64_t>(k0 + j) * 3;
        const float c0 = c[0], c1 = c[1], c2 = c[2];
        tile[j] = {__fmul_rn(-2.0f, c0), __fmul_rn(-2.0f, c1), __fmul_rn(-2.0f, c2),
                   __fmaf_rn(c2, c2, __fmaf_rn(c1, c1, __fmul_rn(c0, c0)))};
      }
      __syncthreads();
      if (valid) {
        for (int j = 0; j < n_codes; ++j) {
          const Code3 t = tile[j];
          const float dot = __fmaf_rn(z2, t.m2, __fmaf_rn(z1, t.m1, __fmul_rn(z0, t.m0)));
          const float dist = __fadd_rn(t.norm, dot);
          if (dist < best) {
            best = dist;
            best_k = k0 + j;
          }
        }
      }
    }
  } else {
    float* m2c = reinterpret_cast<float*>(smem);  // [tile_codes, D]
    float* norms = m2c + tile_codes * D;          // [tile_codes]
    for (int k0 = 0; k0 < K; k0 += tile_codes) {
      const int n_codes = K - k0 < tile_codes ? K - k0 : tile_codes;
      __syncthreads();
      // Each code's D values are contiguous, so a warp's loads cover one contiguous range.
      for (int j = tid; j < n_codes; j += T) {
        const float* c = codebook + static_cast<int64_t>(k0 + j) * D;
        float s = 0.0f;
        for (int d = 0; d < D; ++d) {
          const float v = c[d];
          s = __fmaf_rn(v, v, s);  // fma(c0, c0, 0) is c0 * c0 rounded, as the CPU's first term
          m2c[j * D + d] = __fmul_rn(-2.0f, v);
        }
        norms[j] = s;
      }
      __syncthreads();
      if (valid) {
        for (int j = 0; j < n_codes; ++j) {
          const float* m = m2c + j * D;
          float dot = D > 0 ? __fmul_rn(z[0], m[0]) : 0.0f;
          for (int d = 1; d < D; ++d) dot = __fmaf_rn(z[d * HW], m[d], dot);
          const float dist = __fadd_rn(norms[j], dot);
          if (dist < best) {
            best = dist;
            best_k = k0 + j;
          }
        }
      }
    }
  }
  return best_k < 0 ? 0 : best_k;
}

// One pixel per thread: indices and z_q (either may be null).
template <int kD>
__global__ void vq_search_kernel(int64_t P, int D, int64_t HW, int K, int tile_codes,
                                 const float* __restrict__ z_e, const float* __restrict__ codebook,
                                 float* __restrict__ z_q, int32_t* __restrict__ indices) {
  LDM_DYNAMIC_SHARED(unsigned char, smem);
  const int64_t p = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const bool valid = p < P;
  const int64_t n = valid ? p / HW : 0, hw = valid ? p - n * HW : 0;
  const int64_t base = n * D * HW + hw;  // pixel p's element d is at base + d * HW
  const int32_t k = nearest_code<kD>(D, K, tile_codes, HW, codebook, z_e + base, valid, smem);
  if (!valid) return;
  if (indices) indices[p] = k;
  if (z_q) {
    for (int d = 0; d < D; ++d) z_q[base + d * HW] = codebook[static_cast<int64_t>(k) * D + d];
  }
}

// One block: loss = scale * sum_p sum_d (z_q - z_e)^2, z_q from z_q, else from the indices,
// else searched here. Dynamic shared memory: the search tile (`reduce_offset` bytes, 0 when
// not searching), then kLossThreads / 32 doubles for the reduction.
template <int kD>
__global__ void vq_loss_kernel(int64_t P, int D, int64_t HW, int K, int tile_codes,
                               std::size_t reduce_offset, double scale,
                               const float* __restrict__ z_e, const float* __restrict__ codebook,
                               const float* __restrict__ z_q, const int32_t* __restrict__ indices,
                               float* __restrict__ loss) {
  LDM_DYNAMIC_SHARED(unsigned char, smem);
  double* warp_sums = reinterpret_cast<double*>(smem + reduce_offset);
  const int tid = threadIdx.x, T = blockDim.x;
  const bool search = !z_q && !indices;
  double err = 0.0;
  // The same trip count for every thread: the search inside synchronizes the block.
  for (int64_t p0 = 0; p0 < P; p0 += T) {
    const int64_t p = p0 + tid;
    const bool valid = p < P;
    const int64_t n = valid ? p / HW : 0, hw = valid ? p - n * HW : 0;
    const int64_t base = n * D * HW + hw;
    int32_t k = 0;
    if (search) {
      k = nearest_code<kD>(D, K, tile_codes, HW, codebook, z_e + base, valid, smem);
    } else if (!z_q && valid) {
      k = indices[p];
    }
    if (valid) {
      for (int d = 0; d < D; ++d) {
        const float q = z_q ? z_q[base + d * HW] : codebook[static_cast<int64_t>(k) * D + d];
        const double diff = __fsub_rn(q, z_e[base + d * HW]);  // rounded in float, as the CPU's
        err += diff * diff;
      }
    }
  }
  for (int m = 16; m >= 1; m >>= 1) err += __shfl_xor_sync(0xffffffffu, err, m);
  if (tid % 32 == 0) warp_sums[tid / 32] = err;
  __syncthreads();
  if (tid == 0) {
    double total = 0.0;
    for (int w = 0; w < T / 32; ++w) total += warp_sums[w];
    *loss = static_cast<float>(total * scale);
  }
}

// dz_e = dz_q + coef * (z_e - z_q) with coef = dloss * 2 beta / M (two_beta_over_m), as the
// CPU's `g + coef * diff`, which GCC contracts into one FMA.
__global__ void vq_dz_e_kernel(int64_t n_elems, int D, int64_t HW, float two_beta_over_m,
                               const float* __restrict__ dloss, const float* __restrict__ z_e,
                               const float* __restrict__ codebook,
                               const int32_t* __restrict__ indices, const float* __restrict__ dz_q,
                               float* __restrict__ dz_e) {
  const float coef = __fmul_rn(*dloss, two_beta_over_m);
  const int64_t DHW = D * HW;
  for_each_index(n_elems, [&](int64_t i) {
    const int64_t n = i / DHW, r = i - n * DHW;
    const int64_t d = r / HW, hw = r - d * HW;
    const int64_t k = indices[n * HW + hw];
    const float diff = __fsub_rn(z_e[i], codebook[k * D + d]);
    dz_e[i] = dz_q ? __fmaf_rn(coef, diff, dz_q[i]) : __fmul_rn(coef, diff);
  });
}

// One thread per code k owns dcodebook[k, :]: it scans all P indices in pixel order and adds
// codebook[k] - z_e of each pixel that chose k, then scales by dloss * 2 / M. The same float
// additions in the same order as the CPU's serial scatter, so bitwise its result.
__global__ void vq_dcodebook_kernel(int64_t P, int D, int64_t HW, int K, float two_over_m,
                                    const float* __restrict__ dloss, const float* __restrict__ z_e,
                                    const float* __restrict__ codebook,
                                    const int32_t* __restrict__ indices,
                                    float* __restrict__ dcodebook) {
  __shared__ int32_t tile[kIndexTile];
  const int k = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  const bool owner = k < K;
  float* row = dcodebook + static_cast<int64_t>(owner ? k : 0) * D;
  const float* c = codebook + static_cast<int64_t>(owner ? k : 0) * D;
  if (owner) {
    for (int d = 0; d < D; ++d) row[d] = 0.0f;
  }
  for (int64_t p0 = 0; p0 < P; p0 += kIndexTile) {
    const int n_pix = P - p0 < kIndexTile ? static_cast<int>(P - p0) : kIndexTile;
    __syncthreads();  // the previous tile has been scanned
    for (int j = threadIdx.x; j < n_pix; j += blockDim.x) tile[j] = indices[p0 + j];
    __syncthreads();
    if (owner) {
      for (int j = 0; j < n_pix; ++j) {
        if (tile[j] != k) continue;
        const int64_t p = p0 + j, n = p / HW, hw = p - n * HW;
        const float* z = z_e + n * D * HW + hw;
        for (int d = 0; d < D; ++d) row[d] = __fadd_rn(row[d], __fsub_rn(c[d], z[d * HW]));
      }
    }
  }
  if (owner) {
    const float coef = __fmul_rn(*dloss, two_over_m);
    for (int d = 0; d < D; ++d) row[d] = __fmul_rn(row[d], coef);
  }
}

template <int kD>
void forward(const VectorQuantizeArgs& a, const float* z_e, const float* codebook, float* z_q,
             int32_t* indices, float* loss, cudaStream_t stream) {
  const int64_t P = a.N * a.HW;
  const int D = static_cast<int>(a.D), K = static_cast<int>(a.K);
  const int tile_codes = tile_codes_for(D);
  const std::size_t tile_bytes = tile_bytes_for(D, tile_codes);
  if (z_q || indices) {
    launch(vq_search_kernel<kD>, grid_for(P, kSearchThreads, P), dim3(kSearchThreads), tile_bytes,
           stream, P, D, a.HW, K, tile_codes, z_e, codebook, z_q, indices);
  }
  if (loss) {
    const std::size_t reduce_offset = z_q || indices ? 0 : tile_bytes;
    const double M = static_cast<double>(P * a.D);
    launch(vq_loss_kernel<kD>, dim3(1), dim3(kLossThreads),
           reduce_offset + kLossThreads / 32 * sizeof(double), stream, P, D, a.HW, K, tile_codes,
           reduce_offset, (1.0 + a.beta) / M, z_e, codebook, static_cast<const float*>(z_q),
           static_cast<const int32_t*>(indices), loss);
  }
}

}  // namespace

void vector_quantize_forward(const VectorQuantizeArgs& a, const float* z_e, const float* codebook,
                             float* z_q, int32_t* indices, float* loss, cudaStream_t stream) {
  if (a.N * a.HW * a.D == 0 || a.K == 0) return;
  if (a.D == 3) {
    forward<3>(a, z_e, codebook, z_q, indices, loss, stream);
  } else {
    forward<0>(a, z_e, codebook, z_q, indices, loss, stream);
  }
}

void vector_quantize_backward(const VectorQuantizeArgs& a, const float* z_e, const float* codebook,
                              const int32_t* indices, const float* dz_q, const float* dloss,
                              float* dz_e, float* dcodebook, cudaStream_t stream) {
  const int64_t P = a.N * a.HW, n_elems = P * a.D;
  if (n_elems == 0 || a.K == 0) return;
  const double M = static_cast<double>(n_elems);
  const int D = static_cast<int>(a.D), K = static_cast<int>(a.K);
  if (dz_e) {
    launch(vq_dz_e_kernel, grid_for(n_elems, kElementwiseThreads), dim3(kElementwiseThreads), 0,
           stream, n_elems, D, a.HW, static_cast<float>(2 * a.beta / M), dloss, z_e, codebook,
           indices, dz_q, dz_e);
  }
  if (dcodebook) {
    launch(vq_dcodebook_kernel,
           dim3(static_cast<unsigned>((K + kCodebookThreads - 1) / kCodebookThreads)),
           dim3(kCodebookThreads), 0, stream, P, D, a.HW, K, static_cast<float>(2 / M), dloss, z_e,
           codebook, indices, dcodebook);
  }
}

}  // namespace ldm::kernels::cuda::inline LDM_CUDA_TARGET
