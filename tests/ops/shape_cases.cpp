// Cases for group_norm, concat, slice, nearest upsampling and bilinear resizing.
#include "tests/op_harness.h"

namespace ldm::test {
namespace {

OpRunner group_norm(int64_t groups) {
  return [=](std::span<const Tensor> in) {
    return std::vector<Tensor>{ops::group_norm(in[0], in[1], in[2], groups)};
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
    {OpKind::kUpsampleNearest, "x2 odd", {normal("x", {2, 3, 5, 3})},
     [](std::span<const Tensor> in) { return std::vector<Tensor>{ops::upsample_nearest(in[0], 2)}; }},
    {OpKind::kUpsampleNearest, "x3", {normal("x", {1, 2, 2, 3})},
     [](std::span<const Tensor> in) { return std::vector<Tensor>{ops::upsample_nearest(in[0], 3)}; }},
    {OpKind::kResizeBilinear, "28 -> 32 (the dataset resize)", {normal("x", {1, 1, 28, 28})},
     resize(32, 32)},
    {OpKind::kResizeBilinear, "downsample non-square", {normal("x", {2, 3, 9, 7})}, resize(4, 5)},
    {OpKind::kResizeBilinear, "upsample odd", {normal("x", {1, 2, 3, 5})}, resize(7, 11)},
});

}  // namespace
}  // namespace ldm::test
