// reshape, with a tape node of its own so gradients are reshaped back.
#include "core/ops/view.h"

#include "core/autograd.h"

namespace ldm::ops {

Tensor reshape(const Tensor& x, const Shape& requested) {
  Shape shape = requested;
  int64_t known = 1;
  int inferred = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1 && inferred < 0) {
      inferred = static_cast<int>(i);
    } else if (shape[i] < 0) {
      fail("reshape: bad target shape ", shape_str(requested), " for ", x.description());
    } else {
      known *= shape[i];
    }
  }
  if (inferred >= 0 && known > 0 && x.numel() % known == 0)
    shape[static_cast<size_t>(inferred)] = x.numel() / known;
  if (shape_numel(shape) != x.numel() || (inferred >= 0 && shape[static_cast<size_t>(inferred)] < 0))
    fail("reshape: cannot view ", x.description(), " as ", shape_str(requested));

  Tensor y = x.detach();
  y.impl_ptr()->shape = shape;
  if (x.requires_grad() && grad_enabled()) {
    const Shape from = x.shape();
    Tensor inputs[] = {x};
    Tensor outputs[] = {y};
    record_node("reshape", inputs, outputs, [from](std::span<const Tensor> grads) {
      return std::vector<Tensor>{reshape(grads[0], from)};
    });
    y = outputs[0];
  }
  return y;
}

}  // namespace ldm::ops
