// The latent U-Net: blocks, attention and the level structure (see models/unet.h).
#include "models/unet.h"

#include <array>
#include <cstring>
#include <string>

#include "core/ops.h"

namespace ldm::models {
namespace {

void validate(const UNetConfig& c) {
  if (c.in_channels <= 0 || c.base_channels <= 0) fail("UNet: channel counts must be positive");
  if (c.channel_multipliers.empty()) fail("UNet: channel_multipliers is empty");
  if (c.num_res_blocks < 1) fail("UNet: num_res_blocks must be >= 1");
  if (c.num_classes < 1) fail("UNet: num_classes must be >= 1");
  if (c.num_heads < 1) fail("UNet: num_heads must be >= 1");
  for (int64_t m : c.channel_multipliers) {
    const int64_t ch = c.base_channels * m;
    if (m <= 0 || ch % c.groups != 0)
      fail("UNet: ", ch, " channels are not divisible into ", c.groups, " groups");
    if (ch % c.num_heads != 0)
      fail("UNet: ", ch, " channels are not divisible into ", c.num_heads, " attention heads");
  }
  for (int64_t level : c.attention_levels)
    if (level < 0 || level >= static_cast<int64_t>(c.channel_multipliers.size()))
      fail("UNet: attention level ", level, " does not exist (there are ",
           c.channel_multipliers.size(), " levels)");
}

bool has_attention(const UNetConfig& c, size_t level) {
  for (int64_t l : c.attention_levels)
    if (l == static_cast<int64_t>(level)) return true;
  return false;
}

std::string block_name(const std::string& prefix, const char* kind, size_t j) {
  return prefix + kind + "." + std::to_string(j);
}

}  // namespace

TimeResBlock::TimeResBlock(int64_t in_channels, int64_t out_channels, int64_t embed_dim,
                           int64_t groups, Rng& rng) {
  norm1 = register_module("norm1", std::make_unique<GroupNorm>(groups, in_channels));
  conv1 =
      register_module("conv1", std::make_unique<Conv2d>(in_channels, out_channels, 3, 1, 1, rng));
  emb_proj = register_module("emb_proj", std::make_unique<Linear>(embed_dim, out_channels, rng));
  norm2 = register_module("norm2", std::make_unique<GroupNorm>(groups, out_channels));
  conv2 =
      register_module("conv2", std::make_unique<Conv2d>(out_channels, out_channels, 3, 1, 1, rng));
  if (in_channels != out_channels)
    skip =
        register_module("skip", std::make_unique<Conv2d>(in_channels, out_channels, 1, 1, 0, rng));
}

Tensor TimeResBlock::forward(const Tensor& x, const Tensor& emb_act) const {
  Tensor h = conv1->forward(ops::silu(norm1->forward(x)));
  const int64_t N = h.shape()[0], C = h.shape()[1];
  h = ops::add(h, ops::reshape(emb_proj->forward(emb_act), {N, C, 1, 1}));
  h = conv2->forward(ops::silu(norm2->forward(h)));
  return ops::add(skip ? skip->forward(x) : x, h);
}

AttentionBlock::AttentionBlock(int64_t channels, int64_t heads_, int64_t groups, Rng& rng)
    : heads(heads_) {
  norm = register_module("norm", std::make_unique<GroupNorm>(groups, channels));
  qkv = register_module("qkv", std::make_unique<Conv2d>(channels, 3 * channels, 1, 1, 0, rng));
  proj_out =
      register_module("proj_out", std::make_unique<Conv2d>(channels, channels, 1, 1, 0, rng));
}

Tensor AttentionBlock::forward(const Tensor& x) const {
  const int64_t N = x.shape()[0], C = x.shape()[1], H = x.shape()[2], W = x.shape()[3];
  const int64_t L = H * W, D = C / heads;
  // [N, 3C, H, W] = [N, 3, heads, D, L] -> [3, N, heads, L, D]: q, k, v as attention takes them.
  Tensor qkv_t = ops::permute(ops::reshape(qkv->forward(norm->forward(x)), {N, 3, heads, D, L}),
                              {1, 0, 2, 4, 3});
  std::array<Tensor, 3> qkv_parts;
  for (int64_t i = 0; i < 3; ++i)
    qkv_parts[i] = ops::reshape(ops::slice(qkv_t, 0, i, i + 1), {N, heads, L, D});
  Tensor out = ops::attention(qkv_parts[0], qkv_parts[1], qkv_parts[2]);  // [N, heads, L, D]
  out = ops::reshape(ops::permute(out, {0, 1, 3, 2}), {N, C, H, W});
  return ops::add(x, proj_out->forward(out));
}

Upsample::Upsample(int64_t channels, Rng& rng) {
  conv = register_module("conv", std::make_unique<Conv2d>(channels, channels, 3, 1, 1, rng));
}

Tensor Upsample::forward(const Tensor& x) const {
  return conv->forward(ops::upsample_nearest(x, 2));
}

UNet::UNet(const UNetConfig& config) : config_(config) {
  validate(config_);
  const UNetConfig& c = config_;
  const int64_t E = c.time_embed_dim();
  Rng embed_rng{c.seed, rng_stream_for("unet.embed"), 0};
  Rng down_rng{c.seed, rng_stream_for("unet.down"), 0};
  Rng mid_rng{c.seed, rng_stream_for("unet.mid"), 0};
  Rng up_rng{c.seed, rng_stream_for("unet.up"), 0};

  time_linear1_ = register_module("time_embed.linear1",
                                  std::make_unique<Linear>(c.base_channels, E, embed_rng));
  time_linear2_ = register_module("time_embed.linear2", std::make_unique<Linear>(E, E, embed_rng));
  label_embed_ = register_module("label_embed",
                                 std::make_unique<Embedding>(c.num_classes + 1, E, embed_rng));

  const size_t n_levels = c.channel_multipliers.size();
  int64_t ch = c.base_channels * c.channel_multipliers[0];
  conv_in_ = register_module("conv_in",
                             std::make_unique<Conv2d>(c.in_channels, ch, 3, 1, 1, down_rng));
  std::vector<int64_t> skip_channels{ch};  // what each down step leaves for the up path
  for (size_t i = 0; i < n_levels; ++i) {
    const std::string prefix = "down." + std::to_string(i) + ".";
    const int64_t out = c.base_channels * c.channel_multipliers[i];
    Level level;
    for (size_t j = 0; j < static_cast<size_t>(c.num_res_blocks); ++j) {
      level.blocks.push_back(register_module(
          block_name(prefix, "block", j),
          std::make_unique<TimeResBlock>(ch, out, E, c.groups, down_rng)));
      ch = out;
      if (has_attention(c, i))
        level.attns.push_back(register_module(
            block_name(prefix, "attn", j),
            std::make_unique<AttentionBlock>(ch, c.num_heads, c.groups, down_rng)));
      skip_channels.push_back(ch);
    }
    if (i + 1 < n_levels) {
      level.downsample = register_module(prefix + "downsample",
                                         std::make_unique<Conv2d>(ch, ch, 3, 2, 1, down_rng));
      skip_channels.push_back(ch);
    }
    down_.push_back(level);
  }

  mid_block1_ = register_module("mid.block1",
                                std::make_unique<TimeResBlock>(ch, ch, E, c.groups, mid_rng));
  mid_attn_ = register_module("mid.attn",
                              std::make_unique<AttentionBlock>(ch, c.num_heads, c.groups, mid_rng));
  mid_block2_ = register_module("mid.block2",
                                std::make_unique<TimeResBlock>(ch, ch, E, c.groups, mid_rng));

  for (size_t k = 0; k < n_levels; ++k) {
    const size_t i = n_levels - 1 - k;
    const std::string prefix = "up." + std::to_string(i) + ".";
    const int64_t out = c.base_channels * c.channel_multipliers[i];
    Level level;
    for (size_t j = 0; j <= static_cast<size_t>(c.num_res_blocks); ++j) {
      const int64_t in = ch + skip_channels.back();
      skip_channels.pop_back();
      level.blocks.push_back(register_module(
          block_name(prefix, "block", j),
          std::make_unique<TimeResBlock>(in, out, E, c.groups, up_rng)));
      ch = out;
      if (has_attention(c, i))
        level.attns.push_back(register_module(
            block_name(prefix, "attn", j),
            std::make_unique<AttentionBlock>(ch, c.num_heads, c.groups, up_rng)));
    }
    if (i > 0)
      level.upsample =
          register_module(prefix + "upsample", std::make_unique<Upsample>(ch, up_rng));
    up_.push_back(level);
  }
  LDM_CHECK(skip_channels.empty(), "UNet: every skip connection is consumed");

  norm_out_ = register_module("norm_out", std::make_unique<GroupNorm>(c.groups, ch));
  conv_out_ = register_module("conv_out",
                              std::make_unique<Conv2d>(ch, c.in_channels, 3, 1, 1, up_rng));
  // A zero output layer makes the untrained model predict eps = 0, the mean of the target, so
  // early training is not spent unlearning a random output (as in the DDPM reference code).
  for (const Tensor& t : {conv_out_->weight, conv_out_->bias})
    std::memset(t.raw_data(), 0, t.nbytes());  // models are built on the CPU
}

Tensor UNet::forward(const Tensor& x, const Tensor& t, const Tensor& labels) const {
  const UNetConfig& c = config_;
  if (x.rank() != 4 || x.shape()[1] != c.in_channels)
    fail("UNet: expected latents [N, ", c.in_channels, ", h, w], got ", x.description());
  const int64_t N = x.shape()[0];
  const int64_t factor = int64_t{1} << (c.channel_multipliers.size() - 1);
  if (x.shape()[2] % factor != 0 || x.shape()[3] % factor != 0)
    fail("UNet: latent size ", x.shape()[2], "x", x.shape()[3], " is not divisible by ", factor,
         " (", c.channel_multipliers.size(), " levels)");
  if (t.rank() != 1 || t.shape()[0] != N || labels.rank() != 1 || labels.shape()[0] != N)
    fail("UNet: timesteps ", t.description(), " and labels ", labels.description(),
         " must both be [", N, "]");

  Tensor emb = time_linear2_->forward(
      ops::silu(time_linear1_->forward(ops::timestep_embedding(t, c.base_channels))));
  emb = ops::add(emb, label_embed_->forward(labels));
  const Tensor emb_act = ops::silu(emb);  // every block applies SiLU first: do it once

  Tensor h = conv_in_->forward(x);
  std::vector<Tensor> skips{h};
  for (const Level& level : down_) {
    for (size_t j = 0; j < level.blocks.size(); ++j) {
      h = level.blocks[j]->forward(h, emb_act);
      if (!level.attns.empty()) h = level.attns[j]->forward(h);
      skips.push_back(h);
    }
    if (level.downsample) {
      h = level.downsample->forward(h);
      skips.push_back(h);
    }
  }

  h = mid_block2_->forward(mid_attn_->forward(mid_block1_->forward(h, emb_act)), emb_act);

  for (const Level& level : up_) {
    for (size_t j = 0; j < level.blocks.size(); ++j) {
      const std::array<Tensor, 2> parts{h, skips.back()};
      skips.pop_back();
      h = level.blocks[j]->forward(ops::concat(parts, 1), emb_act);
      if (!level.attns.empty()) h = level.attns[j]->forward(h);
    }
    if (level.upsample) h = level.upsample->forward(h);
  }
  return conv_out_->forward(ops::silu(norm_out_->forward(h)));
}

}  // namespace ldm::models
