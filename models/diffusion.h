// Gaussian diffusion on the latents: the noise schedules (linear, cosine), the forward noising
// q(x_t | x_0) used in training, and the two samplers (ancestral DDPM and DDIM) with
// classifier-free guidance computed in one batched U-Net pass.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/rng.h"
#include "core/tensor.h"
#include "models/unet.h"

namespace ldm::models {

enum class ScheduleKind {
  kLinear,  // betas linear in [beta_start, beta_end] (DDPM; the original recipe)
  kCosine,  // alpha_bar = cos^2 of a shifted time (Nichol & Dhariwal), betas capped at 0.999
};

struct DiffusionConfig {
  int64_t timesteps = 1000;
  ScheduleKind schedule = ScheduleKind::kLinear;
  double beta_start = 1e-4;  // linear only
  double beta_end = 2e-2;
};

class NoiseSchedule {
 public:
  explicit NoiseSchedule(const DiffusionConfig& config);
  int64_t timesteps() const { return static_cast<int64_t>(alpha_bar_.size()); }
  double beta(int64_t t) const { return beta_.at(static_cast<size_t>(t)); }
  // Product of (1 - beta) over steps 0..t; alpha_bar(-1) is 1 (no noise yet).
  double alpha_bar(int64_t t) const { return t < 0 ? 1.0 : alpha_bar_.at(static_cast<size_t>(t)); }

  // x_t = sqrt(alpha_bar_t) x0 + sqrt(1 - alpha_bar_t) noise, with one t per sample.
  Tensor add_noise(const Tensor& x0, const Tensor& noise, const std::vector<int32_t>& t) const;

 private:
  std::vector<double> beta_, alpha_bar_;
};

enum class SamplerKind { kDdpm, kDdim };

struct SamplerOptions {
  SamplerKind kind = SamplerKind::kDdpm;
  int64_t steps = 1000;    // <= timesteps; fewer steps use evenly spaced timesteps
  double cfg_scale = 3.0;  // w in eps_u + w (eps_c - eps_u); 0 = unconditional, 1 = conditional
  double eta = 0.0;        // DDIM only: 0 is deterministic, 1 matches DDPM's variance
  uint64_t seed = 0;
};

// Called after each step with the step index (0 = first), the timestep just denoised and the
// latents x_{t-1} (x_0 after the last step).
using SampleCallback = std::function<void(int64_t step, int64_t t, const Tensor& x)>;

// Timesteps a sampler visits, descending (T-1 first for steps == T; otherwise floor(i T / S)).
std::vector<int64_t> sampling_timesteps(int64_t timesteps, int64_t steps);

// Denoises N = labels.numel() latents of shape [C, h, w] from pure noise. labels [N] i32; the
// null label (unet.config().null_label()) samples unconditionally. Runs without autograd.
// The same seed and options give the same latents.
Tensor sample(const UNet& unet, const NoiseSchedule& schedule, const Shape& latent_shape,
              const Tensor& labels, const SamplerOptions& options,
              const SampleCallback& on_step = {});

// "linear" / "cosine", "ddpm" / "ddim": config and flag spellings, and names for messages.
std::string to_string(ScheduleKind kind);
std::string to_string(SamplerKind kind);
ScheduleKind parse_schedule(const std::string& name);  // ldm::Error naming the choices
SamplerKind parse_sampler(const std::string& name);

}  // namespace ldm::models
