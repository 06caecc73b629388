// --device: the backend check and the default device.
#include "tools/device.h"

#include "core/check.h"

namespace ldm::tools {

const std::map<std::string, DeviceChoice>& device_names() {
  static const std::map<std::string, DeviceChoice> names{
      {"cpu", DeviceChoice::kCpu}, {"cuda", DeviceChoice::kCuda}, {"emu", DeviceChoice::kEmu}};
  return names;
}

Device use_device(DeviceChoice choice) {
  Device device = Device::cpu();
  switch (choice) {
    case DeviceChoice::kCpu: break;
    case DeviceChoice::kCuda: {
      device = Device::cuda(0);
      const std::string reason = device_unavailable_reason(device);
      if (!reason.empty()) fail("--device cuda: no usable CUDA GPU: ", reason, "; use --device cpu");
      break;
    }
    case DeviceChoice::kEmu: {
      device = Device::emu();
      const std::string reason = device_unavailable_reason(device);
      if (!reason.empty()) fail("--device emu: ", reason, "; use --device cpu");
      break;
    }
  }
  set_default_device(device);
  return device;
}

}  // namespace ldm::tools
