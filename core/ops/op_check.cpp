// Messages for op misuse.
#include "core/ops/op_check.h"

namespace ldm::ops {

OpCheck::OpCheck(OpKind op, std::initializer_list<NamedTensor> tensors)
    : op_(op), tensors_(tensors) {}

void OpCheck::fail_with(const std::string& message) const {
  std::string text = std::string(op_name(op_)) + ": " + message + " (";
  bool first = true;
  for (const NamedTensor& t : tensors_) {
    if (!t.tensor->defined()) continue;
    text += std::string(first ? "" : ", ") + t.name + ": " + t.tensor->description();
    first = false;
  }
  throw Error(text + ")");
}

void OpCheck::same_floating() const {
  const Tensor* first = nullptr;
  const char* first_name = "";
  for (const NamedTensor& t : tensors_) {
    if (!t.tensor->defined()) continue;
    require(is_floating(t.tensor->dtype()), t.name, " must be floating point, not ",
            dtype_name(t.tensor->dtype()));
    if (first == nullptr) {
      first = t.tensor;
      first_name = t.name;
      continue;
    }
    require(t.tensor->dtype() == first->dtype(), t.name, " is ", dtype_name(t.tensor->dtype()),
            " but ", first_name, " is ", dtype_name(first->dtype()));
    require(t.tensor->device() == first->device(), t.name, " is on ", t.tensor->device().name(),
            " but ", first_name, " is on ", first->device().name());
  }
}

void OpCheck::rank(const Tensor& t, const char* name, int expected) const {
  require(t.rank() == expected, name, " must have rank ", expected, ", not ", t.rank());
}

}  // namespace ldm::ops
