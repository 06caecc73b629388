// The run configuration: one JSON file (configs/pneumonia28.json is the default) describing the
// data, both models, the diffusion process, training and the sample grids. Parsing is strict:
// an unknown key or a value of the wrong type is an error naming the key, so a typo never
// silently falls back to a default. Keys left out take the defaults below.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/diffusion.h"
#include "models/optim.h"
#include "models/unet.h"
#include "models/vqvae.h"

namespace ldm::tools {

struct DataConfig {
  std::string file = "pneumoniamnist.npz";  // looked up via --data, $MEDMNIST_ROOT, ~/.medmnist
  int64_t image_size = 32;                  // images are resized to image_size^2
  int64_t train_subset = 0;                 // > 0: only the first n training images (tests)
};

struct VqVaeTraining {
  int64_t epochs = 6;
  int64_t batch_size = 64;
  models::AdamWConfig optimizer{1e-3, 0.9, 0.999, 1e-8, 0.0};
  int64_t dead_code_restart_every = 100;  // learned codebook only: steps between restarts; 0 = off
};

struct LdmTraining {
  int64_t epochs = 100;
  int64_t batch_size = 64;
  models::AdamWConfig optimizer{2e-4, 0.9, 0.999, 1e-8, 0.0};
  double ema_decay = 0.999;
  double label_dropout = 0.1;  // probability of training a sample with the null label
};

struct SamplingConfig {  // the grids written every epoch, and ldm-sample's defaults
  models::SamplerKind sampler = models::SamplerKind::kDdim;
  int64_t steps = 50;
  double cfg_scale = 3.0;
  int64_t samples_per_label = 8;
};

struct RunConfig {
  uint64_t seed = 0;
  DataConfig data;
  models::VqVaeConfig vqvae;
  VqVaeTraining vqvae_training;
  models::UNetConfig unet;
  models::DiffusionConfig diffusion;
  LdmTraining ldm_training;
  SamplingConfig sampling;
};

// `source` names the origin in messages ("configs/pneumonia28.json"). ldm::Error on any problem.
RunConfig parse_run_config(const nlohmann::json& json, const std::string& source);
// Reads the file, applies overrides "section.key=value" (value parsed as JSON, else taken as a
// string: training.epochs=3, sampling.sampler=ddpm), then parses.
RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides = {});
// Every field, defaults included: stored in checkpoints so a run is self-describing.
nlohmann::json to_json(const RunConfig& config);

}  // namespace ldm::tools
