// Training metrics as JSON lines (metrics.jsonl in the run directory): one object per training
// step and one per validation, each tagged with its stage and step, so that plots and scripts
// can read them back and a resumed run can drop what it is about to redo.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ldm::tools {

class MetricsLog {
 public:
  explicit MetricsLog(std::string path) : path_(std::move(path)) {}
  // Drops the lines of `stage` with a step above `step` (work a resumed run will redo).
  void truncate_after(const std::string& stage, int64_t step) const;
  // Appends one line and flushes it, so a killed run keeps every line written so far.
  void write(const nlohmann::json& line) const;
  // Every line, in order; a torn last line (a kill mid-write) is skipped.
  std::vector<nlohmann::json> read_all() const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace ldm::tools
