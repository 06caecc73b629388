// Device names for messages and for the --device flag.
#include "core/device.h"

#include "core/check.h"

namespace ldm {

std::string Device::name() const {
  switch (kind) {
    case DeviceKind::kCpu: return "cpu";
    case DeviceKind::kCuda: return "cuda:" + std::to_string(index);
    case DeviceKind::kEmu: return "emu";
  }
  return "?";
}

Device parse_device(const std::string& text) {
  if (text == "cpu") return Device::cpu();
  if (text == "emu") return {DeviceKind::kEmu, 0};
  if (text == "cuda") return {DeviceKind::kCuda, 0};
  if (text.rfind("cuda:", 0) == 0) {
    try {
      return {DeviceKind::kCuda, std::stoi(text.substr(5))};
    } catch (const std::exception&) {
    }
  }
  fail("unknown device '", text, "': expected cpu, cuda, cuda:N or emu");
}

}  // namespace ldm
