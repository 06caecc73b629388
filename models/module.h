// A small module system in the spirit of torch.nn.Module: modules own named parameters, buffers
// and submodules, so a model's tensors get PyTorch state_dict-style dotted names
// ("encoder.down.0.block.0.conv1.weight") that checkpoints and the PyTorch cross-checks share.
// Also the basic layers (Conv2d, ConvTranspose2d, GroupNorm, Linear) and the ResBlock.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/rng.h"
#include "core/tensor.h"

namespace ldm::models {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  // Submodules are held by pointer in the parent, and subclasses keep raw pointers to them, so
  // a module is neither copyable nor movable.
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // Trainable tensors, own ones first and then each submodule's, all in registration order
  // (the order of torch's named_parameters()).
  NamedTensors parameters() const;
  // Parameters and buffers (tensors saved with the model but not trained, such as a frozen
  // codebook), like torch's state_dict().
  NamedTensors named_tensors() const;
  std::map<std::string, Tensor> state_dict() const;
  // Copies every tensor in; throws one ldm::Error listing all missing, unexpected and
  // mismatched (shape or dtype) names, and then changes nothing.
  void load_state_dict(const std::map<std::string, Tensor>& tensors);
  void zero_grad();
  int64_t num_parameters() const;

 protected:
  // Marks `value` as requiring grad and returns the stored handle (which aliases `value`).
  Tensor register_parameter(const std::string& name, Tensor value);
  Tensor register_buffer(const std::string& name, Tensor value);
  template <typename M>
  M* register_module(const std::string& name, std::unique_ptr<M> module) {
    M* raw = module.get();
    children_.emplace_back(name, std::move(module));
    return raw;
  }

 private:
  void collect(const std::string& prefix, bool with_buffers, NamedTensors& out) const;

  NamedTensors params_;
  NamedTensors buffers_;
  std::vector<std::pair<std::string, std::unique_ptr<Module>>> children_;
};

// Copies tensors[name] into each target in place after checking that the names match exactly
// and shapes and dtypes agree; otherwise throws one ldm::Error, prefixed with `what`, listing
// every missing, unexpected and mismatched name, and changes nothing.
void load_named_tensors(const NamedTensors& targets, const std::map<std::string, Tensor>& tensors,
                        const std::string& what);

// Default initializations come from one Rng consumed in construction order, so a model built
// twice from the same seed has the same weights.
class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride,
         int64_t padding, Rng& rng, bool bias = true);
  Tensor forward(const Tensor& x) const;
  Tensor weight, bias;
  int64_t stride, padding;
};

// Weight [C_in, C_out, K, K] as in PyTorch.
class ConvTranspose2d : public Module {
 public:
  ConvTranspose2d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, int64_t stride,
                  int64_t padding, Rng& rng, bool bias = true);
  Tensor forward(const Tensor& x) const;
  Tensor weight, bias;
  int64_t stride, padding;
};

class GroupNorm : public Module {
 public:
  GroupNorm(int64_t groups, int64_t channels, double eps = 1e-5);
  Tensor forward(const Tensor& x) const;
  Tensor weight, bias;
  int64_t groups;
  double eps;
};

class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, Rng& rng, bool bias = true);
  Tensor forward(const Tensor& x) const;
  Tensor weight, bias;
};

// A learned lookup table [num, dim], initialized N(0, 1) as torch.nn.Embedding.
class Embedding : public Module {
 public:
  Embedding(int64_t num, int64_t dim, Rng& rng);
  Tensor forward(const Tensor& indices) const;  // i32 of any shape S -> [S..., dim]
  Tensor weight;
};

// GroupNorm -> SiLU -> Conv3x3 -> GroupNorm -> SiLU -> Conv3x3, plus the input (through a 1x1
// conv named "skip" when the channel count changes).
class ResBlock : public Module {
 public:
  ResBlock(int64_t in_channels, int64_t out_channels, int64_t groups, Rng& rng);
  Tensor forward(const Tensor& x) const;
  GroupNorm* norm1;
  Conv2d* conv1;
  GroupNorm* norm2;
  Conv2d* conv2;
  Conv2d* skip = nullptr;
};

// The Rng stream of a named part of a model, so that growing one part (the decoder) does not
// change another's (the encoder's) initialization. FNV-1a rather than std::hash, whose values
// differ between standard libraries.
uint64_t rng_stream_for(std::string_view name);

// torch's kaiming_uniform_(a=sqrt(5)) and default bias init both reduce to
// uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)).
Tensor default_uniform_init(Rng& rng, const Shape& shape, int64_t fan_in);

}  // namespace ldm::models
