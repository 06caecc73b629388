// Tape autograd. Every differentiable op run with grad mode on and an input that requires grad
// appends a Node: the op, its inputs, and a closure holding what its backward needs (saved
// tensors, small stats). Nodes are numbered in the order they were recorded, so walking them in
// reverse number order replays the tape backwards. A node's closure, and with it the saved
// tensors, is released as soon as the node has run, unless the graph is retained.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/op_list.h"
#include "core/tensor.h"

namespace ldm {

// Gets the gradients of the node's outputs (same shapes as the outputs; zeros where an output
// was not used) and returns one gradient per input, undefined for inputs that need none.
using BackwardFn = std::function<std::vector<Tensor>(std::span<const Tensor> grad_outputs)>;

struct Node;

// Where an input's gradient goes: into a leaf's grad(), or into an output slot of the node that
// produced the input. Holding only the producer (not the input tensor itself) lets
// intermediate activations be freed as soon as nothing else uses them.
struct Edge {
  std::shared_ptr<TensorImpl> leaf;   // set for leaves that require grad
  std::shared_ptr<Node> producer;     // set for op outputs
  int output_index = 0;
  Shape shape;
  bool needs_grad() const { return leaf || producer; }
};

struct Node {
  std::string_view op;  // op_name() of an LDM_OPS entry, or a view such as "reshape"
  std::string description;  // "conv2d(f32 [2, 3, 8, 8], f32 [4, 3, 3, 3])", for messages
  uint64_t tape_position = 0;
  std::vector<Edge> inputs;  // an empty Edge where an input needs no gradient
  std::vector<Shape> output_shapes;
  DType output_dtype = DType::kF32;
  Device device;
  BackwardFn backward;  // empty once released
};

enum class RetainGraph { kNo, kYes };

// Grad mode is per thread and on by default.
bool grad_enabled();

// Turns recording off for its lifetime (sampling, EMA, optimizer steps).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

// True when an op applied to these inputs must be recorded.
bool needs_grad(std::initializer_list<const Tensor*> inputs);
bool needs_grad(std::span<const Tensor> inputs);

// Records `op` with its inputs and outputs; outputs become non-leaves that require grad.
void record_node(std::string_view op, std::span<const Tensor> inputs, std::span<Tensor> outputs,
                 BackwardFn backward);

// Back-propagates from `root`. With no `grad_root`, root must hold one element and its
// gradient is 1. Leaf gradients accumulate (+=) into tensor.grad().
void backward(const Tensor& root, const Tensor& grad_root = Tensor(),
              RetainGraph retain = RetainGraph::kNo);

}  // namespace ldm
