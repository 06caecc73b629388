// VQ-VAE: architecture and names of the default configuration, shapes, gradients reaching every
// parameter, codebook usage stats, and a tiny model overfitting one batch.
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <map>
#include <string>

#include "core/ops.h"
#include "models/vqvae.h"

using namespace ldm;
using namespace ldm::models;

namespace {

std::map<std::string, Shape> shapes_of(const NamedTensors& tensors) {
  std::map<std::string, Shape> out;
  for (const auto& [name, t] : tensors) out[name] = t.shape();
  return out;
}

bool any_nonzero(const Tensor& t) {
  for (float v : t.to_vector<float>())
    if (v != 0.0f) return true;
  return false;
}

}  // namespace

TEST_CASE("the default VQ-VAE has PyTorch-style names and the documented shapes", "[vqvae]") {
  VqVae model{VqVaeConfig{}};
  const auto params = shapes_of(model.parameters());
  CHECK(params.at("encoder.conv_in.weight") == Shape{32, 1, 3, 3});
  CHECK(params.at("encoder.down.0.block.0.conv1.weight") == Shape{32, 32, 3, 3});
  CHECK(params.count("encoder.down.0.block.0.skip.weight") == 0);
  CHECK(params.at("encoder.down.0.downsample.weight") == Shape{32, 32, 4, 4});
  CHECK(params.at("encoder.down.1.block.0.skip.weight") == Shape{64, 32, 1, 1});
  CHECK(params.at("encoder.down.2.block.0.conv2.weight") == Shape{128, 128, 3, 3});
  CHECK(params.count("encoder.down.2.downsample.weight") == 0);
  CHECK(params.at("encoder.norm_out.weight") == Shape{128});
  CHECK(params.at("encoder.conv_out.weight") == Shape{3, 128, 1, 1});
  CHECK(params.at("decoder.conv_in.weight") == Shape{128, 3, 3, 3});
  CHECK(params.at("decoder.up.2.upsample.weight") == Shape{128, 128, 4, 4});
  CHECK(params.at("decoder.up.1.block.0.skip.weight") == Shape{64, 128, 1, 1});
  CHECK(params.count("decoder.up.0.upsample.weight") == 0);
  CHECK(params.at("decoder.conv_out.weight") == Shape{1, 32, 3, 3});
  CHECK(model.parameters().front().first == "encoder.conv_in.weight");
  // Level order as in torch's named_parameters(), although the decoder runs deepest first.
  std::vector<std::string> order;
  for (const auto& [name, t] : model.parameters()) order.push_back(name);
  const auto position = [&](const std::string& name) {
    return std::find(order.begin(), order.end(), name) - order.begin();
  };
  CHECK(position("decoder.conv_in.weight") < position("decoder.up.0.block.0.norm1.weight"));
  CHECK(position("decoder.up.0.block.0.conv2.bias") <
        position("decoder.up.1.block.0.norm1.weight"));
  CHECK(position("decoder.up.2.upsample.bias") < position("decoder.norm_out.weight"));

  // Frozen codebook: saved, but not trained.
  CHECK(params.count("codebook") == 0);
  const auto state = model.state_dict();
  REQUIRE(state.count("codebook") == 1);
  CHECK(state.at("codebook").shape() == Shape{4096, 3});
  const auto codes = state.at("codebook").to_vector<float>();
  CHECK(*std::min_element(codes.begin(), codes.end()) >= -1.0f);
  CHECK(*std::max_element(codes.begin(), codes.end()) < 1.0f);

  VqVaeConfig learned;
  learned.codebook_mode = CodebookMode::kLearned;
  learned.codebook_size = 64;
  VqVae learned_model(learned);
  CHECK(shapes_of(learned_model.parameters()).at("codebook") == Shape{64, 3});

  // Same seed, same weights.
  VqVae again{VqVaeConfig{}};
  CHECK(again.state_dict().at("decoder.conv_out.weight").to_vector<float>() ==
        state.at("decoder.conv_out.weight").to_vector<float>());
}

TEST_CASE("VQ-VAE forward shapes: 32x32 images to an 8x8 latent and back", "[vqvae]") {
  VqVaeConfig c;
  c.codebook_size = 256;
  VqVae model(c);
  Tensor x = Rng{1, 0, 0}.uniform({2, 1, 32, 32}, -1, 1);
  NoGradGuard no_grad;
  Tensor z_e = model.encode(x);
  CHECK(z_e.shape() == Shape{2, 3, 8, 8});
  ops::Quantized q = model.quantize(z_e);
  CHECK(q.z_q.shape() == Shape{2, 3, 8, 8});
  CHECK(q.indices.shape() == Shape{2, 8, 8});
  VqVaeOutput out = model.forward(x);
  CHECK(out.x_hat.shape() == Shape{2, 1, 32, 32});
  CHECK(out.vq_loss.numel() == 1);
  CHECK(out.vq_loss.item() >= 0.0);
  for (float v : out.x_hat.to_vector<float>()) REQUIRE(std::fabs(v) < 1.0f);
  CHECK(out.indices.to_vector<int32_t>() == q.indices.to_vector<int32_t>());
}

