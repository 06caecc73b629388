// AdamW and the weight EMA: the first steps by hand, state round trips, and bad state.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>

#include "core/ops.h"
#include "models/optim.h"

using namespace ldm;
using namespace ldm::models;

namespace {

class Params : public Module {
 public:
  Params() {
    w = register_parameter("w", Tensor::from_vector<float>({1.0f, -2.0f}, {2}));
    register_buffer("frozen", Tensor::full({1}, 5.0));
  }
  Tensor w;
};

void set_grad(Tensor& p, std::initializer_list<float> g) {
  p.set_grad(Tensor::from_vector<float>(g, p.shape()));
}

}  // namespace

TEST_CASE("AdamW: the first step moves each weight by lr against its gradient's sign", "[optim]") {
  Params m;
  AdamW opt(m, AdamWConfig{0.1, 0.9, 0.999, 1e-8, 0.0});
  set_grad(m.w, {0.5f, -3.0f});
  opt.step();
  const auto w = m.w.to_vector<float>();
  CHECK(w[0] == Approx(0.9).epsilon(1e-6));
  CHECK(w[1] == Approx(-1.9).epsilon(1e-6));
  CHECK(opt.steps_taken() == 1);

  // State round trip: a second optimizer restored from the first continues identically.
  AdamW restored(m, AdamWConfig{0.1, 0.9, 0.999, 1e-8, 0.0});
  const NamedTensors state = opt.state();
  std::map<std::string, Tensor> saved;
  for (const auto& [name, t] : state) saved[name] = t.clone();
  restored.load_state(saved);
  CHECK(restored.steps_taken() == 1);
  Params twin;
  std::memcpy(twin.w.raw_data(), m.w.raw_data(), m.w.nbytes());
  AdamW twin_opt(twin, AdamWConfig{0.1, 0.9, 0.999, 1e-8, 0.0});
  twin_opt.load_state(saved);
  set_grad(m.w, {0.25f, 1.0f});
  set_grad(twin.w, {0.25f, 1.0f});
  opt.step();
  twin_opt.step();
  CHECK(m.w.to_vector<float>() == twin.w.to_vector<float>());

  saved.erase("exp_avg.w");
  CHECK_THROWS_WITH(restored.load_state(saved), Catch::Contains("missing: exp_avg.w"));
}

TEST_CASE("EMA warms up: the first update keeps a tenth of the old average", "[optim]") {
  Params m;
  Ema ema(m, 0.999);
  std::memcpy(m.w.raw_data(), Tensor::from_vector<float>({3.0f, 0.0f}, {2}).raw_data(), 8);
  ema.update();  // decay min(0.999, 1/10) = 0.1
  std::map<std::string, Tensor> state;
  for (const auto& [name, t] : ema.state()) state[name] = t;
  const auto avg = state.at("w").to_vector<float>();
  CHECK(avg[0] == Approx(0.1 * 1.0 + 0.9 * 3.0));
  CHECK(avg[1] == Approx(0.1 * -2.0));
  CHECK(state.at("frozen").to_vector<float>()[0] == 5.0f);  // buffers are kept as they are
  CHECK(state.at("num_updates").item() == 1.0);

  Params target;
  ema.copy_to(target);
  CHECK(target.w.to_vector<float>() == avg);

  Ema other(m, 0.999);
  other.load_state(state);
  CHECK(other.updates() == 1);
  CHECK_THROWS_WITH(Ema(m, 1.0), Catch::Contains("EMA decay"));
}

TEST_CASE("learning-rate schedules: linear warm-up, then constant or a cosine down to 0",
          "[optim]") {
  AdamWConfig c;
  c.lr = 1e-3;
  c.warmup_steps = 10;
  c.total_steps = 110;
  CHECK(learning_rate(c, 1) == Approx(1e-4));
  CHECK(learning_rate(c, 10) == Approx(1e-3));
  CHECK(learning_rate(c, 60) == Approx(1e-3));  // constant
  c.schedule = LrSchedule::kCosine;
  CHECK(learning_rate(c, 10) == Approx(1e-3));
  CHECK(learning_rate(c, 60) == Approx(0.5e-3));  // half way through the decay
  CHECK(learning_rate(c, 35) == Approx(1e-3 * (1 + std::cos(M_PI / 4)) / 2));
  CHECK(learning_rate(c, 110) == Approx(0).margin(1e-15));
  CHECK(learning_rate(c, 500) == Approx(0).margin(1e-15));  // past the end: stays at 0
  c.warmup_steps = 0;
  CHECK(learning_rate(c, 1) == Approx(1e-3 * (1 + std::cos(M_PI / 110)) / 2));
  CHECK(parse_lr_schedule("cosine") == LrSchedule::kCosine);
  CHECK_THROWS_WITH(parse_lr_schedule("linear"), Catch::Contains("known: constant, cosine"));
}

TEST_CASE("AdamW steps with the scheduled learning rate", "[optim]") {
  // The first AdamW step moves each weight by exactly that step's lr (here 1/4 of lr: the
  // first of 4 warm-up steps).
  Params m;
  AdamWConfig c;
  c.lr = 0.1;
  c.warmup_steps = 4;
  AdamW opt(m, c);
  set_grad(m.w, {0.5f, -3.0f});
  opt.step();
  const std::vector<float> w = m.w.to_vector<float>();
  CHECK(w[0] == Approx(1.0 - 0.025).epsilon(1e-5));
  CHECK(w[1] == Approx(-2.0 + 0.025).epsilon(1e-5));
}
