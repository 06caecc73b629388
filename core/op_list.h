// The one list of ops. Everything per-op that must stay in sync is generated from it: the
// OpKind enum, op names, and each backend's dispatch table (a backend that lacks an entry fails
// to link). The op test harness walks this list and fails when an op has no test case.
//
// X(CamelName, snake_name, Grad): Grad is kYes when the op has a backward, kNo for the in-place
// update ops (optimizer step, EMA) that never appear on the autograd tape.
#pragma once

#define LDM_OPS(X)                                  \
  X(Conv2d, conv2d, kYes)                           \
  X(ConvTranspose2d, conv_transpose2d, kYes)        \
  X(GroupNorm, group_norm, kYes)                    \
  X(Silu, silu, kYes)                               \
  X(Tanh, tanh, kYes)                               \
  X(Hardtanh, hardtanh, kYes)                       \
  X(Linear, linear, kYes)                           \
  X(Matmul, matmul, kYes)                           \
  X(Softmax, softmax, kYes)                         \
  X(Attention, attention, kYes)                     \
  X(UpsampleNearest, upsample_nearest, kYes)        \
  X(ResizeBilinear, resize_bilinear, kYes)          \
  X(Add, add, kYes)                                 \
  X(Mul, mul, kYes)                                 \
  X(Scale, scale, kYes)                             \
  X(Concat, concat, kYes)                           \
  X(Slice, slice, kYes)                             \
  X(Permute, permute, kYes)                         \
  X(TimestepEmbedding, timestep_embedding, kYes)    \
  X(Embedding, embedding, kYes)                     \
  X(MseLoss, mse_loss, kYes)                        \
  X(VectorQuantize, vector_quantize, kYes)          \
  X(CfgCombine, cfg_combine, kYes)                  \
  X(DdpmStep, ddpm_step, kYes)                      \
  X(DdimStep, ddim_step, kYes)                      \
  X(AdamwStep, adamw_step, kNo)                     \
  X(EmaUpdate, ema_update, kNo)

#include <array>
#include <string_view>

namespace ldm {

enum class OpKind {
#define LDM_OP_ENUM(Camel, snake, grad) k##Camel,
  LDM_OPS(LDM_OP_ENUM)
#undef LDM_OP_ENUM
};

enum class Grad { kYes, kNo };

inline constexpr int kOpCount = 0
#define LDM_OP_COUNT(Camel, snake, grad) +1
    LDM_OPS(LDM_OP_COUNT)
#undef LDM_OP_COUNT
    ;

inline constexpr std::array<std::string_view, kOpCount> kOpNames = {
#define LDM_OP_NAME(Camel, snake, grad) #snake,
    LDM_OPS(LDM_OP_NAME)
#undef LDM_OP_NAME
};

inline constexpr std::array<Grad, kOpCount> kOpGrad = {
#define LDM_OP_GRAD(Camel, snake, grad) Grad::grad,
    LDM_OPS(LDM_OP_GRAD)
#undef LDM_OP_GRAD
};

constexpr std::string_view op_name(OpKind op) { return kOpNames[static_cast<int>(op)]; }
constexpr bool op_has_backward(OpKind op) { return kOpGrad[static_cast<int>(op)] == Grad::kYes; }

}  // namespace ldm
