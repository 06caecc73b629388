// conv2d and conv_transpose2d wrappers.
// Backend calls: forward in {x, w, bias}, out {y}; backward in {x, w, dy}, out {dx, dw, db}
// (undefined outputs are skipped).
#include "core/ops/conv.h"

#include "core/ops/op_check.h"
#include "core/ops/op_util.h"
#include "kernels/args.h"

namespace ldm::ops {
namespace {

enum class Direction { kForward, kTransposed };

Tensor convolution(OpKind op, Direction direction, const Tensor& x, const Tensor& w,
                   const Tensor& bias, int64_t stride, int64_t padding) {
  OpCheck check(op, {{"x", &x}, {"w", &w}, {"bias", &bias}});
  check.same_floating();
  check.rank(x, "x", 4);
  check.rank(w, "w", 4);
  check.require(w.dim(2) == w.dim(3), "only square kernels are supported");
  check.require(stride >= 1 && padding >= 0, "stride must be >= 1 and padding >= 0 (got stride ",
                stride, ", padding ", padding, ")");
  const bool transposed = direction == Direction::kTransposed;
  // conv2d weights are [C_out, C_in, K, K]; transposed ones [C_in, C_out, K, K].
  const int64_t w_in = transposed ? w.dim(0) : w.dim(1);
  const int64_t w_out = transposed ? w.dim(1) : w.dim(0);
  check.require(w_in == x.dim(1), "w expects ", w_in, " input channels but x has ", x.dim(1));

  kernels::Conv2dArgs a;
  a.N = x.dim(0);
  a.C_in = x.dim(1);
  a.H_in = x.dim(2);
  a.W_in = x.dim(3);
  a.C_out = w_out;
  a.kernel = w.dim(2);
  a.stride = stride;
  a.padding = padding;
  a.has_bias = bias.defined();
  if (transposed) {
    a.H_out = (a.H_in - 1) * stride - 2 * padding + a.kernel;
    a.W_out = (a.W_in - 1) * stride - 2 * padding + a.kernel;
  } else {
    a.H_out = (a.H_in + 2 * padding - a.kernel) / stride + 1;
    a.W_out = (a.W_in + 2 * padding - a.kernel) / stride + 1;
    check.require(a.H_in + 2 * padding >= a.kernel && a.W_in + 2 * padding >= a.kernel,
                  "the kernel (", a.kernel, ") is larger than the padded input");
  }
  check.require(a.H_out >= 1 && a.W_out >= 1, "the output would be empty");
  if (bias.defined()) {
    check.rank(bias, "bias", 1);
    check.require(bias.dim(0) == a.C_out, "bias has ", bias.dim(0), " values for ", a.C_out,
                  " output channels");
  }

  Tensor y = Tensor::empty({a.N, a.C_out, a.H_out, a.W_out}, x.dtype(), x.device());
  run_op(op, Pass::kForward, x.device(), {x, w, bias}, {y}, &a);
  record_if_needed(op, {x, w, bias}, {y}, [op, x, w, bias, a](std::span<const Tensor> grads) {
    Tensor dx = grad_buffer_for(x), dw = grad_buffer_for(w), db = grad_buffer_for(bias);
    run_op(op, Pass::kBackward, x.device(), {x, w, grads[0]}, {dx, dw, db}, &a);
    return std::vector<Tensor>{dx, dw, db};
  });
  return y;
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, int64_t stride,
              int64_t padding) {
  return convolution(OpKind::kConv2d, Direction::kForward, x, w, bias, stride, padding);
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& bias, int64_t stride,
                        int64_t padding) {
  return convolution(OpKind::kConvTranspose2d, Direction::kTransposed, x, w, bias, stride,
                     padding);
}

}  // namespace ldm::ops
