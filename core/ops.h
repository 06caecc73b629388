// Every op of the library in one include.
#pragma once

#include "core/autograd.h"
#include "core/ops/conv.h"
#include "core/ops/diffusion.h"
#include "core/ops/elementwise.h"
#include "core/ops/embedding.h"
#include "core/ops/matmul.h"
#include "core/ops/norm.h"
#include "core/ops/optim.h"
#include "core/ops/quantize.h"
#include "core/ops/shape.h"
#include "core/ops/view.h"
#include "core/tensor.h"
