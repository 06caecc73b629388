// Module bookkeeping (names, state_dict load/save) and the basic layers.
#include "models/module.h"

#include <cmath>
#include <set>
#include <sstream>

#include "core/ops.h"

namespace ldm::models {

Tensor Module::register_parameter(const std::string& name, Tensor value) {
  value.set_requires_grad(true);
  params_.emplace_back(name, value);
  return value;
}

Tensor Module::register_buffer(const std::string& name, Tensor value) {
  buffers_.emplace_back(name, value);
  return value;
}

void Module::collect(const std::string& prefix, bool with_buffers, NamedTensors& out) const {
  for (const auto& [name, t] : params_) out.emplace_back(prefix + name, t);
  if (with_buffers)
    for (const auto& [name, t] : buffers_) out.emplace_back(prefix + name, t);
  for (const auto& [name, child] : children_)
    child->collect(prefix + name + ".", with_buffers, out);
}

NamedTensors Module::parameters() const {
  NamedTensors out;
  collect("", false, out);
  return out;
}

NamedTensors Module::named_tensors() const {
  NamedTensors out;
  collect("", true, out);
  return out;
}

std::map<std::string, Tensor> Module::state_dict() const {
  std::map<std::string, Tensor> out;
  for (auto& [name, t] : named_tensors()) out.emplace(name, t.detach());
  return out;
}

void Module::load_state_dict(const std::map<std::string, Tensor>& tensors) {
  load_named_tensors(named_tensors(), tensors, "load_state_dict");
}

void load_named_tensors(const NamedTensors& targets, const std::map<std::string, Tensor>& tensors,
                        const std::string& what) {
  std::vector<std::string> missing, unexpected, mismatched;
  std::set<std::string> known;
  for (const auto& [name, t] : targets) {
    known.insert(name);
    auto it = tensors.find(name);
    if (it == tensors.end()) {
      missing.push_back(name);
    } else if (it->second.shape() != t.shape() || it->second.dtype() != t.dtype()) {
      mismatched.push_back(name + " (expected " + t.description() + ", got " +
                           it->second.description() + ")");
    }
  }
  for (const auto& [name, t] : tensors)
    if (!known.count(name)) unexpected.push_back(name);
  if (!missing.empty() || !unexpected.empty() || !mismatched.empty()) {
    std::ostringstream msg;
    msg << what << ":";
    auto list = [&](const char* kind, const std::vector<std::string>& names) {
      if (names.empty()) return;
      msg << " " << kind << ":";
      for (size_t i = 0; i < names.size(); ++i) msg << (i ? ", " : " ") << names[i];
      msg << ";";
    };
    list("missing", missing);
    list("unexpected", unexpected);
    list("mismatched", mismatched);
    throw Error(msg.str());
  }
  // In place, because layers hold handles to these very tensors.
  for (const auto& [name, t] : targets) {
    const Tensor& src = tensors.at(name);
    // Loading a module's own state_dict() aliases source and target.
    if (src.raw_data() != t.raw_data())
      copy_bytes(t.raw_data(), t.device(), src.raw_data(), src.device(), t.nbytes());
  }
}

void Module::zero_grad() {
  for (auto& [name, t] : parameters()) t.zero_grad();
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (const auto& [name, t] : parameters()) n += t.numel();
  return n;
}

uint64_t rng_stream_for(std::string_view name) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char ch : name) h = (h ^ ch) * 1099511628211ull;
  return h;
}

Tensor default_uniform_init(Rng& rng, const Shape& shape, int64_t fan_in) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  return rng.uniform(shape, -bound, bound);
}

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride_,
               int64_t padding_, Rng& rng, bool with_bias)
    : stride(stride_), padding(padding_) {
  const int64_t fan_in = in_channels * kernel_size * kernel_size;
  weight = register_parameter(
      "weight",
      default_uniform_init(rng, {out_channels, in_channels, kernel_size, kernel_size}, fan_in));
  if (with_bias)
    bias = register_parameter("bias", default_uniform_init(rng, {out_channels}, fan_in));
}

Tensor Conv2d::forward(const Tensor& x) const {
  return ops::conv2d(x, weight, bias, stride, padding);
}

ConvTranspose2d::ConvTranspose2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size,
                                 int64_t stride_, int64_t padding_, Rng& rng, bool with_bias)
    : stride(stride_), padding(padding_) {
  // torch computes fan_in from weight dim 1, which for a transposed conv is C_out.
  const int64_t fan_in = out_channels * kernel_size * kernel_size;
  weight = register_parameter(
      "weight",
      default_uniform_init(rng, {in_channels, out_channels, kernel_size, kernel_size}, fan_in));
  if (with_bias)
    bias = register_parameter("bias", default_uniform_init(rng, {out_channels}, fan_in));
}

Tensor ConvTranspose2d::forward(const Tensor& x) const {
  return ops::conv_transpose2d(x, weight, bias, stride, padding);
}

GroupNorm::GroupNorm(int64_t groups_, int64_t channels, double eps_) : groups(groups_), eps(eps_) {
  if (groups <= 0 || channels % groups != 0)
    fail("GroupNorm: ", channels, " channels are not divisible into ", groups, " groups");
  weight = register_parameter("weight", Tensor::full({channels}, 1.0));
  bias = register_parameter("bias", Tensor::zeros({channels}));
}

Tensor GroupNorm::forward(const Tensor& x) const {
  return ops::group_norm(x, weight, bias, groups, eps);
}

Linear::Linear(int64_t in_features, int64_t out_features, Rng& rng, bool with_bias) {
  weight = register_parameter("weight",
                              default_uniform_init(rng, {out_features, in_features}, in_features));
  if (with_bias)
    bias = register_parameter("bias", default_uniform_init(rng, {out_features}, in_features));
}

Tensor Linear::forward(const Tensor& x) const {
  return ops::linear(x, weight, bias);
}

Embedding::Embedding(int64_t num, int64_t dim, Rng& rng) {
  weight = register_parameter("weight", rng.normal({num, dim}));
}

Tensor Embedding::forward(const Tensor& indices) const {
  return ops::embedding(weight, indices);
}

ResBlock::ResBlock(int64_t in_channels, int64_t out_channels, int64_t groups, Rng& rng) {
  norm1 = register_module("norm1", std::make_unique<GroupNorm>(groups, in_channels));
  conv1 =
      register_module("conv1", std::make_unique<Conv2d>(in_channels, out_channels, 3, 1, 1, rng));
  norm2 = register_module("norm2", std::make_unique<GroupNorm>(groups, out_channels));
  conv2 =
      register_module("conv2", std::make_unique<Conv2d>(out_channels, out_channels, 3, 1, 1, rng));
  if (in_channels != out_channels)
    skip =
        register_module("skip", std::make_unique<Conv2d>(in_channels, out_channels, 1, 1, 0, rng));
}

Tensor ResBlock::forward(const Tensor& x) const {
  Tensor h = conv1->forward(ops::silu(norm1->forward(x)));
  h = conv2->forward(ops::silu(norm2->forward(h)));
  return ops::add(skip ? skip->forward(x) : x, h);
}

}  // namespace ldm::models
