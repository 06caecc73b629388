// Cases for group_norm, concat, slice, permute, nearest upsampling and bilinear resizing, plus
// an exact check of permute against a plain index computation on shapes large enough to take
// the kernel's tiled and parallel paths (finite differences on those would be slow).
#include <catch2/catch.hpp>
#include <vector>

#include "core/rng.h"
#include "tests/op_harness.h"

namespace ldm::test {
namespace {

OpRunner group_norm(int64_t groups) {
  return [=](std::span<const Tensor> in) {
    return std::vector<Tensor>{ops::group_norm(in[0], in[1], in[2], groups)};
  };
}

OpRunner permute(std::vector<int> order) {
  return [=](std::span<const Tensor> in) {
    return std::vector<Tensor>{ops::permute(in[0], order)};
  };
}

OpRunner resize(int64_t H, int64_t W) {
  return [=](std::span<const Tensor> in) {
    return std::vector<Tensor>{ops::resize_bilinear(in[0], H, W)};
  };
}

LDM_OP_CASES(std::vector<OpCase>{
    {OpKind::kGroupNorm, "4 groups of 2 channels, odd HW",
     {normal("x", {2, 8, 5, 3}), normal("gamma", {8}), normal("beta", {8})}, group_norm(4)},
    {OpKind::kGroupNorm, "1 group (layer norm)",
     {normal("x", {3, 6, 3, 3}), normal("gamma", {6}), normal("beta", {6})}, group_norm(1)},
    {OpKind::kGroupNorm, "one channel per group",
     {uniform("x", {2, 3, 7, 1}, -2, 5), normal("gamma", {3}), normal("beta", {3})}, group_norm(3)},
    {OpKind::kConcat, "channels of NCHW",
     {normal("a", {2, 3, 4, 5}), normal("b", {2, 1, 4, 5}), normal("c", {2, 2, 4, 5})},
     [](std::span<const Tensor> in) { return std::vector<Tensor>{ops::concat(in, 1)}; }},
    {OpKind::kConcat, "batch dim",
     {normal("a", {1, 3, 5}), normal("b", {2, 3, 5})},
     [](std::span<const Tensor> in) { return std::vector<Tensor>{ops::concat(in, 0)}; }},
    {OpKind::kConcat, "last dim", {normal("a", {3, 2}), normal("b", {3, 5})},
     [](std::span<const Tensor> in) { return std::vector<Tensor>{ops::concat(in, -1)}; }},
    {OpKind::kSlice, "channels", {normal("x", {2, 7, 3, 5})},
     [](std::span<const Tensor> in) { return std::vector<Tensor>{ops::slice(in[0], 1, 2, 5)}; }},
    {OpKind::kSlice, "batch halves", {normal("x", {6, 3, 5})},
     [](std::span<const Tensor> in) {
       return std::vector<Tensor>{ops::slice(in[0], 0, 0, 3), ops::slice(in[0], 0, 3, 6)};
     }},
    {OpKind::kSlice, "last dim", {normal("x", {4, 9})},
     [](std::span<const Tensor> in) { return std::vector<Tensor>{ops::slice(in[0], -1, 8, 9)}; }},
    {OpKind::kPermute, "rank 1 identity", {normal("x", {7})}, permute({0})},
    {OpKind::kPermute, "rank 2 transpose", {normal("x", {5, 3})}, permute({1, 0})},
    {OpKind::kPermute, "rank 3 [N, C, L] -> tokens [N, L, C]", {normal("x", {2, 5, 7})},
     permute({0, 2, 1})},
    {OpKind::kPermute, "rank 3 identity with a size-1 dim", {normal("x", {3, 1, 4})},
     permute({0, 1, 2})},
    {OpKind::kPermute, "one full 16x16 tile plus edges", {normal("x", {2, 17, 18})},
     permute({0, 2, 1})},
    {OpKind::kPermute, "rank 4 reversal", {normal("x", {2, 3, 1, 5})}, permute({3, 2, 1, 0})},
    {OpKind::kPermute, "rank 5 [N, L, 3, heads, D] -> [3, N, heads, L, D]",
     {normal("x", {2, 3, 3, 2, 5})}, permute({2, 0, 3, 1, 4})},
    {OpKind::kPermute, "rank 6 shuffle", {normal("x", {2, 1, 3, 2, 1, 3})},
     permute({5, 3, 1, 0, 2, 4})},
    {OpKind::kUpsampleNearest, "x2 odd", {normal("x", {2, 3, 5, 3})},
     [](std::span<const Tensor> in) { return std::vector<Tensor>{ops::upsample_nearest(in[0], 2)}; }},
    {OpKind::kUpsampleNearest, "x3", {normal("x", {1, 2, 2, 3})},
     [](std::span<const Tensor> in) { return std::vector<Tensor>{ops::upsample_nearest(in[0], 3)}; }},
    {OpKind::kResizeBilinear, "28 -> 32 (the dataset resize)", {normal("x", {1, 1, 28, 28})},
     resize(32, 32)},
    {OpKind::kResizeBilinear, "downsample non-square", {normal("x", {2, 3, 9, 7})}, resize(4, 5)},
    {OpKind::kResizeBilinear, "upsample odd", {normal("x", {1, 2, 3, 5})}, resize(7, 11)},
});

// x permuted by the definition: out[i_0, ..., i_{r-1}] = x[j] with j[order[k]] = i_k.
std::vector<double> permute_reference(const std::vector<double>& x, const Shape& shape,
                                      const std::vector<int>& order) {
  const size_t rank = shape.size();
  Shape stride(rank, 1);
  for (size_t d = rank - 1; d > 0; --d) stride[d - 1] = stride[d] * shape[d];
  std::vector<double> out(x.size());
  std::vector<int64_t> index(rank, 0);  // over the output's dims, row-major
  for (double& value : out) {
    int64_t src = 0;
    for (size_t k = 0; k < rank; ++k) src += index[k] * stride[static_cast<size_t>(order[k])];
    value = x[static_cast<size_t>(src)];
    for (size_t k = rank; k-- > 0;) {
      if (++index[k] < shape[static_cast<size_t>(order[k])]) break;
      index[k] = 0;
    }
  }
  return out;
}

TEST_CASE("permute matches its definition exactly, forward and backward", "[ops][reference]") {
  struct Case {
    Shape shape;
    std::vector<int> order;
  };
  const Case cases[] = {
      {{3, 64, 40}, {0, 2, 1}},            // tiled transpose, a partial strip of 8 rows
      {{64, 40, 33}, {0, 2, 1}},           // tokens back to channels, parallel, partial tiles
      {{2, 37, 3, 4, 16}, {2, 0, 3, 1, 4}},  // attention q/k/v split: rows of D move
      {{3, 2, 4, 37, 16}, {1, 3, 0, 2, 4}},  // and back
      {{6, 20, 30}, {1, 2, 0}},            // merges to a 2-d transpose [600, 6]
      {{5, 6, 7, 8}, {3, 2, 1, 0}},        // reversal
      {{4, 1, 9, 1, 5, 2}, {5, 4, 3, 2, 1, 0}},
      {{1, 300, 1}, {2, 1, 0}},            // the identity once size-1 dims are dropped
      {{70000}, {0}},                      // identity, parallel memcpy
  };
  for (const DType dtype : {DType::kF64, DType::kF32}) {
    for (const Case& c : cases) {
      INFO("x " << shape_str(c.shape) << ", order " << shape_str(Shape(c.order.begin(),
                                                                         c.order.end()))
                << ", " << dtype_name(dtype));
      Rng rng{11, 0, 0};
      Tensor x = rng.normal(c.shape, 0, 1, DType::kF64).to(dtype);
      x.set_requires_grad(true);
      const Tensor y = ops::permute(x, c.order);
      Shape out_shape;
      for (int d : c.order) out_shape.push_back(c.shape[static_cast<size_t>(d)]);
      REQUIRE(y.shape() == out_shape);
      CHECK(y.to_vector<double>() == permute_reference(x.to_vector<double>(), c.shape, c.order));
      // dx is dy permuted by the inverse order.
      const Tensor dy = rng.normal(out_shape, 0, 1, DType::kF64).to(dtype);
      std::vector<int> inverse(c.order.size());
      for (size_t k = 0; k < c.order.size(); ++k) inverse[static_cast<size_t>(c.order[k])] =
          static_cast<int>(k);
      backward(y, dy);
      REQUIRE(x.grad().defined());
      CHECK(x.grad().to_vector<double>() ==
            permute_reference(dy.to_vector<double>(), out_shape, inverse));
    }
  }
}

}  // namespace
}  // namespace ldm::test
