// Timing with CUDA events on one stream: warm-up calls, then `repeats` timed samples, each the
// average over enough back-to-back calls to cover the events' resolution (or, in cold mode, one
// call after evicting L2); the result is the median sample.
#pragma once

#include <cuda_runtime.h>

#include <functional>

#include "bench/gpu/buffers.h"

namespace ldm::bench::gpu {

struct TimingOptions {
  int warmup = 3;
  int repeats = 20;
  double min_sample_ms = 0.25;  // warm mode: calls per sample cover at least this long
  bool cold_l2 = false;         // one call per sample, after overwriting an L2-sized buffer
};

class Timer {
 public:
  Timer(cudaStream_t stream, const TimingOptions& options, int l2_bytes);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  // Milliseconds per call of `run`, which only enqueues work on the stream.
  double time_ms(const std::function<void()>& run);

 private:
  float sample_ms(const std::function<void()>& run, int calls);

  cudaStream_t stream_;
  TimingOptions options_;
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
  DeviceBuffer<unsigned char> scrub_;  // cold mode's L2 eviction buffer (twice L2)
};

}  // namespace ldm::bench::gpu
