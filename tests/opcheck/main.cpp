// ldm-opcheck: `--list` prints the ops of LDM_OPS; `CASE.json` runs one op case (see opcheck.h)
// forward and backward and writes outputs and input gradients for tests/torch/crosscheck.py.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <string>

#include "core/autograd.h"
#include "core/check.h"
#include "core/op_list.h"
#include "core/safetensors.h"
#include "tests/opcheck/opcheck.h"

namespace ldm::opcheck {

Params::Params(nlohmann::json params) : json_(std::move(params)) {
  if (json_.is_null()) json_ = nlohmann::json::object();
  if (!json_.is_object()) fail("\"params\" must be a JSON object, not ", json_.dump());
}

const nlohmann::json& Params::at(const std::string& key) const {
  const auto it = json_.find(key);
  if (it == json_.end()) fail("missing param \"", key, "\"");
  if (!it->is_number()) fail("param \"", key, "\" must be a number, not ", it->dump());
  used_.insert(key);
  return *it;
}

bool Params::has(const std::string& key) const {
  return json_.contains(key);
}

double Params::number(const std::string& key) const {
  return at(key).get<double>();
}

double Params::number(const std::string& key, double fallback) const {
  return has(key) ? number(key) : fallback;
}

int64_t Params::integer(const std::string& key) const {
  const nlohmann::json& value = at(key);
  if (!value.is_number_integer())
    fail("param \"", key, "\" must be an integer, not ", value.dump());
  return value.get<int64_t>();
}

int64_t Params::integer(const std::string& key, int64_t fallback) const {
  return has(key) ? integer(key) : fallback;
}

std::vector<int64_t> Params::integers(const std::string& key) const {
  const auto it = json_.find(key);
  if (it == json_.end()) fail("missing param \"", key, "\"");
  if (!it->is_array()) fail("param \"", key, "\" must be an array of integers, not ", it->dump());
  std::vector<int64_t> values;
  for (const nlohmann::json& value : *it) {
    if (!value.is_number_integer())
      fail("param \"", key, "\" must be an array of integers, not ", it->dump());
    values.push_back(value.get<int64_t>());
  }
  used_.insert(key);
  return values;
}

void Params::require_all_used(std::string_view op) const {
  for (const auto& [key, value] : json_.items())
    if (!used_.contains(key)) fail(op, " has no param \"", key, "\"");
}

Inputs::Inputs(std::string path, std::map<std::string, Tensor> tensors)
    : path_(std::move(path)), tensors_(std::move(tensors)) {}

Tensor Inputs::find(const std::string& name, bool required) const {
  const auto it = tensors_.find(name);
  if (it == tensors_.end()) {
    if (required) fail(path_, " has no tensor \"", name, "\"");
    return Tensor();
  }
  used_.insert(name);
  return it->second;
}

Tensor Inputs::f32(const std::string& name) const {
  Tensor t = find(name, true);
  if (t.dtype() != DType::kF32) fail("tensor \"", name, "\" must be f32, not ", t.description());
  return t;
}

Tensor Inputs::optional_f32(const std::string& name) const {
  return tensors_.contains(name) ? f32(name) : Tensor();
}

Tensor Inputs::i32(const std::string& name) const {
  Tensor t = find(name, true);
  if (t.dtype() != DType::kI32) fail("tensor \"", name, "\" must be i32, not ", t.description());
  return t;
}

Tensor Inputs::upstream_grad(const std::string& output) const {
  return f32("grad." + output);
}

std::map<std::string, Tensor> Inputs::op_inputs() const {
  std::map<std::string, Tensor> result;
  for (const auto& [name, tensor] : tensors_)
    if (!name.starts_with("grad.")) result.emplace(name, tensor);
  return result;
}

void Inputs::require_all_used(std::string_view op) const {
  for (const auto& [name, tensor] : tensors_)
    if (!used_.contains(name)) fail(op, " does not use the tensor \"", name, "\" of ", path_);
}

namespace {

const std::map<std::string_view, Runner>& runner_table() {
  static const std::map<std::string_view, Runner> table = [] {
    std::map<std::string_view, Runner> t;
    for (auto family : {conv_norm_runners, elementwise_runners, matmul_runners, shape_runners,
                        embedding_runners, diffusion_runners})
      for (const RunnerEntry& entry : family()) {
        bool listed = false;
        for (std::string_view name : kOpNames) listed = listed || name == entry.op;
        LDM_CHECK(listed, "runner for \"", entry.op, "\", which is not in LDM_OPS");
        LDM_CHECK(t.emplace(entry.op, entry.run).second, "two runners for ", entry.op);
      }
    return t;
  }();
  return table;
}

OpKind op_kind(const std::string& name) {
  for (int i = 0; i < kOpCount; ++i)
    if (kOpNames[static_cast<size_t>(i)] == name) return static_cast<OpKind>(i);
  fail("unknown op \"", name, "\" (ldm-opcheck --list prints the ops)");
}

void run_case(const std::string& case_path) {
  std::ifstream file(case_path);
  if (!file) fail("cannot open the case file");
  nlohmann::json spec;
  try {
    spec = nlohmann::json::parse(file);
  } catch (const nlohmann::json::exception& e) {
    fail("not valid JSON (", e.what(), ")");
  }
  if (!spec.is_object() || !spec.contains("op") || !spec.contains("inputs") ||
      !spec.contains("output"))
    fail("expected a JSON object {\"op\", \"params\", \"inputs\", \"output\"}");
  const std::string op = spec.at("op").get<std::string>();
  const OpKind kind = op_kind(op);
  const auto runner = runner_table().find(op);
  if (runner == runner_table().end()) fail("ldm-opcheck has no runner for op \"", op, "\"");

  const std::string inputs_path = spec.at("inputs").get<std::string>();
  const Params params(spec.value("params", nlohmann::json::object()));
  const Inputs inputs(inputs_path, load_safetensors(inputs_path).tensors);
  const std::map<std::string, Tensor> op_inputs = inputs.op_inputs();

  // Update ops never go on the tape; everything else gets gradients for all floating inputs.
  const bool differentiable = op_has_backward(kind);
  if (differentiable)
    for (auto [name, tensor] : op_inputs)
      if (is_floating(tensor.dtype())) tensor.set_requires_grad(true);

  Outputs results = runner->second(params, inputs);

  if (differentiable) {
    // One backward per differentiable output; the graph is kept until the last one, and leaf
    // gradients accumulate, so the sum is the gradient of sum_i <out_i, grad_i>.
    std::vector<std::pair<Tensor, Tensor>> roots;
    for (const auto& [name, out] : results)
      if (out.requires_grad()) {
        Tensor grad = inputs.upstream_grad(name);
        if (grad.shape() != out.shape())
          fail("grad.", name, " is ", shape_str(grad.shape()), " but the output ", name, " is ",
               shape_str(out.shape()));
        roots.emplace_back(out, grad);
      }
    for (size_t i = 0; i < roots.size(); ++i)
      backward(roots[i].first, roots[i].second,
               i + 1 < roots.size() ? RetainGraph::kYes : RetainGraph::kNo);
    for (const auto& [name, tensor] : op_inputs)
      if (tensor.grad().defined()) results.emplace("grad." + name, tensor.grad());
  }
  params.require_all_used(op);
  inputs.require_all_used(op);
  save_safetensors(spec.at("output").get<std::string>(), results);
}

}  // namespace
}  // namespace ldm::opcheck

int main(int argc, char** argv) {
  const std::string usage = "usage: ldm-opcheck --list | ldm-opcheck CASE.json";
  if (argc != 2) {
    std::cerr << usage << "\n";
    return 1;
  }
  const std::string arg = argv[1];
  if (arg == "--list") {
    for (std::string_view name : ldm::kOpNames) std::cout << name << "\n";
    return 0;
  }
  if (arg == "--help" || arg == "-h") {
    std::cout << usage << "\n";
    return 0;
  }
  try {
    ldm::opcheck::run_case(arg);
  } catch (const ldm::Error& e) {
    std::cerr << "ldm-opcheck: " << arg << ": " << e.what() << "\n";
    return 1;
  } catch (const nlohmann::json::exception& e) {
    std::cerr << "ldm-opcheck: " << arg << ": bad case: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
