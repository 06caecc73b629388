// The VQ-VAE as the diffusion stage uses it, batched and without autograd: encoding a dataset
// to latents, decoding sampled latents to images, and the reconstruction figures (MSE, PSNR,
// codebook usage) reported after each epoch and on the test split.
#pragma once
#include <cstdint>

#include "core/tensor.h"
#include "models/vqvae.h"

namespace ldm::tools {

inline constexpr int64_t kEvalBatch = 256;

// images [N, 1, H, W] -> z_e [N, latent_channels, h, w] (before quantization: the diffusion
// model learns the encoder's continuous output, and decoding quantizes, as in LDM).
Tensor encode_latents(const models::VqVae& vqvae, const Tensor& images);
// z [N, C, h, w] -> images [N, 1, H, W] in (-1, 1), through the codebook.
Tensor decode_latents(const models::VqVae& vqvae, const Tensor& z);

struct ReconstructionStats {
  double mse = 0;      // mean squared error in [-1, 1] space over every pixel
  double psnr_db = 0;  // 10 log10(range^2 / mse) with range 2, the span of [-1, 1]
  models::CodebookUsage usage;
  int64_t images = 0;
};
ReconstructionStats evaluate_reconstruction(const models::VqVae& vqvae, const Tensor& images);

// x[begin:end] along dim 0 (a copy).
Tensor rows(const Tensor& x, int64_t begin, int64_t end);

}  // namespace ldm::tools
