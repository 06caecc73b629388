// Winograd F(2x2, 3x3) for the CPU conv2d with a 3x3 kernel, stride 1 and padding 1: nearly
// all of the U-Net's convolutions. Each 4x4 input tile gives a 2x2 output tile from 16
// elementwise products instead of 36 multiplies, so the three gemm-bound passes (forward, input
// gradient, weight gradient) do 2.25x fewer flops than im2col; the tile transforms cost only
// additions. conv.cpp dispatches here when winograd_applies().
//
// The three passes are exact adjoints of one another (the backward runs the forward's
// transforms transposed), and the work is split by tile element and by image plane, never by
// thread, so results do not depend on the thread count.
#pragma once

#include "kernels/args.h"

namespace ldm::kernels::cpu {

// Kernel 3, stride 1, padding 1, and enough channels on both sides that the 16 gemms (whose
// inner dimension is a channel count) run near the speed of im2col's.
bool winograd_applies(const Conv2dArgs& a);

// Same contract as conv2d_forward (conv.h).
template <typename T>
void winograd_conv2d_forward(const Conv2dArgs& a, const T* x, const T* w, const T* bias, T* y);

// Same contract as conv2d_backward (conv.h), without the bias gradient.
template <typename T>
void winograd_conv2d_backward(const Conv2dArgs& a, const T* x, const T* w, const T* dy, T* dx,
                              T* dw);

}  // namespace ldm::kernels::cpu
