// The two training stages behind ldm-train: the VQ-VAE on images, then the latent U-Net on the
// frozen VQ-VAE's latents. Each stage checkpoints (atomically) at the end of every epoch and
// every `checkpoint_every` steps, and a resumed stage continues from its checkpoint so that
// its losses equal those of an uninterrupted run: every random draw is a pure function of
// (seed, step), and the batch order of (seed, epoch).
#pragma once
#include <cstdint>
#include <string>

#include "data/dataset.h"
#include "models/optim.h"
#include "tools/metrics.h"
#include "tools/run_config.h"

namespace ldm::tools {

enum class Resume { kNo, kYes };

struct TrainContext {
  RunConfig config;
  std::string run_dir;
  Resume resume = Resume::kNo;
  int64_t checkpoint_every = 0;  // steps between mid-epoch checkpoints; 0 = epoch ends only
  MetricsLog metrics{""};
  data::ImageDataset train, val, test;
};

// The optimizer settings of a stage with the run's length filled in, which a cosine schedule
// spans: epochs x batches per epoch (the last, short batch included).
models::AdamWConfig optimizer_for_run(const models::AdamWConfig& config, int64_t epochs,
                                      int64_t examples, int64_t batch_size);

void train_vqvae(const TrainContext& ctx);
void train_ldm(const TrainContext& ctx);

// Run directory layout.
std::string samples_dir(const std::string& run_dir);  // per-epoch grids
std::string metrics_path(const std::string& run_dir);
std::string config_path(const std::string& run_dir);

}  // namespace ldm::tools
