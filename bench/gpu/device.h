// The GPU's identity and its nominal peaks: DRAM bandwidth from the memory clock and bus width,
// FP32 throughput from SMs x FP32 lanes per SM (by compute capability) x 2 (FMA) x SM clock.
#pragma once

#include <string>

namespace ldm::bench::gpu {

struct DeviceInfo {
  int index = 0;
  std::string name;
  int cc_major = 0, cc_minor = 0;
  int sm_count = 0;
  int clock_khz = 0;         // peak SM clock
  int memory_clock_khz = 0;  // peak memory clock
  int bus_width_bits = 0;
  int l2_bytes = 0;
  int fp32_lanes_per_sm = 0;
  bool lanes_known = true;  // false: a compute capability this table predates (128 assumed)

  // Bytes/s: two transfers per memory clock (DDR; the figure deviceQuery reports).
  double peak_bandwidth_gbs() const;
  double peak_fp32_gflops() const;
};

// FP32 lanes ("CUDA cores") per SM; 0 for a compute capability not in the table.
int fp32_lanes_per_sm(int cc_major, int cc_minor);

// Reads cudaDeviceGetAttribute (CUDA 13 dropped cudaDeviceProp's clock fields).
DeviceInfo query_device(int index);

}  // namespace ldm::bench::gpu
