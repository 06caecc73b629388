// Vector quantization: nearest-codebook search with a straight-through gradient and the
// VQ-VAE codebook + commitment loss.
#pragma once

#include "core/tensor.h"

namespace ldm::ops {

struct Quantized {
  Tensor z_q;      // [N, D, H, W]: the chosen codes; its gradient passes straight to z_e
  Tensor indices;  // [N, H, W] i32: argmin_k ||z - c_k||^2, ties to the lowest k (no gradient)
  Tensor loss;     // []: (1 + beta) * mean((z_q - z_e)^2), i.e. codebook + beta * commitment
};

// z_e [N, D, H, W], codebook [K, D].
Quantized vector_quantize(const Tensor& z_e, const Tensor& codebook, double beta = 0.25);

}  // namespace ldm::ops
