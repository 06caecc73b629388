// Noise schedules against NumPy's numbers, the forward noising, the timestep spacing, and the
// samplers: determinism, and one step checked by hand against separate conditional and
// unconditional U-Net passes (which also proves the batched guidance pass equivalent).
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>

#include "core/ops.h"
#include "models/diffusion.h"

using namespace ldm;
using namespace ldm::models;

namespace {

UNetConfig tiny_unet() {
  UNetConfig c;
  c.base_channels = 8;
  c.channel_multipliers = {1, 2};
  c.num_res_blocks = 1;
  c.num_heads = 2;
  c.groups = 4;
  return c;
}

// A tiny U-Net whose output layer is not zero, so that samples depend on the network.
struct TinyModel {
  UNet unet{tiny_unet()};
  TinyModel() {
    for (auto& [name, p] : unet.parameters())
      if (name.rfind("conv_out", 0) == 0)
        std::memcpy(p.raw_data(), Rng{9, 0, 0}.normal(p.shape(), 0, 0.2).raw_data(), p.nbytes());
  }
};

std::vector<float> values(const Tensor& t) {
  return t.to_vector<float>();
}

}  // namespace

TEST_CASE("linear and cosine schedules match NumPy", "[diffusion]") {
  const NoiseSchedule linear(DiffusionConfig{});  // 1000 steps, 1e-4 .. 2e-2
  CHECK(linear.timesteps() == 1000);
  CHECK(linear.beta(0) == Approx(1e-4));
  CHECK(linear.beta(999) == Approx(2e-2));
  // np.cumprod(1 - np.linspace(1e-4, 2e-2, 1000))
  CHECK(linear.alpha_bar(499) == Approx(0.07858724288177824).epsilon(1e-12));
  CHECK(linear.alpha_bar(999) == Approx(4.035829765375676e-05).epsilon(1e-10));
  CHECK(linear.alpha_bar(-1) == 1.0);

  DiffusionConfig c;
  c.schedule = ScheduleKind::kCosine;
  const NoiseSchedule cosine(c);
  CHECK(cosine.alpha_bar(0) == Approx(0.999958715775178).epsilon(1e-12));
  CHECK(cosine.alpha_bar(499) == Approx(0.4938435904406382).epsilon(1e-12));
  CHECK(cosine.beta(999) == 0.999);  // capped
  for (int64_t t = 1; t < 1000; ++t) REQUIRE(cosine.alpha_bar(t) < cosine.alpha_bar(t - 1));

  DiffusionConfig bad;
  bad.beta_end = 1.5;
  CHECK_THROWS_WITH(NoiseSchedule(bad), Catch::Contains("beta_end"));
  CHECK(parse_schedule("cosine") == ScheduleKind::kCosine);
  CHECK_THROWS_WITH(parse_sampler("euler"), Catch::Contains("expected ddpm or ddim"));
}

TEST_CASE("add_noise mixes signal and noise per sample", "[diffusion]") {
  const NoiseSchedule s(DiffusionConfig{});
  const Tensor x0 = Tensor::full({2, 1, 2, 2}, 1.0), noise = Tensor::full({2, 1, 2, 2}, 2.0);
  const auto out = values(s.add_noise(x0, noise, {0, 999}));
  const double a0 = s.alpha_bar(0), a1 = s.alpha_bar(999);
  CHECK(out[0] == Approx(std::sqrt(a0) + 2 * std::sqrt(1 - a0)));
  CHECK(out[7] == Approx(std::sqrt(a1) + 2 * std::sqrt(1 - a1)));
}

TEST_CASE("sampling timesteps: all of them, or evenly spaced, descending", "[diffusion]") {
  const auto all = sampling_timesteps(1000, 1000);
  CHECK(all.front() == 999);
  CHECK(all.back() == 0);
  const auto fifty = sampling_timesteps(1000, 50);
  REQUIRE(fifty.size() == 50);
  CHECK(fifty[0] == 980);
  CHECK(fifty[1] == 960);
  CHECK(fifty[49] == 0);
  CHECK_THROWS_WITH(sampling_timesteps(1000, 0), Catch::Contains("steps must be in [1, 1000]"));
  CHECK_THROWS(sampling_timesteps(1000, 1001));
}

