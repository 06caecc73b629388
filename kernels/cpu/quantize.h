// CPU vector quantization: nearest-codebook search for the VQ-VAE bottleneck, its
// straight-through / commitment / codebook gradients, and codebook usage counts.
#pragma once

#include <cstdint>

#include "kernels/args.h"

namespace ldm::kernels::cpu {

// z_e [N, D, HW] (one D-vector per pixel, strided by HW), codebook [K, D] ->
// indices [N * HW] (pixel p = n * HW + hw), z_q [N, D, HW] = codebook[indices] and the scalar
// loss = (1 + beta) * sum((z_q - z_e)^2) / (N * D * HW). Each pixel takes
// argmin_k dist_k with dist_k = ||c_k||^2 - 2 * (z . c_k) (||z||^2 dropped: constant per
// pixel), dot summed over d in order; the comparison is `<`, so ties, judged on these computed
// distances (near-ties included), go to the lowest k. A pixel whose distances are all NaN/+inf
// gets code 0. Any of z_q, indices, loss may be nullptr.
template <typename T>
void vector_quantize_forward(const VectorQuantizeArgs& a, const T* z_e, const T* codebook,
                             T* z_q, int32_t* indices, T* loss);

// z_e [N, D, HW], codebook [K, D], indices [N * HW] from the forward, dz_q [N, D, HW] (upstream
// grad of the straight-through output; nullptr means zero), dloss (upstream grad of the loss) ->
//   dz_e [N, D, HW]  = dz_q + dloss * beta * 2 * (z_e - z_q) / M   (straight-through + commitment)
//   dcodebook [K, D] = dloss * 2 * sum_{p -> k} (z_q - z_e) / M     (codebook term only)
// with M = N * D * HW. These follow the stop-gradients of args.h's loss, so the loss parts are
// beta / (1 + beta) (dz_e) and 1 / (1 + beta) (dcodebook) of d(loss value) / d(input). Either
// output may be nullptr; both are overwritten.
template <typename T>
void vector_quantize_backward(const VectorQuantizeArgs& a, const T* z_e, const T* codebook,
                              const int32_t* indices, const T* dz_q, T dloss, T* dz_e,
                              T* dcodebook);

// counts [K] = how many of indices [n_indices] pick each code; indices outside [0, K) are not
// counted.
void codebook_usage(int64_t n_indices, const int32_t* indices, int64_t K, int64_t* counts);

}  // namespace ldm::kernels::cpu