TEST_CASE("one backward reaches every parameter", "[vqvae]") {
  for (CodebookMode mode : {CodebookMode::kFrozen, CodebookMode::kLearned}) {
    VqVaeConfig c;
    c.base_channels = 8;
    c.channel_multipliers = {1, 2};
    c.codebook_size = 32;
    c.codebook_mode = mode;
    VqVae model(c);
    Tensor x = Rng{2, 0, 0}.uniform({2, 1, 16, 16}, -1, 1);
    VqVaeOutput out = model.forward(x);
    backward(ops::add(ops::mse_loss(out.x_hat, x), out.vq_loss));
    for (const auto& [name, p] : model.parameters()) {
      INFO(name);
      REQUIRE(p.grad().defined());
      CHECK(p.grad().shape() == p.shape());
      CHECK(any_nonzero(p.grad()));
    }
    CHECK(!model.codebook().grad().defined() == (mode == CodebookMode::kFrozen));
  }
}

TEST_CASE("codebook usage: fraction of codes used and perplexity", "[vqvae]") {
  Tensor all = Tensor::from_vector<int32_t>({0, 1, 2, 3}, {1, 2, 2});
  CodebookUsage u = codebook_usage(all, 8);
  CHECK(u.fraction_used == Approx(0.5));
  CHECK(u.perplexity == Approx(4.0));
  Tensor one = Tensor::from_vector<int32_t>({5, 5, 5}, {3});
  u = codebook_usage(one, 8);
  CHECK(u.fraction_used == Approx(1.0 / 8));
  CHECK(u.perplexity == Approx(1.0));
  CHECK_THROWS_AS(codebook_usage(Tensor::from_vector<int32_t>({8}, {1}), 8), Error);
  CHECK_THROWS_AS(codebook_usage(Tensor::zeros({2}), 8), Error);
}

TEST_CASE("a tiny VQ-VAE overfits one batch: reconstruction MSE drops 10x", "[vqvae]") {
  const auto start = std::chrono::steady_clock::now();
  VqVaeConfig c;
  c.base_channels = 8;
  c.channel_multipliers = {1};
  c.codebook_size = 512;
  c.seed = 3;
  VqVae model(c);
  Tensor x = Rng{11, 0, 0}.uniform({8, 1, 16, 16}, -1, 1);

  std::vector<std::pair<Tensor, Tensor>> moments;
  for (const auto& [name, p] : model.parameters())
    moments.emplace_back(Tensor::zeros_like(p), Tensor::zeros_like(p));
  kernels::AdamWArgs hyper;
  hyper.lr = 1e-2;
  hyper.weight_decay = 0.0;

  double first = 0, last = 0;
  const int steps = 100;
  for (int step = 1; step <= steps; ++step) {
    model.zero_grad();
    VqVaeOutput out = model.forward(x);
    Tensor recon = ops::mse_loss(out.x_hat, x);
    backward(ops::add(recon, out.vq_loss));
    if (step == 1) first = recon.item();
    last = recon.item();
    NoGradGuard no_grad;
    hyper.step = step;
    const NamedTensors params = model.parameters();
    for (size_t i = 0; i < params.size(); ++i)
      ops::adamw_step(params[i].second, params[i].second.grad(), moments[i].first,
                      moments[i].second, hyper);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  INFO("MSE " << first << " -> " << last << " in " << seconds << " s");
  CHECK(last < first / 10);
}

TEST_CASE("dead-code restart moves unused learned codes onto encoder outputs", "[vqvae]") {
  VqVaeConfig c;
  c.base_channels = 8;
  c.channel_multipliers = {1};
  c.codebook_size = 16;
  c.codebook_mode = CodebookMode::kLearned;
  VqVae model(c);
  // Every position picks code 3 or 5; the other 14 codes are dead.
  const Tensor z_e = Rng{4, 0, 0}.normal({2, 3, 2, 2});
  const Tensor indices = Tensor::from_vector<int32_t>({3, 5, 3, 3, 5, 5, 3, 3}, {2, 2, 2});
  const std::vector<float> before = model.codebook().to_vector<float>();
  DeadCodeRestarter restarter(16, 2);
  CHECK(restarter.observe(model, z_e, indices, 1, 1) == 0);  // not a restart step
  CHECK(model.codebook().to_vector<float>() == before);
  const Tensor saved = restarter.state();
  CHECK(restarter.observe(model, z_e, indices, 1, 2) == 14);
  const std::vector<float> after = model.codebook().to_vector<float>();
  const std::vector<float> z = z_e.to_vector<float>();
  for (int k = 0; k < 16; ++k) {
    const bool live = k == 3 || k == 5;
    bool is_encoder_output = false;
    for (int b = 0; b < 2; ++b)
      for (int p = 0; p < 4; ++p) {
        bool same = true;
        for (int d = 0; d < 3; ++d) same &= after[k * 3 + d] == z[(b * 3 + d) * 4 + p];
        is_encoder_output |= same;
      }
    INFO("code " << k);
    CHECK(is_encoder_output == !live);
    if (live)
      for (int d = 0; d < 3; ++d) CHECK(after[k * 3 + d] == before[k * 3 + d]);
  }
  // A restarter restored from the state after step 1 makes the same moves at step 2.
  VqVae twin(c);
  DeadCodeRestarter restored(16, 2);
  restored.load_state(saved);
  CHECK(restored.observe(twin, z_e, Tensor::from_vector<int32_t>({3, 3, 3, 3, 3, 3, 3, 3}, {2, 2, 2}),
                         1, 2) == 14);
  CHECK(twin.codebook().to_vector<float>() == after);
  CHECK_THROWS(restored.load_state(Tensor::zeros({16})));
}
