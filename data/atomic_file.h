// Whole-file writes that never leave a half-written file in place of a good one.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace ldm::data {

// Writes `bytes` to a temporary file beside `path`, fsyncs it and renames it over `path`.
// Throws ldm::Error naming `path` (missing directory, no permission, disk full).
void write_file_atomic(const std::string& path, std::span<const uint8_t> bytes);

}  // namespace ldm::data
