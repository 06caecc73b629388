// Backward pass over the recorded tape.
#include "core/autograd.h"

#include <algorithm>
#include <atomic>
#include <unordered_map>
#include <unordered_set>

#include "core/ops/elementwise.h"

namespace ldm {
namespace {

thread_local bool t_grad_enabled = true;
std::atomic<uint64_t> g_tape_position{0};

bool tensor_needs_grad(const Tensor* t) { return t != nullptr && t->defined() && t->requires_grad(); }

// Adds `grad` into `slot` (slot may be undefined), outside grad mode.
void accumulate(std::shared_ptr<TensorImpl>& slot, const Tensor& grad) {
  if (!slot) {
    slot = grad.impl_ptr();
    return;
  }
  NoGradGuard no_grad;
  slot = ops::add(Tensor(slot), grad).impl_ptr();
}

std::vector<Node*> reachable_nodes_in_reverse_tape_order(Node* root) {
  std::vector<Node*> nodes;
  std::unordered_set<Node*> seen{root};
  std::vector<Node*> stack{root};
  while (!stack.empty()) {
    Node* node = stack.back();
    stack.pop_back();
    nodes.push_back(node);
    for (const Edge& input : node->inputs)
      if (input.producer && seen.insert(input.producer.get()).second)
        stack.push_back(input.producer.get());
  }
  std::sort(nodes.begin(), nodes.end(),
            [](const Node* a, const Node* b) { return a->tape_position > b->tape_position; });
  return nodes;
}

}  // namespace

bool grad_enabled() { return t_grad_enabled; }

NoGradGuard::NoGradGuard() : previous_(t_grad_enabled) { t_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { t_grad_enabled = previous_; }

bool needs_grad(std::initializer_list<const Tensor*> inputs) {
  if (!t_grad_enabled) return false;
  return std::any_of(inputs.begin(), inputs.end(), tensor_needs_grad);
}

bool needs_grad(std::span<const Tensor> inputs) {
  if (!t_grad_enabled) return false;
  return std::any_of(inputs.begin(), inputs.end(), [](const Tensor& t) { return tensor_needs_grad(&t); });
}

void record_node(std::string_view op, std::span<const Tensor> inputs, std::span<Tensor> outputs,
                 BackwardFn backward) {
  auto node = std::make_shared<Node>();
  node->op = op;
  node->tape_position = g_tape_position.fetch_add(1);
  node->description = std::string(op) + "(";
  for (size_t i = 0; i < inputs.size(); ++i) {
    node->description += (i ? ", " : "") + inputs[i].description();
    Edge edge;
    if (tensor_needs_grad(&inputs[i])) {
      const auto& impl = inputs[i].impl_ptr();
      edge.shape = impl->shape;
      if (impl->grad_fn) {
        edge.producer = impl->grad_fn;
        edge.output_index = impl->output_index;
      } else {
        edge.leaf = impl;
      }
    }
    node->inputs.push_back(std::move(edge));
  }
  node->description += ")";
  node->backward = std::move(backward);
  LDM_CHECK(!outputs.empty());
  node->output_dtype = outputs[0].dtype();
  node->device = outputs[0].device();
  for (size_t i = 0; i < outputs.size(); ++i) {
    node->output_shapes.push_back(outputs[i].shape());
    TensorImpl& out = *outputs[i].impl_ptr();
    out.grad_fn = node;
    out.output_index = static_cast<int>(i);
    out.requires_grad = true;
  }
}

void backward(const Tensor& root, const Tensor& grad_root, RetainGraph retain) {
  if (!root.requires_grad())
    fail("backward: the tensor (", root.description(),
         ") does not require grad: no input of its graph was marked with set_requires_grad");
  Tensor seed = grad_root;
  if (!seed.defined()) {
    if (root.numel() != 1)
      fail("backward: a ", root.description(),
           " tensor needs an explicit gradient; only one-element tensors default to 1");
    seed = Tensor::full(root.shape(), 1.0, root.dtype(), root.device());
  } else if (seed.shape() != root.shape() || seed.dtype() != root.dtype()) {
    fail("backward: gradient ", seed.description(), " does not match the tensor ",
         root.description());
  }
  if (root.is_leaf()) {
    accumulate(root.impl_ptr()->grad, seed);
    return;
  }

  Node* root_node = root.impl_ptr()->grad_fn.get();
  std::unordered_map<Node*, std::vector<Tensor>> pending;  // gradients of each node's outputs
  pending[root_node].resize(root_node->output_shapes.size());
  pending[root_node][static_cast<size_t>(root.impl_ptr()->output_index)] = seed;

  for (Node* node : reachable_nodes_in_reverse_tape_order(root_node)) {
    auto found = pending.find(node);
    if (found == pending.end()) continue;  // reachable, but no gradient flowed into it
    std::vector<Tensor> grad_outputs = std::move(found->second);
    pending.erase(found);
    if (!node->backward)
      fail("backward through ", node->description,
           " a second time: its saved tensors were released after the first backward; pass "
           "RetainGraph::kYes to the first backward to keep them");
    for (size_t i = 0; i < grad_outputs.size(); ++i)
      if (!grad_outputs[i].defined())
        grad_outputs[i] = Tensor::zeros(node->output_shapes[i], node->output_dtype, node->device);

    std::vector<Tensor> grad_inputs = node->backward(grad_outputs);
    if (retain == RetainGraph::kNo) node->backward = nullptr;
    LDM_CHECK(grad_inputs.size() == node->inputs.size(), node->description, " returned ",
              grad_inputs.size(), " input gradients");

    for (size_t i = 0; i < grad_inputs.size(); ++i) {
      const Edge& input = node->inputs[i];
      const Tensor& grad = grad_inputs[i];
      if (!input.needs_grad() || !grad.defined()) continue;
      LDM_CHECK(grad.shape() == input.shape, node->description, ": gradient ",
                grad.description(), " for input ", i, " of shape ", shape_str(input.shape));
      if (input.producer) {
        auto& slots = pending[input.producer.get()];
        slots.resize(input.producer->output_shapes.size());
        auto& slot = slots[static_cast<size_t>(input.output_index)];
        std::shared_ptr<TensorImpl> sum = slot.impl_ptr();
        accumulate(sum, grad);
        slot = Tensor(sum);
      } else {
        accumulate(input.leaf->grad, grad);
      }
    }
  }
}

}  // namespace ldm
