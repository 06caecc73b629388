// Cases for conv2d and conv_transpose2d: every kernel size / stride / padding the models use,
// on odd sizes, with and without bias.
#include "tests/op_harness.h"

namespace ldm::test {
namespace {

OpRunner conv(int64_t stride, int64_t padding, bool with_bias) {
  return [=](std::span<const Tensor> in) {
    return std::vector<Tensor>{ops::conv2d(in[0], in[1], with_bias ? in[2] : Tensor(), stride, padding)};
  };
}

OpRunner conv_t(int64_t stride, int64_t padding, bool with_bias) {
  return [=](std::span<const Tensor> in) {
    return std::vector<Tensor>{
        ops::conv_transpose2d(in[0], in[1], with_bias ? in[2] : Tensor(), stride, padding)};
  };
}

LDM_OP_CASES(std::vector<OpCase>{
    {OpKind::kConv2d, "1x1",
     {normal("x", {2, 3, 5, 7}), normal("w", {4, 3, 1, 1}), normal("b", {4})}, conv(1, 0, true)},
    {OpKind::kConv2d, "3x3 pad 1 odd",
     {normal("x", {2, 3, 5, 7}), normal("w", {4, 3, 3, 3}), normal("b", {4})}, conv(1, 1, true)},
    {OpKind::kConv2d, "3x3 no padding no bias",
     {normal("x", {1, 2, 6, 5}), normal("w", {3, 2, 3, 3})}, conv(1, 0, false)},
    {OpKind::kConv2d, "3x3 stride 2 pad 1 odd",
     {normal("x", {2, 3, 7, 9}), normal("w", {5, 3, 3, 3}), normal("b", {5})}, conv(2, 1, true)},
    {OpKind::kConv2d, "4x4 stride 2 pad 1",
     {normal("x", {2, 3, 8, 6}), normal("w", {4, 3, 4, 4}), normal("b", {4})}, conv(2, 1, true)},
    {OpKind::kConv2d, "4x4 stride 2 pad 1 odd",
     {normal("x", {1, 2, 9, 7}), normal("w", {3, 2, 4, 4}), normal("b", {3})}, conv(2, 1, true)},
    // 3x3 stride 1 pad 1 with 16+ channels on both sides runs the Winograd kernel: odd and
    // even sizes, a plane of one tile, with and without bias. (Batches of several tile chunks
    // are too large for finite differences; the PyTorch cross-check covers them.)
    {OpKind::kConv2d, "3x3 pad 1 winograd odd",
     {normal("x", {2, 16, 5, 7}), normal("w", {17, 16, 3, 3}), normal("b", {17})},
     conv(1, 1, true)},
    {OpKind::kConv2d, "3x3 pad 1 winograd even no bias",
     {normal("x", {3, 18, 4, 6}), normal("w", {16, 18, 3, 3})}, conv(1, 1, false)},
    {OpKind::kConv2d, "3x3 pad 1 winograd one tile",
     {normal("x", {2, 16, 2, 1}), normal("w", {16, 16, 3, 3}), normal("b", {16})},
     conv(1, 1, true)},
    {OpKind::kConvTranspose2d, "4x4 stride 2 pad 1",
     {normal("x", {2, 3, 4, 5}), normal("w", {3, 4, 4, 4}), normal("b", {4})}, conv_t(2, 1, true)},
    {OpKind::kConvTranspose2d, "4x4 stride 2 pad 1 odd no bias",
     {normal("x", {1, 5, 3, 7}), normal("w", {5, 2, 4, 4})}, conv_t(2, 1, false)},
    {OpKind::kConvTranspose2d, "3x3 stride 1 pad 1",
     {normal("x", {2, 2, 5, 3}), normal("w", {2, 3, 3, 3}), normal("b", {3})}, conv_t(1, 1, true)},
    {OpKind::kConvTranspose2d, "3x3 stride 2 pad 0",
     {normal("x", {1, 2, 3, 4}), normal("w", {2, 3, 3, 3}), normal("b", {3})}, conv_t(2, 0, true)},
});

}  // namespace
}  // namespace ldm::test
