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

// The settings that fix the shapes of a stage's tensors: its model's config section, and for the
// U-Net also the latent channels it is built for.
std::vector<std::string> model_settings(Stage stage) {
  if (stage == Stage::kVqVae) return {"vqvae"};
  return {"unet", "vqvae.latent_channels"};
}

const nlohmann::json* find_setting(const nlohmann::json& config, const std::string& key) {
  const nlohmann::json* node = &config;
  size_t begin = 0;
  while (true) {
    const size_t dot = key.find('.', begin);
    const std::string part = key.substr(begin, dot == std::string::npos ? dot : dot - begin);
    if (!node->is_object() || !node->contains(part)) return nullptr;
    node = &node->at(part);
    if (dot == std::string::npos) return node;
    begin = dot + 1;
  }
}

// Appends "key: A in the checkpoint, B in the config" for every leaf where the two differ.
void list_differences(const nlohmann::json* in_checkpoint, const nlohmann::json* in_config,
                      const std::string& key, std::vector<std::string>& out) {
  if (in_checkpoint && in_config && in_checkpoint->is_object() && in_config->is_object()) {
    for (const auto& [k, v] : in_checkpoint->items())
      list_differences(&v, in_config->contains(k) ? &in_config->at(k) : nullptr, key + "." + k,
                       out);
    for (const auto& [k, v] : in_config->items())
      if (!in_checkpoint->contains(k)) list_differences(nullptr, &v, key + "." + k, out);
    return;
  }
  const auto text = [](const nlohmann::json* v) { return v ? v->dump() : std::string("absent"); };
  if (!in_checkpoint || !in_config || *in_checkpoint != *in_config)
    out.push_back(key + ": " + text(in_checkpoint) + " in the checkpoint, " + text(in_config) +
                  " in the config");
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
                models::Module& module, const nlohmann::json& config,
                const std::string& config_source) {
  try {
    module.load_state_dict(ckpt.group(prefix));
  } catch (const Error& e) {
    fail_architecture(ckpt, path, config, config_source, e.what());
  }
}

void fail_architecture(const Checkpoint& ckpt, const std::string& path,
                       const nlohmann::json& config, const std::string& config_source,
                       const std::string& detail) {
  std::vector<std::string> differences;
  for (const std::string& key : model_settings(ckpt.stage))
    list_differences(find_setting(ckpt.config, key), find_setting(config, key), key, differences);
  std::string what;
  for (const std::string& d : differences) what += (what.empty() ? "" : "; ") + d;
  // Without a differing setting the tensors themselves disagree with the stored config; the
  // tensor list is long, but it is all there is to say.
  fail("checkpoint ", path, " was made for another architecture than ", config_source, " (",
       what.empty() ? detail : what, ")");
}

}  // namespace ldm::tools
