// JSON-lines metrics (see tools/metrics.h).
#include "tools/metrics.h"

#include <fstream>
#include <string_view>

#include "core/check.h"
#include "data/atomic_file.h"

namespace ldm::tools {

std::vector<nlohmann::json> MetricsLog::read_all() const {
  std::vector<nlohmann::json> lines;
  std::ifstream in(path_);
  std::string text;
  while (std::getline(in, text)) {
    nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!j.is_discarded() && j.is_object()) lines.push_back(std::move(j));
  }
  return lines;
}

void MetricsLog::truncate_after(const std::string& stage, int64_t step) const {
  std::string kept;
  for (const nlohmann::json& j : read_all()) {
    if (j.value("stage", "") == stage && j.value("step", int64_t{0}) > step) continue;
    kept += j.dump() + "\n";
  }
  data::write_file_atomic(
      path_, {reinterpret_cast<const uint8_t*>(kept.data()), kept.size()});
}

void MetricsLog::write(const nlohmann::json& line) const {
  std::ofstream out(path_, std::ios::app);
  out << line.dump() << "\n";
  out.flush();
  if (!out) fail("cannot append to ", path_);
}

}  // namespace ldm::tools
