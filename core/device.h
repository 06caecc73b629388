// Where a tensor lives. Only the CPU exists today; the CUDA issue adds kCuda (a real GPU) and
// kEmu (the CUDA kernels run through the SIMT emulator) without changing callers.
#pragma once

#include <string>

namespace ldm {

enum class DeviceKind { kCpu, kCuda, kEmu };

struct Device {
  DeviceKind kind = DeviceKind::kCpu;
  int index = 0;

  static Device cpu() { return {}; }
  bool operator==(const Device&) const = default;
  std::string name() const;
};

// Parses "cpu", "cuda", "cuda:1" or "emu"; throws ldm::Error naming the bad value.
Device parse_device(const std::string& text);

}  // namespace ldm
