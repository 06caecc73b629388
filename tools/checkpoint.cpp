// Stage checkpoints (see tools/checkpoint.h).
#include "tools/checkpoint.h"

#include <filesystem>

#include "core/check.h"
#include "core/safetensors.h"

namespace ldm::tools {
namespace {

constexpr const char* kFormat = "ldm-cpp checkpoint v1";

int64_t read_int(const std::map<std::string, std::string>& meta, const std::string& key,
                 const std::string& path) {
  auto it = meta.find(key);
  if (it == meta.end()) fail(path, ": checkpoint metadata lacks '", key, "'");
  try {
    size_t used = 0;
    const int64_t v = std::stoll(it->second, &used);
    if (used == it->second.size() && v >= 0) return v;
  } catch (const std::exception&) {
  }
  fail(path, ": checkpoint metadata '", key, "' is not a count: '", it->second, "'");
}

}  // namespace

std::string to_string(Stage stage) {
  return stage == Stage::kVqVae ? "vqvae" : "ldm";
}

std::map<std::string, Tensor> Checkpoint::group(const std::string& prefix) const {
  std::map<std::string, Tensor> out;
  for (auto it = tensors.lower_bound(prefix); it != tensors.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    out.emplace(it->first.substr(prefix.size()), it->second);
  }
  return out;
}

void Checkpoint::add_group(const std::string& prefix, const models::NamedTensors& named) {
  for (const auto& [name, t] : named) tensors[prefix + name] = t;
}

std::string checkpoint_path(const std::string& run_dir, Stage stage) {
  return (std::filesystem::path(run_dir) / (to_string(stage) + ".safetensors")).string();
}

void write_checkpoint(const std::string& path, const Checkpoint& c) {
  std::map<std::string, std::string> meta{
      {"format", kFormat},
      {"stage", to_string(c.stage)},
      {"epoch", std::to_string(c.progress.epoch)},
      {"batch", std::to_string(c.progress.batch)},
      {"step", std::to_string(c.progress.step)},
      {"complete", c.progress.complete ? "true" : "false"},
      {"config", c.config.dump()},
      {"labels", nlohmann::json(c.label_names).dump()},
  };
  save_safetensors(path, c.tensors, meta);
}

Checkpoint read_checkpoint(const std::string& path, Stage stage) {
  if (!std::filesystem::exists(path)) fail("checkpoint ", path, " does not exist");
  SafetensorsContents contents = load_safetensors(path);
  const auto& meta = contents.metadata;
  auto format = meta.find("format");
  if (format == meta.end() || format->second != kFormat)
    fail(path, ": not a checkpoint of this program (no '", kFormat, "' tag)");
  auto stage_it = meta.find("stage");
  if (stage_it == meta.end() || stage_it->second != to_string(stage))
    fail(path, ": expected a ", to_string(stage), " checkpoint, found stage '",
         stage_it == meta.end() ? "?" : stage_it->second, "'");
  Checkpoint c;
  c.stage = stage;
  c.progress.epoch = read_int(meta, "epoch", path);
  c.progress.batch = read_int(meta, "batch", path);
  c.progress.step = read_int(meta, "step", path);
  auto complete = meta.find("complete");
  c.progress.complete = complete != meta.end() && complete->second == "true";
  auto config = meta.find("config");
  if (config == meta.end()) fail(path, ": checkpoint metadata lacks 'config'");
  c.config = nlohmann::json::parse(config->second, nullptr, /*allow_exceptions=*/false);
  if (c.config.is_discarded()) fail(path, ": the stored config is not valid JSON");
  auto labels = meta.find("labels");
  const nlohmann::json names =
      labels == meta.end() ? nlohmann::json()
                           : nlohmann::json::parse(labels->second, nullptr, false);
  if (!names.is_array()) fail(path, ": checkpoint metadata lacks the label names");
  for (const nlohmann::json& n : names) {
    if (!n.is_string()) fail(path, ": checkpoint label names are not strings");
    c.label_names.push_back(n.get<std::string>());
  }
  c.tensors = std::move(contents.tensors);
  return c;
}

void load_group(const Checkpoint& ckpt, const std::string& path, const std::string& prefix,
                models::Module& module) {
  try {
    module.load_state_dict(ckpt.group(prefix));
  } catch (const Error& e) {
    fail("checkpoint ", path, " was made for another architecture than this config (", e.what(),
         ")");
  }
}

}  // namespace ldm::tools
