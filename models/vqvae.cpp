// VQ-VAE encoder, decoder and quantizer, built from the layers in models/module.h.
#include "models/vqvae.h"

#include <cmath>
#include <string>

#include "core/ops.h"

namespace ldm::models {
namespace {

void validate(const VqVaeConfig& c) {
  if (c.in_channels <= 0 || c.base_channels <= 0 || c.latent_channels <= 0)
    fail("VqVae: channel counts must be positive");
  if (c.channel_multipliers.empty()) fail("VqVae: channel_multipliers is empty");
  if (c.num_res_blocks < 0) fail("VqVae: num_res_blocks must be >= 0");
  if (c.codebook_size <= 0) fail("VqVae: codebook_size must be positive");
  for (int64_t m : c.channel_multipliers)
    if (m <= 0 || (c.base_channels * m) % c.groups != 0)
      fail("VqVae: ", c.base_channels * m, " channels are not divisible into ", c.groups,
           " groups");
}

}  // namespace

Encoder::Encoder(const VqVaeConfig& c, Rng& rng) {
  int64_t ch = c.base_channels * c.channel_multipliers[0];
  conv_in_ = register_module("conv_in", std::make_unique<Conv2d>(c.in_channels, ch, 3, 1, 1, rng));
  const size_t n_levels = c.channel_multipliers.size();
  for (size_t i = 0; i < n_levels; ++i) {
    const std::string prefix = "down." + std::to_string(i) + ".";
    const int64_t out = c.base_channels * c.channel_multipliers[i];
    Level level;
    for (int64_t j = 0; j < c.num_res_blocks; ++j) {
      level.blocks.push_back(register_module(prefix + "block." + std::to_string(j),
                                             std::make_unique<ResBlock>(ch, out, c.groups, rng)));
      ch = out;
    }
    if (i + 1 < n_levels)
      level.downsample =
          register_module(prefix + "downsample", std::make_unique<Conv2d>(ch, ch, 4, 2, 1, rng));
    levels_.push_back(level);
  }
  norm_out_ = register_module("norm_out", std::make_unique<GroupNorm>(c.groups, ch));
  conv_out_ =
      register_module("conv_out", std::make_unique<Conv2d>(ch, c.latent_channels, 1, 1, 0, rng));
}

Tensor Encoder::forward(const Tensor& x) const {
  Tensor h = conv_in_->forward(x);
  for (const Level& level : levels_) {
    for (const ResBlock* block : level.blocks) h = block->forward(h);
    if (level.downsample) h = level.downsample->forward(h);
  }
  return conv_out_->forward(ops::silu(norm_out_->forward(h)));
}

Decoder::Decoder(const VqVaeConfig& c, Rng& rng) {
  const size_t n_levels = c.channel_multipliers.size();
  int64_t ch = c.base_channels * c.channel_multipliers.back();
  conv_in_ =
      register_module("conv_in", std::make_unique<Conv2d>(c.latent_channels, ch, 3, 1, 1, rng));
  // Built deepest level first (that is where the channel counts flow from), but registered in
  // level order so that parameters() lists them as torch's named_parameters() would.
  std::vector<std::vector<std::unique_ptr<ResBlock>>> blocks(n_levels);
  std::vector<std::unique_ptr<ConvTranspose2d>> upsamples(n_levels);
  for (size_t k = 0; k < n_levels; ++k) {
    const size_t i = n_levels - 1 - k;
    const int64_t out = c.base_channels * c.channel_multipliers[i];
    for (int64_t j = 0; j < c.num_res_blocks; ++j) {
      blocks[i].push_back(std::make_unique<ResBlock>(ch, out, c.groups, rng));
      ch = out;
    }
    if (i > 0) upsamples[i] = std::make_unique<ConvTranspose2d>(ch, ch, 4, 2, 1, rng);
  }
  levels_.resize(n_levels);
  for (size_t i = 0; i < n_levels; ++i) {
    const std::string prefix = "up." + std::to_string(i) + ".";
    Level& level = levels_[n_levels - 1 - i];  // forward order runs deepest first
    for (size_t j = 0; j < blocks[i].size(); ++j)
      level.blocks.push_back(
          register_module(prefix + "block." + std::to_string(j), std::move(blocks[i][j])));
    if (upsamples[i])
      level.upsample = register_module(prefix + "upsample", std::move(upsamples[i]));
  }
  norm_out_ = register_module("norm_out", std::make_unique<GroupNorm>(c.groups, ch));
  conv_out_ =
      register_module("conv_out", std::make_unique<Conv2d>(ch, c.in_channels, 3, 1, 1, rng));
}

Tensor Decoder::forward(const Tensor& z) const {
  Tensor h = conv_in_->forward(z);
  for (const Level& level : levels_) {
    for (const ResBlock* block : level.blocks) h = block->forward(h);
    if (level.upsample) h = level.upsample->forward(h);
  }
  return ops::tanh(conv_out_->forward(ops::silu(norm_out_->forward(h))));
}

VqVae::VqVae(const VqVaeConfig& config) : config_(config) {
  validate(config_);
  Rng encoder_rng{config_.seed, rng_stream_for("encoder"), 0};
  Rng decoder_rng{config_.seed, rng_stream_for("decoder"), 0};
  Rng codebook_rng{config_.seed, rng_stream_for("codebook"), 0};
  encoder = register_module("encoder", std::make_unique<Encoder>(config_, encoder_rng));
  decoder = register_module("decoder", std::make_unique<Decoder>(config_, decoder_rng));
  Tensor codes = codebook_rng.uniform({config_.codebook_size, config_.latent_channels}, -1.0, 1.0);
  codebook_ = config_.codebook_mode == CodebookMode::kLearned
                  ? register_parameter("codebook", codes)
                  : register_buffer("codebook", codes);
}

Tensor VqVae::encode(const Tensor& x) const {
  return encoder->forward(x);
}

ops::Quantized VqVae::quantize(const Tensor& z_e) const {
  return ops::vector_quantize(z_e, codebook_, config_.beta);
}

Tensor VqVae::decode(const Tensor& z_q) const {
  return decoder->forward(z_q);
}

VqVaeOutput VqVae::forward(const Tensor& x) const {
  ops::Quantized q = quantize(encode(x));
  return {decode(q.z_q), q.loss, q.indices};
}

DeadCodeRestarter::DeadCodeRestarter(int64_t codebook_size, int64_t every)
    : counts_(static_cast<size_t>(codebook_size), 0), every_(every) {}

int64_t DeadCodeRestarter::observe(VqVae& vqvae, const Tensor& z_e, const Tensor& indices,
                                   uint64_t seed, int64_t step) {
  LDM_CHECK(vqvae.config().codebook_mode == CodebookMode::kLearned,
            "dead-code restarts move learned codes only");
  for (int32_t i : indices.to_vector<int32_t>()) ++counts_[static_cast<size_t>(i)];
  if (every_ <= 0 || step % every_ != 0) return 0;
  const int64_t B = z_e.shape()[0], D = z_e.shape()[1], hw = z_e.shape()[2] * z_e.shape()[3];
  const std::vector<float> z = z_e.to_vector<float>();
  const auto K = static_cast<int64_t>(counts_.size());
  Rng rng{seed, rng_stream_for("vqvae.restart"), static_cast<uint64_t>(step * K)};
  const std::vector<int32_t> picks =
      rng.randint({K}, static_cast<int32_t>(B * hw)).to_vector<int32_t>();
  // Edited on the host: in place, or on a copy written back when the codebook is on a GPU.
  const Tensor& target = vqvae.codebook();
  const Tensor host = host_accessible(target.device()) ? target : target.to(Device::cpu());
  float* codebook = host.data<float>();
  int64_t restarted = 0;
  for (int64_t k = 0; k < K; ++k) {
    if (counts_[static_cast<size_t>(k)] == 0) {
      const int64_t b = picks[static_cast<size_t>(k)] / hw, p = picks[static_cast<size_t>(k)] % hw;
      for (int64_t d = 0; d < D; ++d)
        codebook[k * D + d] = z[static_cast<size_t>((b * D + d) * hw + p)];
      ++restarted;
    }
    counts_[static_cast<size_t>(k)] = 0;
  }
  if (restarted > 0 && !host_accessible(target.device()))
    copy_bytes(target.raw_data(), target.device(), codebook, Device::cpu(), host.nbytes());
  return restarted;
}

Tensor DeadCodeRestarter::state() const {
  return Tensor::from_vector<int32_t>(counts_, {static_cast<int64_t>(counts_.size())});
}

void DeadCodeRestarter::load_state(const Tensor& counts) {
  if (counts.dtype() != DType::kI32 || counts.numel() != static_cast<int64_t>(counts_.size()))
    fail("dead-code restart state: expected i32 [", counts_.size(), "], got ",
         counts.description());
  counts_ = counts.to_vector<int32_t>();
}

CodebookUsage codebook_usage(const Tensor& indices, int64_t codebook_size) {
  if (indices.dtype() != DType::kI32)
    fail("codebook_usage: indices must be i32, got ", indices.description());
  std::vector<int64_t> counts(static_cast<size_t>(codebook_size), 0);
  const std::vector<int32_t> idx = indices.to_vector<int32_t>();
  for (int32_t i : idx) {
    if (i < 0 || i >= codebook_size)
      fail("codebook_usage: index ", i, " outside [0, ", codebook_size, ")");
    ++counts[static_cast<size_t>(i)];
  }
  CodebookUsage usage;
  if (idx.empty()) return usage;
  int64_t used = 0;
  double entropy = 0.0;
  for (int64_t n : counts) {
    if (n == 0) continue;
    ++used;
    const double p = static_cast<double>(n) / static_cast<double>(idx.size());
    entropy -= p * std::log(p);
  }
  usage.fraction_used = static_cast<double>(used) / static_cast<double>(codebook_size);
  usage.perplexity = std::exp(entropy);
  return usage;
}

}  // namespace ldm::models
