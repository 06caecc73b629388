// Where a tensor lives: the CPU, a CUDA GPU (kCuda), or the emulated CUDA device (kEmu: the
// kernels of kernels/cuda run through the SIMT emulator, on host memory). Also the process-wide
// default device that tensors are created on when no device is named (like
// torch.set_default_device), which is how the tools put a whole model on --device.
#pragma once

#include <cstddef>
#include <string>

namespace ldm {

enum class DeviceKind { kCpu, kCuda, kEmu };

struct Device {
  DeviceKind kind = DeviceKind::kCpu;
  int index = 0;

  static Device cpu() { return {}; }
  static Device emu() { return {DeviceKind::kEmu, 0}; }
  static Device cuda(int index = 0) { return {DeviceKind::kCuda, index}; }
  bool operator==(const Device&) const = default;
  std::string name() const;
};

// Parses "cpu", "cuda", "cuda:1" or "emu"; throws ldm::Error naming the bad value.
Device parse_device(const std::string& text);

// True when the host may read and write the device's memory directly (cpu and emu).
inline bool host_accessible(Device device) { return device.kind != DeviceKind::kCuda; }

// The device of tensors created without one (Tensor::empty and friends, RNG fills, loaded
// checkpoints). cpu unless changed.
Device default_device();
void set_default_device(Device device);

// Sets the default device for a scope.
class DefaultDeviceGuard {
 public:
  explicit DefaultDeviceGuard(Device device) : previous_(default_device()) {
    set_default_device(device);
  }
  ~DefaultDeviceGuard() { set_default_device(previous_); }
  DefaultDeviceGuard(const DefaultDeviceGuard&) = delete;
  DefaultDeviceGuard& operator=(const DefaultDeviceGuard&) = delete;

 private:
  Device previous_;
};

// Empty when `device` can run ops in this build on this machine; otherwise one sentence saying
// why not (no CUDA in this build, no driver or GPU, a GPU index that does not exist).
std::string device_unavailable_reason(Device device);

// Byte copies and fills between any two devices; copies to the host wait for the device.
void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes);
void zero_bytes(void* dst, Device device, size_t bytes);
// Waits until the device has finished all work queued so far.
void synchronize(Device device);

}  // namespace ldm
