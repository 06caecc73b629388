// AdamW and the weight EMA over a module's parameters (see models/optim.h).
#include "models/optim.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/ops.h"

namespace ldm::models {
namespace {

Tensor scalar_f64(double value) {
  return Tensor::full({}, value, DType::kF64);
}

// Reads a one-element tensor `name` written by scalar_f64.
double read_scalar(const std::map<std::string, Tensor>& tensors, const std::string& name,
                   const std::string& what) {
  auto it = tensors.find(name);
  if (it == tensors.end()) fail(what, ": missing ", name);
  if (it->second.numel() != 1) fail(what, ": ", name, " should hold one value, got ", it->second.description());
  return it->second.item();
}

}  // namespace

double learning_rate(const AdamWConfig& c, int64_t step) {
  if (step <= c.warmup_steps) return c.lr * static_cast<double>(step) / static_cast<double>(c.warmup_steps);
  if (c.schedule == LrSchedule::kConstant || c.total_steps <= c.warmup_steps) return c.lr;
  const double progress = std::min(1.0, static_cast<double>(step - c.warmup_steps) /
                                            static_cast<double>(c.total_steps - c.warmup_steps));
  return c.lr * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
}

std::string to_string(LrSchedule schedule) {
  return schedule == LrSchedule::kCosine ? "cosine" : "constant";
}

LrSchedule parse_lr_schedule(const std::string& name) {
  if (name == "constant") return LrSchedule::kConstant;
  if (name == "cosine") return LrSchedule::kCosine;
  fail("unknown learning-rate schedule '", name, "' (known: constant, cosine)");
}

AdamW::AdamW(const Module& module, const AdamWConfig& config)
    : config_(config), params_(module.parameters()) {
  for (const auto& [name, p] : params_) {
    exp_avg_.push_back(Tensor::zeros_like(p));
    exp_avg_sq_.push_back(Tensor::zeros_like(p));
  }
}

void AdamW::step() {
  ++step_;
  kernels::AdamWArgs hyper;
  hyper.lr = learning_rate(config_, step_);
  hyper.beta1 = config_.beta1;
  hyper.beta2 = config_.beta2;
  hyper.eps = config_.eps;
  hyper.weight_decay = config_.weight_decay;
  hyper.step = step_;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i].second;
    if (!p.grad().defined()) continue;
    ops::adamw_step(p, p.grad(), exp_avg_[i], exp_avg_sq_[i], hyper);
  }
}

NamedTensors AdamW::state() const {
  NamedTensors out;
  for (size_t i = 0; i < params_.size(); ++i) {
    out.emplace_back("exp_avg." + params_[i].first, exp_avg_[i]);
    out.emplace_back("exp_avg_sq." + params_[i].first, exp_avg_sq_[i]);
  }
  out.emplace_back("step", scalar_f64(static_cast<double>(step_)));
  return out;
}

void AdamW::load_state(const std::map<std::string, Tensor>& tensors) {
  NamedTensors targets = state();
  targets.pop_back();  // "step" is read, not copied
  std::map<std::string, Tensor> moments = tensors;
  moments.erase("step");
  const double step = read_scalar(tensors, "step", "optimizer state");
  load_named_tensors(targets, moments, "optimizer state");
  step_ = static_cast<int64_t>(step);
}

Ema::Ema(const Module& module, double decay) : decay_(decay) {
  if (!(decay >= 0 && decay < 1)) fail("EMA decay must be in [0, 1), got ", decay);
  const NamedTensors trained = module.parameters();
  for (const auto& [name, t] : module.named_tensors()) {
    const bool is_param = std::any_of(trained.begin(), trained.end(),
                                      [&](const auto& p) { return p.first == name; });
    if (is_param) params_.emplace_back(name, t);
    shadow_.emplace_back(name, t.clone());
  }
}

void Ema::update() {
  const double warm = (1.0 + static_cast<double>(updates_)) / (10.0 + static_cast<double>(updates_));
  const double d = std::min(decay_, warm);
  ++updates_;
  size_t k = 0;
  for (const auto& [name, p] : params_) {
    while (shadow_[k].first != name) ++k;  // shadow_ also holds buffers, in the same order
    ops::ema_update(shadow_[k].second, p, d);
  }
}

void Ema::copy_to(Module& module) const {
  std::map<std::string, Tensor> tensors(shadow_.begin(), shadow_.end());
  module.load_state_dict(tensors);
}

NamedTensors Ema::state() const {
  NamedTensors out = shadow_;
  out.emplace_back("num_updates", scalar_f64(static_cast<double>(updates_)));
  return out;
}

void Ema::load_state(const std::map<std::string, Tensor>& tensors) {
  std::map<std::string, Tensor> weights = tensors;
  weights.erase("num_updates");
  const double updates = read_scalar(tensors, "num_updates", "EMA state");
  load_named_tensors(shadow_, weights, "EMA state");
  updates_ = static_cast<int64_t>(updates);
}

}  // namespace ldm::models
