// ldm-opcheck runs one op of LDM_OPS on inputs from a safetensors file so that
// tests/torch/crosscheck.py can compare it with PyTorch. Each op has a small runner that reads
// its named inputs and JSON params and calls the public API (ldm::ops::...); the runners live in
// one file per op family and are collected in a table keyed by op name.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/tensor.h"

namespace ldm::opcheck {

// The case's "params" object. Every key must be read by the runner: a key nobody read is a typo
// in the Python case, which would otherwise silently test the default instead.
class Params {
 public:
  explicit Params(nlohmann::json params);

  double number(const std::string& key) const;
  double number(const std::string& key, double fallback) const;
  int64_t integer(const std::string& key) const;
  int64_t integer(const std::string& key, int64_t fallback) const;
  // A JSON array of integers (permute's order).
  std::vector<int64_t> integers(const std::string& key) const;
  bool has(const std::string& key) const;

  // Throws ldm::Error naming the first key no runner asked for.
  void require_all_used(std::string_view op) const;

 private:
  const nlohmann::json& at(const std::string& key) const;

  nlohmann::json json_;
  mutable std::set<std::string> used_;
};

// The tensors of the inputs file. Names starting with "grad." are upstream gradients for the
// outputs; the rest are op inputs, which the runner must all consume (same reason as Params).
class Inputs {
 public:
  Inputs(std::string path, std::map<std::string, Tensor> tensors);

  // A required f32 input; ldm::Error when it is missing or of another dtype.
  Tensor f32(const std::string& name) const;
  // An f32 input that may be absent (an optional bias, the noise of a last sampler step).
  Tensor optional_f32(const std::string& name) const;
  // A required i32 input (indices).
  Tensor i32(const std::string& name) const;
  // The upstream gradient "grad.<output>".
  Tensor upstream_grad(const std::string& output) const;

  // The op inputs (not the "grad." entries), by name.
  std::map<std::string, Tensor> op_inputs() const;
  void require_all_used(std::string_view op) const;

 private:
  Tensor find(const std::string& name, bool required) const;

  std::string path_;
  std::map<std::string, Tensor> tensors_;
  mutable std::set<std::string> used_;
};

// Named results: op outputs (differentiable ones get their "grad." entry back-propagated), or
// the updated tensors of an in-place update op.
using Outputs = std::map<std::string, Tensor>;
using Runner = Outputs (*)(const Params& params, const Inputs& inputs);

struct RunnerEntry {
  std::string_view op;  // an op_name() of LDM_OPS
  Runner run;
};

// One table per family file.
std::vector<RunnerEntry> conv_norm_runners();
std::vector<RunnerEntry> elementwise_runners();
std::vector<RunnerEntry> matmul_runners();
std::vector<RunnerEntry> shape_runners();
std::vector<RunnerEntry> embedding_runners();
std::vector<RunnerEntry> diffusion_runners();

}  // namespace ldm::opcheck
