// CUDA vector quantization (as kernels/cpu/quantize.h): the nearest-codebook search streams the
// codebook through shared memory in tiles, each thread keeping its pixel's best (distance,
// index) with a strict `<`, so ties go to the lowest index, deterministically. Device pointers;
// launches go on `stream`.
#pragma once

#include <cstdint>

#include "kernels/args.h"
#include "kernels/cuda/dialect.h"

namespace ldm::kernels::cuda::inline LDM_CUDA_TARGET {

// z_e [N, D, HW], codebook [K, D] -> indices [N * HW], z_q [N, D, HW] = codebook[indices] and
// the scalar loss = (1 + beta) * sum((z_q - z_e)^2) / (N * D * HW), with the distances,
// tie-breaking and NaN handling of kernels/cpu/quantize.h. Any of z_q, indices, loss may be
// nullptr.
void vector_quantize_forward(const VectorQuantizeArgs& a, const float* z_e, const float* codebook,
                             float* z_q, int32_t* indices, float* loss, cudaStream_t stream);

// As kernels/cpu/quantize.h, except that dloss is a device pointer to the one upstream
// gradient of the loss. dz_q may be nullptr (zero); either output may be nullptr.
void vector_quantize_backward(const VectorQuantizeArgs& a, const float* z_e,
                              const float* codebook, const int32_t* indices, const float* dz_q,
                              const float* dloss, float* dz_e, float* dcodebook,
                              cudaStream_t stream);

}  // namespace ldm::kernels::cuda::inline LDM_CUDA_TARGET
