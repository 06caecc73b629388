// The denoising U-Net on the latent grid: residual blocks with GroupNorm/SiLU that take a
// timestep + label embedding, multi-head self-attention at the low resolutions, stride-2 conv
// downsampling and nearest-neighbour + conv upsampling with skip connections (DDPM style; see
// ../shared/DESIGN.md). It predicts the noise eps in x_t = sqrt(a_bar) x_0 + sqrt(1 - a_bar) eps.
#pragma once
#include <cstdint>
#include <vector>

#include "models/module.h"

namespace ldm::models {

struct UNetConfig {
  int64_t in_channels = 3;  // the VQ-VAE's latent channels
  int64_t base_channels = 64;
  std::vector<int64_t> channel_multipliers = {1, 2};  // one level each; downsample between
  int64_t num_res_blocks = 2;
  std::vector<int64_t> attention_levels = {1};  // levels (0 = full latent size) with attention
  int64_t num_heads = 4;
  int64_t num_classes = 2;  // labels 0..num_classes-1; num_classes itself is the null label
  int64_t groups = 32;
  uint64_t seed = 0;

  int64_t time_embed_dim() const { return 4 * base_channels; }
  int64_t null_label() const { return num_classes; }
};

// GroupNorm -> SiLU -> conv3x3, + Linear(SiLU(emb)) per channel, GroupNorm -> SiLU -> conv3x3,
// plus the input (through a 1x1 "skip" conv when the channel count changes).
class TimeResBlock : public Module {
 public:
  TimeResBlock(int64_t in_channels, int64_t out_channels, int64_t embed_dim, int64_t groups,
               Rng& rng);
  // x [N, C_in, H, W], emb_act = SiLU(embedding) [N, E] -> [N, C_out, H, W].
  Tensor forward(const Tensor& x, const Tensor& emb_act) const;
  GroupNorm* norm1;
  Conv2d* conv1;
  Linear* emb_proj;
  GroupNorm* norm2;
  Conv2d* conv2;
  Conv2d* skip = nullptr;
};

// Multi-head self-attention over the H*W positions, with 1x1 convs for q/k/v and the output
// projection (so the feature map stays NCHW), and a residual connection.
class AttentionBlock : public Module {
 public:
  AttentionBlock(int64_t channels, int64_t heads, int64_t groups, Rng& rng);
  Tensor forward(const Tensor& x) const;
  GroupNorm* norm;
  Conv2d* qkv;
  Conv2d* proj_out;
  int64_t heads;
};

// Nearest-neighbour x2 then conv3x3 (no checkerboard artefacts of a transposed conv).
class Upsample : public Module {
 public:
  Upsample(int64_t channels, Rng& rng);
  Tensor forward(const Tensor& x) const;
  Conv2d* conv;
};

// Names: time_embed.{linear1,linear2}, label_embed (table [num_classes + 1, E]), conv_in,
// down.{level}.block.{j}, down.{level}.attn.{j}, down.{level}.downsample, mid.block1, mid.attn,
// mid.block2, up.{level}.block.{j} (num_res_blocks + 1 of them), up.{level}.attn.{j},
// up.{level}.upsample.conv, norm_out, conv_out. Registered in forward order (up levels deepest
// first).
class UNet : public Module {
 public:
  explicit UNet(const UNetConfig& config);
  // x [N, C, h, w] noisy latents, t [N] f32 timesteps, labels [N] i32 in [0, num_classes]
  // (num_classes = null) -> predicted noise [N, C, h, w].
  Tensor forward(const Tensor& x, const Tensor& t, const Tensor& labels) const;
  const UNetConfig& config() const { return config_; }

 private:
  struct Level {
    std::vector<TimeResBlock*> blocks;
    std::vector<AttentionBlock*> attns;  // empty, or one per block
    Conv2d* downsample = nullptr;        // stride 2, on the way down
    Upsample* upsample = nullptr;        // on the way up
  };
  UNetConfig config_;
  Linear* time_linear1_;
  Linear* time_linear2_;
  Embedding* label_embed_;
  Conv2d* conv_in_;
  std::vector<Level> down_;
  TimeResBlock* mid_block1_;
  AttentionBlock* mid_attn_;
  TimeResBlock* mid_block2_;
  std::vector<Level> up_;  // deepest level first
  GroupNorm* norm_out_;
  Conv2d* conv_out_;
};

}  // namespace ldm::models
