// Stage checkpoints of a run directory: one safetensors file per stage (vqvae.safetensors,
// ldm.safetensors) holding the model weights ("model."), the EMA weights ("ema."), the
// optimizer state ("optim.") and any extra tensors, with the run config, the stage, its
// progress and a format tag in the metadata. Written atomically by core/safetensors.h, so a
// killed run leaves the previous checkpoint intact.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "models/module.h"
#include "tools/run_config.h"

namespace ldm::tools {

enum class Stage { kVqVae, kLdm };
std::string to_string(Stage stage);  // "vqvae" / "ldm"

// Where training stands: the batcher position of the next step and the steps taken.
struct StageProgress {
  int64_t epoch = 0;  // epoch of the next step
  int64_t batch = 0;  // batch index of the next step within that epoch
  int64_t step = 0;   // optimizer steps taken
  bool complete = false;
};

struct Checkpoint {
  Stage stage = Stage::kVqVae;
  StageProgress progress;
  nlohmann::json config;  // the run config that produced it (tools/run_config.h to_json)
  std::vector<std::string> label_names;  // the data's labels, by index ("normal", "pneumonia")
  std::map<std::string, Tensor> tensors;

  // The entries named prefix + x, as x -> tensor.
  std::map<std::string, Tensor> group(const std::string& prefix) const;
  void add_group(const std::string& prefix, const models::NamedTensors& tensors);
};

std::string checkpoint_path(const std::string& run_dir, Stage stage);

void write_checkpoint(const std::string& path, const Checkpoint& checkpoint);
// Reads and validates: a safetensors file written by write_checkpoint for `stage`. Every
// problem is one ldm::Error naming the file (missing, truncated, not a checkpoint, another
// stage's checkpoint).
Checkpoint read_checkpoint(const std::string& path, Stage stage);

// Loads a group into a module. `config` is the run config (to_json) the module was built from
// and `config_source` says where that came from ("runs/a/config.json"); a mismatch ends with
// fail_architecture's message, so the user learns which file and which setting is at fault.
void load_group(const Checkpoint& ckpt, const std::string& path, const std::string& prefix,
                models::Module& module, const nlohmann::json& config,
                const std::string& config_source);

// "checkpoint X was made for another architecture than <config_source> (unet.base_channels: 8
// in the checkpoint, 16 in the config)": the model settings where the checkpoint's stored config
// and `config` differ. `detail` (load_state_dict's list of tensors) is the message only when no
// setting differs, e.g. for a checkpoint edited by hand.
[[noreturn]] void fail_architecture(const Checkpoint& ckpt, const std::string& path,
                                    const nlohmann::json& config, const std::string& config_source,
                                    const std::string& detail);

}  // namespace ldm::tools