TEST_CASE("samplers are deterministic in the seed and report every step", "[diffusion]") {
  TinyModel m;
  DiffusionConfig dc;
  dc.timesteps = 20;
  const NoiseSchedule schedule(dc);
  const Tensor labels = Tensor::from_vector<int32_t>({0, 1, 2}, {3});
  for (SamplerKind kind : {SamplerKind::kDdpm, SamplerKind::kDdim}) {
    SamplerOptions o;
    o.kind = kind;
    o.steps = kind == SamplerKind::kDdpm ? 20 : 5;
    o.seed = 7;
    int64_t calls = 0;
    const Tensor a = sample(m.unet, schedule, {3, 8, 8}, labels, o,
                            [&](int64_t step, int64_t, const Tensor& x) {
                              CHECK(step == calls++);
                              CHECK(x.shape() == Shape{3, 3, 8, 8});
                            });
    CHECK(calls == o.steps);
    const Tensor b = sample(m.unet, schedule, {3, 8, 8}, labels, o);
    CHECK(values(a) == values(b));
    o.seed = 8;
    CHECK(values(sample(m.unet, schedule, {3, 8, 8}, labels, o)) != values(a));
    for (float v : values(a)) REQUIRE(std::isfinite(v));
  }
  // DDIM with eta 0 draws no noise after the start: the path is fixed by x_T.
  SamplerOptions o;
  o.kind = SamplerKind::kDdim;
  o.steps = 4;
  CHECK_THROWS_WITH(sample(m.unet, schedule, {3, 8, 8}, Tensor::from_vector<int32_t>({3}, {1}), o),
                    Catch::Contains("outside [0, 2]"));
}

TEST_CASE("one guided step equals eps_u + w (eps_c - eps_u) from separate passes", "[diffusion]") {
  TinyModel m;
  DiffusionConfig dc;
  dc.timesteps = 10;
  const NoiseSchedule schedule(dc);
  const Tensor labels = Tensor::from_vector<int32_t>({0, 1}, {2});
  SamplerOptions o;
  o.steps = 1;  // visits t = 0 only: x_0 = (x_T - beta_0 / sqrt(1 - ab_0) eps) / sqrt(alpha_0)
  o.cfg_scale = 3.0;
  o.seed = 11;
  for (SamplerKind kind : {SamplerKind::kDdpm, SamplerKind::kDdim}) {
    o.kind = kind;
    const Tensor got = sample(m.unet, schedule, {3, 8, 8}, labels, o);

    NoGradGuard no_grad;
    const Tensor x = Rng{o.seed, rng_stream_for("sample.init"), 0}.normal({2, 3, 8, 8});
    const Tensor t = Tensor::full({2}, 0.0);
    const auto eps_c = values(m.unet.forward(x, t, labels));
    const auto eps_u = values(m.unet.forward(x, t, Tensor::full({2}, 2, DType::kI32)));
    const auto xv = values(x), g = values(got);
    const double ab = schedule.alpha_bar(0);
    double worst = 0;
    for (size_t i = 0; i < xv.size(); ++i) {
      const double eps = eps_u[i] + 3.0 * (eps_c[i] - eps_u[i]);
      const double expected = (xv[i] - std::sqrt(1 - ab) * eps) / std::sqrt(ab);
      worst = std::max(worst, std::fabs(expected - g[i]) / (1 + std::fabs(expected)));
    }
    CHECK(worst < 1e-5);
  }
  // Scale 0 is unconditional whatever the labels; scale 1 is the conditional model alone.
  o.cfg_scale = 0.0;
  const Tensor nulls = Tensor::full({2}, 2, DType::kI32);
  CHECK(values(sample(m.unet, schedule, {3, 8, 8}, labels, o)) ==
        values(sample(m.unet, schedule, {3, 8, 8}, nulls, o)));
}
