// Training state beside the weights: the AdamW optimizer (its moment buffers) and an
// exponential moving average of the weights with warm-up, both over a module's parameters and
// both saved in checkpoints under PyTorch-style names so training resumes exactly.
#pragma once
#include <cstdint>
#include <string>

#include "kernels/args.h"
#include "models/module.h"

namespace ldm::models {

enum class LrSchedule {
  kConstant,  // lr throughout (after the warm-up)
  kCosine,    // lr * (1 + cos(pi * progress)) / 2 after the warm-up: from lr down to 0 at the end
};

struct AdamWConfig {
  double lr = 2e-4;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0.0;
  LrSchedule schedule = LrSchedule::kConstant;
  int64_t warmup_steps = 0;  // lr rises linearly over these first steps
  int64_t total_steps = 0;   // the run's length, which the cosine schedule spans (set by the trainer)
};

// The learning rate of update number `step` (from 1): a pure function of the step, so a resumed
// run continues the schedule exactly.
double learning_rate(const AdamWConfig& config, int64_t step);
std::string to_string(LrSchedule schedule);
LrSchedule parse_lr_schedule(const std::string& name);  // ldm::Error naming the choices

class AdamW {
 public:
  AdamW(const Module& module, const AdamWConfig& config);
  // One update of every parameter that has a gradient (torch.optim.AdamW semantics); a
  // parameter without one (unused in this step's graph) is skipped, as torch does.
  void step();
  int64_t steps_taken() const { return step_; }
  const AdamWConfig& config() const { return config_; }

  // "exp_avg.<param>", "exp_avg_sq.<param>" and "step" (a one-element f64 tensor).
  NamedTensors state() const;
  // Restores state() output; ldm::Error naming what is missing or mismatched.
  void load_state(const std::map<std::string, Tensor>& tensors);

 private:
  AdamWConfig config_;
  NamedTensors params_;
  std::vector<Tensor> exp_avg_, exp_avg_sq_;
  int64_t step_ = 0;
};

// ema = d * ema + (1 - d) * param after each optimizer step, with the warm-up
// d = min(decay, (1 + n) / (10 + n)) after n updates, so early averages are not dominated by
// the random initialization.
class Ema {
 public:
  Ema(const Module& module, double decay);
  void update();
  double decay() const { return decay_; }
  int64_t updates() const { return updates_; }
  // Copies the averaged weights into a module of the same architecture (for sampling).
  void copy_to(Module& module) const;
  // The averaged weights under the module's names (buffers such as a frozen codebook are
  // copied as they are) plus "num_updates".
  NamedTensors state() const;
  void load_state(const std::map<std::string, Tensor>& tensors);

 private:
  double decay_;
  NamedTensors params_;  // the live parameters
  NamedTensors shadow_;  // their averages, same names
  int64_t updates_ = 0;
};

}  // namespace ldm::models
