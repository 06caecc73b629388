// Noise schedules, forward noising and the DDPM / DDIM samplers (see models/diffusion.h).
#include "models/diffusion.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numbers>

#include "core/ops.h"

namespace ldm::models {
namespace {

// Per-sample coefficients as a [N, 1, 1, 1] tensor that broadcasts over one sample.
Tensor per_sample(const std::vector<float>& values, const Tensor& like) {
  Shape shape(static_cast<size_t>(like.rank()), 1);
  shape[0] = static_cast<int64_t>(values.size());
  return Tensor::from_vector<float>(values, shape);
}

}  // namespace

NoiseSchedule::NoiseSchedule(const DiffusionConfig& c) {
  if (c.timesteps < 1) fail("diffusion: timesteps must be >= 1, got ", c.timesteps);
  const auto T = static_cast<size_t>(c.timesteps);
  beta_.resize(T);
  if (c.schedule == ScheduleKind::kLinear) {
    if (!(c.beta_start > 0 && c.beta_start <= c.beta_end && c.beta_end < 1))
      fail("diffusion: linear betas need 0 < beta_start <= beta_end < 1, got ", c.beta_start,
           " and ", c.beta_end);
    for (size_t t = 0; t < T; ++t)
      beta_[t] = T == 1 ? c.beta_start
                        : c.beta_start + (c.beta_end - c.beta_start) * static_cast<double>(t) /
                                             static_cast<double>(T - 1);
  } else {
    // The small offset s keeps beta_0 from being vanishingly small (Nichol & Dhariwal, 2021).
    constexpr double s = 0.008;
    auto f = [&](double t) {
      const double angle = (t / static_cast<double>(T) + s) / (1 + s) * std::numbers::pi / 2;
      return std::cos(angle) * std::cos(angle);
    };
    for (size_t t = 0; t < T; ++t)
      beta_[t] = std::min(1 - f(static_cast<double>(t + 1)) / f(static_cast<double>(t)), 0.999);
  }
  alpha_bar_.resize(T);
  double product = 1.0;
  for (size_t t = 0; t < T; ++t) alpha_bar_[t] = product *= 1 - beta_[t];
}

Tensor NoiseSchedule::add_noise(const Tensor& x0, const Tensor& noise,
                                const std::vector<int32_t>& t) const {
  LDM_CHECK(x0.rank() >= 1 && static_cast<size_t>(x0.shape()[0]) == t.size(),
            "add_noise: one timestep per sample");
  std::vector<float> signal(t.size()), noise_level(t.size());
  for (size_t i = 0; i < t.size(); ++i) {
    const double ab = alpha_bar(t[i]);
    signal[i] = static_cast<float>(std::sqrt(ab));
    noise_level[i] = static_cast<float>(std::sqrt(1 - ab));
  }
  return ops::add(ops::mul(x0, per_sample(signal, x0)), ops::mul(noise, per_sample(noise_level, x0)));
}

std::vector<int64_t> sampling_timesteps(int64_t timesteps, int64_t steps) {
  if (steps < 1 || steps > timesteps)
    fail("sampler: steps must be in [1, ", timesteps, "], got ", steps);
  std::vector<int64_t> ts(static_cast<size_t>(steps));
  for (int64_t i = 0; i < steps; ++i) ts[static_cast<size_t>(steps - 1 - i)] = i * timesteps / steps;
  return ts;
}

Tensor sample(const UNet& unet, const NoiseSchedule& schedule, const Shape& latent_shape,
              const Tensor& labels, const SamplerOptions& options, const SampleCallback& on_step) {
  NoGradGuard no_grad;
  const UNetConfig& uc = unet.config();
  if (labels.rank() != 1 || labels.dtype() != DType::kI32)
    fail("sampler: labels must be i32 [N], got ", labels.description());
  const int64_t N = labels.shape()[0];
  const std::vector<int32_t> label_values = labels.to_vector<int32_t>();
  for (int32_t l : label_values)
    if (l < 0 || l > uc.null_label())
      fail("sampler: label ", l, " outside [0, ", uc.null_label(), "] (", uc.null_label(),
           " is the null label)");
  const bool all_null = std::all_of(label_values.begin(), label_values.end(),
                                    [&](int32_t l) { return l == uc.null_label(); });

  // Guidance needs both predictions, made in one pass over a doubled batch: conditional first,
  // then unconditional, as cfg_combine expects. Scales 0 and 1 need only one of them.
  enum class Pass { kConditional, kUnconditional, kGuided };
  const Pass pass = all_null || options.cfg_scale == 0.0 ? Pass::kUnconditional
                    : options.cfg_scale == 1.0           ? Pass::kConditional
                                                         : Pass::kGuided;
  std::vector<int32_t> pass_labels_v = label_values;
  if (pass == Pass::kUnconditional)
    std::fill(pass_labels_v.begin(), pass_labels_v.end(), static_cast<int32_t>(uc.null_label()));
  if (pass == Pass::kGuided)
    pass_labels_v.insert(pass_labels_v.end(), label_values.size(),
                         static_cast<int32_t>(uc.null_label()));
  const Tensor pass_labels = Tensor::from_vector<int32_t>(
      pass_labels_v, {static_cast<int64_t>(pass_labels_v.size())});

  Shape shape{N};
  shape.insert(shape.end(), latent_shape.begin(), latent_shape.end());
  Rng init_rng{options.seed, rng_stream_for("sample.init"), 0};
  Rng noise_rng{options.seed, rng_stream_for("sample.noise"), 0};
  Tensor x = init_rng.normal(shape);

  const std::vector<int64_t> ts = sampling_timesteps(schedule.timesteps(), options.steps);
  for (size_t i = 0; i < ts.size(); ++i) {
    const int64_t t = ts[i];
    const int64_t t_prev = i + 1 < ts.size() ? ts[i + 1] : -1;
    const int64_t batch = pass == Pass::kGuided ? 2 * N : N;
    Tensor x_in = x;
    if (pass == Pass::kGuided) {
      const std::array<Tensor, 2> both{x, x};
      x_in = ops::concat(both, 0);
    }
    Tensor eps = unet.forward(x_in, Tensor::full({batch}, static_cast<double>(t)), pass_labels);
    if (pass == Pass::kGuided) eps = ops::cfg_combine(eps, options.cfg_scale);

    const double ab_t = schedule.alpha_bar(t), ab_prev = schedule.alpha_bar(t_prev);
    const bool last = t_prev < 0;
    if (options.kind == SamplerKind::kDdpm) {
      // Ancestral step of the (possibly respaced) chain, whose step beta is 1 - ab_t / ab_prev
      // (the schedule's own beta_t when every timestep is visited), with the posterior variance.
      const double alpha = ab_t / ab_prev, beta = 1 - alpha;
      kernels::DdpmStepArgs a;
      a.coef_x = 1 / std::sqrt(alpha);
      a.coef_eps = beta / (std::sqrt(alpha) * std::sqrt(1 - ab_t));
      a.sigma = last ? 0.0 : std::sqrt(beta * (1 - ab_prev) / (1 - ab_t));
      x = ops::ddpm_step(x, eps, last ? Tensor() : noise_rng.normal(shape), a);
    } else {
      kernels::DdimStepArgs a;
      a.alpha_bar_t = ab_t;
      a.alpha_bar_prev = ab_prev;
      a.sigma = options.eta * std::sqrt((1 - ab_prev) / (1 - ab_t) * (1 - ab_t / ab_prev));
      x = ops::ddim_step(x, eps, a.sigma > 0 ? noise_rng.normal(shape) : Tensor(), a);
    }
    if (on_step) on_step(static_cast<int64_t>(i), t, x);
  }
  return x;
}

std::string to_string(ScheduleKind kind) {
  return kind == ScheduleKind::kLinear ? "linear" : "cosine";
}
std::string to_string(SamplerKind kind) {
  return kind == SamplerKind::kDdpm ? "ddpm" : "ddim";
}

ScheduleKind parse_schedule(const std::string& name) {
  if (name == "linear") return ScheduleKind::kLinear;
  if (name == "cosine") return ScheduleKind::kCosine;
  fail("unknown noise schedule '", name, "' (expected linear or cosine)");
}

SamplerKind parse_sampler(const std::string& name) {
  if (name == "ddpm") return SamplerKind::kDdpm;
  if (name == "ddim") return SamplerKind::kDdim;
  fail("unknown sampler '", name, "' (expected ddpm or ddim)");
}

}  // namespace ldm::models
