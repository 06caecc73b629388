// The latent U-Net: names and shapes, the zero output layer, label conditioning, gradients to
// every parameter, and a tiny model overfitting one batch of noise prediction.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <set>

#include "core/ops.h"
#include "models/optim.h"
#include "models/unet.h"

using namespace ldm;
using namespace ldm::models;

namespace {

UNetConfig tiny_unet(uint64_t seed = 0) {
  UNetConfig c;
  c.base_channels = 16;
  c.channel_multipliers = {1, 2};
  c.num_res_blocks = 1;
  c.attention_levels = {1};
  c.num_heads = 2;
  c.groups = 4;
  c.seed = seed;
  return c;
}

struct Inputs {
  Tensor x, t, labels;
};

Inputs inputs(int64_t N, uint64_t seed) {
  Rng rng{seed, 0, 0};
  return {rng.normal({N, 3, 8, 8}), rng.uniform({N}, 0, 999), rng.randint({N}, 3)};
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  const auto va = a.to_vector<float>(), vb = b.to_vector<float>();
  double m = 0;
  for (size_t i = 0; i < va.size(); ++i) m = std::max(m, std::fabs(double{va[i]} - vb[i]));
  return m;
}

}  // namespace

TEST_CASE("U-Net names follow the level structure; skip convs only where channels change",
          "[unet]") {
  UNet unet(tiny_unet());
  std::set<std::string> names;
  for (const auto& [name, t] : unet.parameters()) names.insert(name);
  for (const char* expected :
       {"time_embed.linear1.weight", "time_embed.linear2.bias", "label_embed.weight",
        "conv_in.weight", "down.0.block.0.conv1.weight", "down.0.block.0.emb_proj.weight",
        "down.0.downsample.weight", "down.1.block.0.skip.weight", "down.1.attn.0.qkv.weight",
        "mid.block1.norm1.weight", "mid.attn.proj_out.bias", "mid.block2.conv2.weight",
        "up.1.block.1.skip.weight", "up.1.attn.1.norm.weight", "up.1.upsample.conv.weight",
        "up.0.block.1.conv1.weight", "norm_out.weight", "conv_out.weight"})
    CHECK(names.count(expected) == 1);
  CHECK(names.count("down.0.block.0.skip.weight") == 0);  // 16 -> 16 channels
  CHECK(names.count("down.0.attn.0.qkv.weight") == 0);    // attention at level 1 only
  CHECK(names.count("up.0.upsample.conv.weight") == 0);   // level 0 is the top
  // Labels 0, 1 and the null label 2.
  CHECK(unet.state_dict().at("label_embed.weight").shape() == Shape{3, 64});
}

TEST_CASE("untrained U-Net predicts zero noise; shapes and bad inputs", "[unet]") {
  UNet unet(tiny_unet());
  const Inputs in = inputs(2, 1);
  NoGradGuard no_grad;
  const Tensor eps = unet.forward(in.x, in.t, in.labels);
  CHECK(eps.shape() == Shape{2, 3, 8, 8});
  for (float v : eps.to_vector<float>()) REQUIRE(v == 0.0f);  // conv_out starts at zero
  CHECK_THROWS_WITH(unet.forward(Tensor::zeros({2, 4, 8, 8}), in.t, in.labels),
                    Catch::Contains("expected latents"));
  CHECK_THROWS_WITH(unet.forward(Tensor::zeros({2, 3, 7, 7}), in.t, in.labels),
                    Catch::Contains("not divisible"));
  CHECK_THROWS_WITH(unet.forward(in.x, Tensor::zeros({3}), in.labels),
                    Catch::Contains("must both be [2]"));
  UNetConfig bad = tiny_unet();
  bad.attention_levels = {2};
  CHECK_THROWS_WITH(UNet(bad), Catch::Contains("attention level 2 does not exist"));
  bad = tiny_unet();
  bad.num_heads = 3;
  CHECK_THROWS_WITH(UNet(bad), Catch::Contains("attention heads"));
}

TEST_CASE("one backward reaches every U-Net parameter; the label changes the output", "[unet]") {
  UNet unet(tiny_unet());
  // Give conv_out weights so that gradients flow past it into the rest of the network.
  for (auto& [name, p] : unet.parameters())
    if (name.rfind("conv_out", 0) == 0)
      std::memcpy(p.raw_data(), Rng{9, 0, 0}.normal(p.shape(), 0, 0.1).raw_data(), p.nbytes());
  const Inputs in = inputs(4, 2);
  backward(ops::mse_loss(unet.forward(in.x, in.t, in.labels), Rng{3, 0, 0}.normal({4, 3, 8, 8})));
  for (const auto& [name, p] : unet.parameters()) {
    INFO(name);
    REQUIRE(p.grad().defined());
    const auto g = p.grad().to_vector<float>();
    CHECK(std::any_of(g.begin(), g.end(), [](float v) { return v != 0.0f; }));
  }
  NoGradGuard no_grad;
  const Tensor normal = unet.forward(in.x, in.t, Tensor::full({4}, 0, DType::kI32));
  const Tensor pneumonia = unet.forward(in.x, in.t, Tensor::full({4}, 1, DType::kI32));
  CHECK(max_abs_diff(normal, pneumonia) > 1e-4);
  // Same seed, same model, same output.
  UNet again(tiny_unet());
  for (auto& [name, p] : again.parameters())
    if (name.rfind("conv_out", 0) == 0)
      std::memcpy(p.raw_data(), Rng{9, 0, 0}.normal(p.shape(), 0, 0.1).raw_data(), p.nbytes());
  CHECK(max_abs_diff(again.forward(in.x, in.t, in.labels), unet.forward(in.x, in.t, in.labels)) ==
        0.0);
}

TEST_CASE("a tiny U-Net overfits one batch of noise prediction", "[unet]") {
  UNet unet(tiny_unet(3));
  AdamW optimizer(unet, AdamWConfig{3e-3, 0.9, 0.999, 1e-8, 0.0});
  const Inputs in = inputs(8, 4);
  const Tensor target = Rng{5, 0, 0}.normal({8, 3, 8, 8});
  double first = 0, last = 0;
  for (int step = 0; step < 150; ++step) {
    unet.zero_grad();
    const Tensor loss = ops::mse_loss(unet.forward(in.x, in.t, in.labels), target);
    backward(loss);
    optimizer.step();
    (step == 0 ? first : last) = loss.item();
  }
  INFO("loss " << first << " -> " << last);
  CHECK(last < 0.2 * first);
}
