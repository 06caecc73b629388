// Argument validation for op wrappers: every misuse message names the op and the tensors it was
// given, e.g. "conv2d: w expects 3 input channels but x has 4 (x: f32 [2, 4, 8, 8], ...)".
#pragma once

#include <initializer_list>
#include <string>
#include <vector>

#include "core/check.h"
#include "core/op_list.h"
#include "core/tensor.h"

namespace ldm::ops {

struct NamedTensor {
  const char* name;
  const Tensor* tensor;
};

class OpCheck {
 public:
  OpCheck(OpKind op, std::initializer_list<NamedTensor> tensors);

  template <typename... Parts>
  void require(bool condition, Parts&&... parts) const {
    if (!condition) fail_with(detail::concat(std::forward<Parts>(parts)...));
  }
  [[noreturn]] void fail_with(const std::string& message) const;

  // All defined tensors: floating point, one dtype, one device.
  void same_floating() const;
  void rank(const Tensor& t, const char* name, int expected) const;

 private:
  OpKind op_;
  std::vector<NamedTensor> tensors_;
};

}  // namespace ldm::ops
