// The op microbenchmark's case table: one entry per (op, shape) of the default model, run
// through the public op API so that the timings include what a training step pays (argument
// checks, output allocation, tape recording, autograd dispatch), not just the kernels.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/ops.h"
#include "core/rng.h"

namespace ldm::bench {

// Work per iteration of one case, split by pass. Flops count 2 per multiply-add; bytes are the
// compulsory traffic (every input read once, every output written once), so GB/s is a lower
// bound on what the kernel actually moves and a fair distance to the memory roofline.
struct Cost {
  double fwd_flops = 0, bwd_flops = 0;
  double fwd_bytes = 0, bwd_bytes = 0;
};

struct OpBenchCase {
  OpKind op;
  std::string label;  // model part, shapes and arguments, without spaces (it names the benchmark)
  // Leaves, created once per run; those that the backward should reach require grad.
  std::function<std::vector<Tensor>(Rng& rng)> make_inputs;
  // Runs the op once; returns the tensor to back-propagate from, or an undefined tensor for the
  // in-place update ops that have no backward.
  std::function<Tensor(const std::vector<Tensor>& inputs)> forward;
  Cost cost;
};

// Every case, in the order they run. Defined in op_bench_cases.cpp.
std::vector<OpBenchCase> op_bench_cases();

// "64x128x8x8"
std::string dims(const Shape& shape);

}  // namespace ldm::bench
