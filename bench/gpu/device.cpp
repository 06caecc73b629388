// Device attributes and nominal peaks (see device.h).
#include "bench/gpu/device.h"

#include <cuda_runtime.h>

#include "bench/gpu/check.h"

namespace ldm::bench::gpu {

int fp32_lanes_per_sm(int cc_major, int cc_minor) {
  if (cc_major == 3) return 192;                                      // Kepler
  if (cc_major == 5) return 128;                                      // Maxwell
  if (cc_major == 6) return cc_minor == 0 ? 64 : 128;                 // GP100; GP10x
  if (cc_major == 7) return 64;                                       // Volta, Turing
  if (cc_major == 8) return cc_minor == 0 ? 64 : 128;                 // A100; GA10x, Ada
  if (cc_major == 9 || cc_major == 10 || cc_major == 11) return 128;  // Hopper, Blackwell
  if (cc_major == 12) return 128;                                     // Blackwell (RTX 50)
  return 0;
}

double DeviceInfo::peak_bandwidth_gbs() const {
  return 2.0 * memory_clock_khz * 1e3 * (bus_width_bits / 8.0) * 1e-9;
}

double DeviceInfo::peak_fp32_gflops() const {
  return static_cast<double>(sm_count) * fp32_lanes_per_sm * 2.0 * clock_khz * 1e3 * 1e-9;
}

DeviceInfo query_device(int index) {
  DeviceInfo d;
  d.index = index;
  cudaDeviceProp prop{};
  LDM_CHECK(cudaGetDeviceProperties(&prop, index));
  d.name = prop.name;
  auto attribute = [index](cudaDeviceAttr attr) {
    int value = 0;
    LDM_CHECK(cudaDeviceGetAttribute(&value, attr, index));
    return value;
  };
  d.cc_major = attribute(cudaDevAttrComputeCapabilityMajor);
  d.cc_minor = attribute(cudaDevAttrComputeCapabilityMinor);
  d.sm_count = attribute(cudaDevAttrMultiProcessorCount);
  d.clock_khz = attribute(cudaDevAttrClockRate);
  d.memory_clock_khz = attribute(cudaDevAttrMemoryClockRate);
  d.bus_width_bits = attribute(cudaDevAttrGlobalMemoryBusWidth);
  d.l2_bytes = attribute(cudaDevAttrL2CacheSize);
  d.fp32_lanes_per_sm = fp32_lanes_per_sm(d.cc_major, d.cc_minor);
  if (d.fp32_lanes_per_sm == 0) {
    d.fp32_lanes_per_sm = 128;
    d.lanes_known = false;
  }
  return d;
}

}  // namespace ldm::bench::gpu
