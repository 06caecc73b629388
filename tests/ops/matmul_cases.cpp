// Cases for linear, matmul, softmax, attention, the embeddings and the MSE loss.
#include "tests/op_harness.h"

namespace ldm::test {
namespace {

LDM_OP_CASES(std::vector<OpCase>{
    {OpKind::kLinear, "with bias", {normal("x", {5, 7}), normal("w", {3, 7}), normal("b", {3})},
     [](std::span<const Tensor> in) { return std::vector<Tensor>{ops::linear(in[0], in[1], in[2])}; }},
    {OpKind::kLinear, "rank-3 input, no bias", {normal("x", {2, 3, 4}), normal("w", {6, 4})},
     [](std::span<const Tensor> in) { return std::vector<Tensor>{ops::linear(in[0], in[1], Tensor())}; }},
    {OpKind::kMatmul, "batched odd", {normal("a", {3, 5, 4}), normal("b", {3, 4, 7})},
     [](std::span<const Tensor> in) { return std::vector<Tensor>{ops::matmul(in[0], in[1])}; }},
    {OpKind::kMatmul, "2-d", {normal("a", {6, 3}), normal("b", {3, 2})},
     [](std::span<const Tensor> in) { return std::vector<Tensor>{ops::matmul(in[0], in[1])}; }},
    {OpKind::kSoftmax, "rows of 7", {normal("x", {5, 7})},
     [](std::span<const Tensor> in) { return std::vector<Tensor>{ops::softmax(in[0])}; }},
    {OpKind::kSoftmax, "large logits", {uniform("x", {3, 2, 16}, -30, 30)},
     [](std::span<const Tensor> in) { return std::vector<Tensor>{ops::softmax(in[0])}; }},
    {OpKind::kAttention, "2 heads, L 9, D 4",
     {normal("q", {2, 2, 9, 4}), normal("k", {2, 2, 9, 4}), normal("v", {2, 2, 9, 4})},
     [](std::span<const Tensor> in) { return std::vector<Tensor>{ops::attention(in[0], in[1], in[2])}; }},
    {OpKind::kAttention, "1 head, L 16, D 8, custom scale",
     {normal("q", {1, 16, 8}), normal("k", {1, 16, 8}), normal("v", {1, 16, 8})},
     [](std::span<const Tensor> in) { return std::vector<Tensor>{ops::attention(in[0], in[1], in[2], 0.2)}; }},
    {OpKind::kTimestepEmbedding, "dim 8", {uniform("t", {5}, 0, 999)},
     [](std::span<const Tensor> in) { return std::vector<Tensor>{ops::timestep_embedding(in[0], 8)}; }},
    {OpKind::kTimestepEmbedding, "odd dim", {uniform("t", {3}, 0, 50)},
     [](std::span<const Tensor> in) { return std::vector<Tensor>{ops::timestep_embedding(in[0], 7, 100)}; }},
    {OpKind::kEmbedding, "repeated indices", {normal("table", {5, 4}), indices("idx", {9}, 5)},
     [](std::span<const Tensor> in) { return std::vector<Tensor>{ops::embedding(in[0], in[1])}; }},
    {OpKind::kEmbedding, "2-d indices", {normal("table", {3, 6}), indices("idx", {2, 3}, 3)},
     [](std::span<const Tensor> in) { return std::vector<Tensor>{ops::embedding(in[0], in[1])}; }},
    {OpKind::kMseLoss, "odd", {normal("a", {3, 5, 7}), normal("b", {3, 5, 7})},
     [](std::span<const Tensor> in) { return std::vector<Tensor>{ops::mse_loss(in[0], in[1])}; }},
    {OpKind::kMseLoss, "one element", {normal("a", {1}), normal("b", {1})},
     [](std::span<const Tensor> in) { return std::vector<Tensor>{ops::mse_loss(in[0], in[1])}; }},
});

}  // namespace
}  // namespace ldm::test
