// Module system and layers: PyTorch-style names, default init ranges, state_dict round trips and
// the errors a bad checkpoint gives.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "core/ops.h"
#include "core/safetensors.h"
#include "models/module.h"
#include "models/vqvae.h"

namespace fs = std::filesystem;
using namespace ldm;
using namespace ldm::models;

namespace {

std::vector<std::string> names_of(const NamedTensors& tensors) {
  std::vector<std::string> out;
  for (const auto& [name, t] : tensors) out.push_back(name);
  return out;
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (float v : t.to_vector<float>()) m = std::max(m, std::fabs(static_cast<double>(v)));
  return m;
}

struct TempDir {
  fs::path path;
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "ldm-models-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~TempDir() { fs::remove_all(path); }
};

VqVaeConfig tiny_config(uint64_t seed) {
  VqVaeConfig c;
  c.base_channels = 8;
  c.channel_multipliers = {1, 2};
  c.codebook_size = 16;
  c.seed = seed;
  return c;
}

}  // namespace

TEST_CASE("ResBlock names its tensors as PyTorch would, with a skip only when channels change",
          "[nn]") {
  Rng rng{1, 2, 0};
  ResBlock same(8, 8, 4, rng);
  CHECK(names_of(same.parameters()) ==
        std::vector<std::string>{"norm1.weight", "norm1.bias", "conv1.weight", "conv1.bias",
                                 "norm2.weight", "norm2.bias", "conv2.weight", "conv2.bias"});
  ResBlock widen(8, 16, 4, rng);
  const NamedTensors p = widen.parameters();
  REQUIRE(p.size() == 10);
  CHECK(p[2].second.shape() == Shape{16, 8, 3, 3});
  CHECK(p[8].first == "skip.weight");
  CHECK(p[8].second.shape() == Shape{16, 8, 1, 1});
  CHECK(widen.num_parameters() ==
        2 * 8 + 16 * 8 * 9 + 16 + 2 * 16 + 16 * 16 * 9 + 16 + 16 * 8 + 16);

  Tensor x = Rng{3, 0, 0}.normal({2, 8, 5, 5});
  CHECK(widen.forward(x).shape() == Shape{2, 16, 5, 5});
  CHECK(same.forward(x).shape() == Shape{2, 8, 5, 5});
}

TEST_CASE("layers use PyTorch's default init ranges", "[nn]") {
  Rng rng{7, 0, 0};
  Conv2d conv(4, 6, 3, 1, 1, rng);
  const double conv_bound = 1.0 / std::sqrt(4.0 * 9.0);
  CHECK(max_abs(conv.weight) <= conv_bound);
  CHECK(max_abs(conv.weight) > 0.8 * conv_bound);
  CHECK(max_abs(conv.bias) <= conv_bound);
  CHECK(conv.weight.requires_grad());

  ConvTranspose2d up(6, 2, 4, 2, 1, rng);
  CHECK(up.weight.shape() == Shape{6, 2, 4, 4});
  const double up_bound = 1.0 / std::sqrt(2.0 * 16.0);  // fan_in is C_out * K * K for torch
  CHECK(max_abs(up.weight) <= up_bound);
  CHECK(max_abs(up.weight) > 0.8 * up_bound);
  CHECK(up.forward(Tensor::zeros({1, 6, 3, 3})).shape() == Shape{1, 2, 6, 6});

  Linear fc(10, 3, rng);
  CHECK(fc.weight.shape() == Shape{3, 10});
  CHECK(max_abs(fc.weight) <= 1.0 / std::sqrt(10.0));
  CHECK(fc.forward(Tensor::zeros({5, 10})).shape() == Shape{5, 3});

  GroupNorm norm(2, 6);
  CHECK(norm.weight.to_vector<float>() == std::vector<float>(6, 1.0f));
  CHECK(norm.bias.to_vector<float>() == std::vector<float>(6, 0.0f));
  CHECK_THROWS_AS(GroupNorm(4, 6), Error);
}

TEST_CASE("state_dict round-trips through safetensors", "[nn]") {
  VqVae a(tiny_config(1));
  VqVae b(tiny_config(2));
  REQUIRE(a.state_dict().size() == b.state_dict().size());
  CHECK(a.state_dict().at("encoder.conv_in.weight").to_vector<float>() !=
        b.state_dict().at("encoder.conv_in.weight").to_vector<float>());

  TempDir dir;
  const std::string file = (dir.path / "vqvae.safetensors").string();
  save_safetensors(file, a.state_dict());
  b.load_state_dict(load_safetensors(file).tensors);
  for (const auto& [name, t] : a.named_tensors()) {
    INFO(name);
    CHECK(t.to_vector<float>() == b.state_dict().at(name).to_vector<float>());
  }
  // The layers see the loaded weights: both models now compute the same thing.
  Tensor x = Rng{5, 0, 0}.uniform({2, 1, 8, 8}, -1, 1);
  NoGradGuard no_grad;
  CHECK(a.forward(x).x_hat.to_vector<float>() == b.forward(x).x_hat.to_vector<float>());
}

TEST_CASE("load_state_dict names every missing, unexpected and mismatched tensor", "[nn]") {
  VqVae model(tiny_config(1));
  const auto good = model.state_dict();
  const std::vector<float> before = good.at("decoder.conv_out.bias").to_vector<float>();

  auto bad = good;
  bad.erase("encoder.norm_out.bias");
  bad["encoder.extra.weight"] = Tensor::zeros({2});
  bad["decoder.conv_in.weight"] = Tensor::zeros({3, 3, 3, 3});
  bad["decoder.conv_out.bias"] = Tensor::full({1}, 5.0);  // valid: must not be applied
  try {
    model.load_state_dict(bad);
    FAIL("no error");
  } catch (const Error& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.find("missing: encoder.norm_out.bias") != std::string::npos);
    CHECK(msg.find("unexpected: encoder.extra.weight") != std::string::npos);
    CHECK(msg.find("mismatched: decoder.conv_in.weight") != std::string::npos);
    CHECK(msg.find("[3, 3, 3, 3]") != std::string::npos);
  }
  CHECK(model.state_dict().at("decoder.conv_out.bias").to_vector<float>() == before);
  model.load_state_dict(model.state_dict());  // aliasing its own tensors is fine

  auto wrong_dtype = good;
  wrong_dtype["codebook"] = good.at("codebook").to(DType::kF64);
  CHECK_THROWS_WITH(model.load_state_dict(wrong_dtype), Catch::Contains("codebook"));
}
