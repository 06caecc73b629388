// The VQ-VAE that maps images to a small quantized latent grid for the diffusion model: a conv
// encoder with residual blocks and stride-2 downsampling, a codebook, and a mirrored decoder
// with transposed-conv upsampling and a tanh-bounded output (see ../shared/DESIGN.md).
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "core/ops/quantize.h"
#include "models/module.h"

namespace ldm::models {

enum class CodebookMode {
  kFrozen,   // drawn uniform in [-1, 1] once and never trained (a buffer, not a parameter)
  kLearned,  // a parameter trained through the codebook loss
};

struct VqVaeConfig {
  int64_t in_channels = 1;
  int64_t base_channels = 32;
  std::vector<int64_t> channel_multipliers = {1, 2, 4};  // one level each; downsample between
  int64_t num_res_blocks = 1;
  int64_t latent_channels = 3;
  int64_t codebook_size = 4096;
  CodebookMode codebook_mode = CodebookMode::kFrozen;
  double beta = 0.25;
  int64_t groups = 8;
  uint64_t seed = 0;
};

// Names: conv_in, down.{level}.block.{j}, down.{level}.downsample, norm_out, conv_out.
class Encoder : public Module {
 public:
  Encoder(const VqVaeConfig& config, Rng& rng);
  Tensor forward(const Tensor& x) const;

 private:
  struct Level {
    std::vector<ResBlock*> blocks;
    Conv2d* downsample = nullptr;
  };
  Conv2d* conv_in_;
  std::vector<Level> levels_;
  GroupNorm* norm_out_;
  Conv2d* conv_out_;
};

// Names: conv_in, up.{level}.block.{j}, up.{level}.upsample, norm_out, conv_out. Forward runs
// from the deepest level to level 0, mirroring the encoder; parameters() lists levels 0 first.
class Decoder : public Module {
 public:
  Decoder(const VqVaeConfig& config, Rng& rng);
  Tensor forward(const Tensor& z) const;

 private:
  struct Level {
    std::vector<ResBlock*> blocks;
    ConvTranspose2d* upsample = nullptr;
  };
  Conv2d* conv_in_;
  std::vector<Level> levels_;  // in forward order (deepest first)
  GroupNorm* norm_out_;
  Conv2d* conv_out_;
};

struct VqVaeOutput {
  Tensor x_hat;    // [N, C, H, W] in (-1, 1)
  Tensor vq_loss;  // []: codebook + beta * commitment
  Tensor indices;  // [N, h, w] i32
};

class VqVae : public Module {
 public:
  explicit VqVae(const VqVaeConfig& config);
  Tensor encode(const Tensor& x) const;
  ops::Quantized quantize(const Tensor& z_e) const;
  Tensor decode(const Tensor& z_q) const;
  VqVaeOutput forward(const Tensor& x) const;

  const VqVaeConfig& config() const { return config_; }
  const Tensor& codebook() const { return codebook_; }
  Encoder* encoder;
  Decoder* decoder;

 private:
  VqVaeConfig config_;
  Tensor codebook_;  // [K, latent_channels], named "codebook"
};

// Learned codebooks lose codes that no encoder output comes near; those never get a gradient
// again. Every `every` steps, each code unused since the previous restart is moved onto an
// encoder output of the current batch, picked by an Rng keyed by the step, so that a run
// resumed from a checkpoint (which stores the usage counts, see state()) makes the same moves.
class DeadCodeRestarter {
 public:
  DeadCodeRestarter(int64_t codebook_size, int64_t every);
  // After a training step: z_e [B, D, h, w] and indices [B, h, w] of its batch, the step count
  // (from 1). Returns how many codes were restarted (0 unless step is a multiple of every).
  int64_t observe(VqVae& vqvae, const Tensor& z_e, const Tensor& indices, uint64_t seed,
                  int64_t step);
  // The usage counts since the last restart, [K] i32, for checkpoints.
  Tensor state() const;
  void load_state(const Tensor& counts);

 private:
  std::vector<int32_t> counts_;
  int64_t every_;
};

struct CodebookUsage {
  double fraction_used = 0.0;  // distinct codes seen / K
  double perplexity = 0.0;     // exp(entropy of the code histogram): K for uniform use, 1 for one
};
// From indices (i32, any shape) of a codebook with K codes.
CodebookUsage codebook_usage(const Tensor& indices, int64_t codebook_size);

}  // namespace ldm::models
