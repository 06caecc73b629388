// CUDA-event timing and the result comparison (see timing.h, buffers.h).
#include "bench/gpu/timing.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace ldm::bench::gpu {

double max_relative_error(const DeviceBuffer<float>& ours, const DeviceBuffer<float>& ref) {
  LDM_CHECK(cudaDeviceSynchronize());  // the cases' stream, whatever its flags
  const std::vector<float> a = ours.download(), b = ref.download();
  double max_diff = 0, max_ref = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i])) return INFINITY;
    max_diff = std::max(max_diff, std::abs(static_cast<double>(a[i]) - b[i]));
    max_ref = std::max(max_ref, std::abs(static_cast<double>(b[i])));
  }
  return max_ref > 0 ? max_diff / max_ref : max_diff;
}

Timer::Timer(cudaStream_t stream, const TimingOptions& options, int l2_bytes)
    : stream_(stream), options_(options) {
  LDM_CHECK(cudaEventCreate(&start_));
  LDM_CHECK(cudaEventCreate(&stop_));
  if (options_.cold_l2) scrub_ = DeviceBuffer<unsigned char>(2 * static_cast<int64_t>(l2_bytes));
}

Timer::~Timer() {
  cudaEventDestroy(start_);
  cudaEventDestroy(stop_);
}

float Timer::sample_ms(const std::function<void()>& run, int calls) {
  if (options_.cold_l2 && scrub_.size() > 0)
    LDM_CHECK(
        cudaMemsetAsync(scrub_.get(), calls & 0xff, static_cast<size_t>(scrub_.size()), stream_));
  LDM_CHECK(cudaEventRecord(start_, stream_));
  for (int i = 0; i < calls; ++i) run();
  LDM_CHECK(cudaEventRecord(stop_, stream_));
  LDM_CHECK(cudaEventSynchronize(stop_));
  // A launch with a bad configuration fails silently until asked.
  LDM_CHECK(cudaGetLastError());
  float ms = 0;
  LDM_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
  return ms;
}

double Timer::time_ms(const std::function<void()>& run) {
  for (int i = 0; i < options_.warmup; ++i) run();
  LDM_CHECK(cudaStreamSynchronize(stream_));
  LDM_CHECK(cudaGetLastError());
  int calls = 1;
  if (!options_.cold_l2) {
    const double one = std::max(1e-4, static_cast<double>(sample_ms(run, 1)));
    calls = static_cast<int>(std::clamp(std::ceil(options_.min_sample_ms / one), 1.0, 1000.0));
  }
  std::vector<double> samples;
  for (int r = 0; r < options_.repeats; ++r) samples.push_back(sample_ms(run, calls) / calls);
  std::sort(samples.begin(), samples.end());
  const size_t mid = samples.size() / 2;
  return samples.size() % 2 ? samples[mid] : 0.5 * (samples[mid - 1] + samples[mid]);
}

}  // namespace ldm::bench::gpu
