// Stage 2 of ldm-train: the latent U-Net, trained to predict the noise added to the frozen
// VQ-VAE's latents (scaled to unit variance), with label dropout for classifier-free guidance
// and an EMA of the weights that the validation loss and the sample grids use.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <span>
#include <vector>

#include "core/ops.h"
#include "data/batcher.h"
#include "data/image_io.h"
#include "models/diffusion.h"
#include "models/optim.h"
#include "tools/checkpoint.h"
#include "tools/latents.h"
#include "tools/plots.h"
#include "tools/progress.h"
#include "tools/train.h"

namespace ldm::tools {
namespace {

constexpr const char* kStage = "ldm";

// The random inputs of one diffusion training step: timesteps, noise and which labels are
// dropped to the null label. Each comes from its own stream at an offset fixed by the step, so
// a resumed run draws exactly what the uninterrupted run drew.
struct StepDraws {
  std::vector<int32_t> t;
  Tensor noise;
  Tensor labels;
};

StepDraws draw_step(const Tensor& x0, const Tensor& labels, const RunConfig& cfg, int64_t step,
                    int64_t max_batch, std::string_view purpose) {
  const int64_t B = x0.shape()[0];
  // Each step owns the same stretch of every stream, sized for a full batch, so a short last
  // batch of an epoch never reuses numbers of another step.
  const auto offset = static_cast<uint64_t>(step) * static_cast<uint64_t>(max_batch) *
                      static_cast<uint64_t>(x0.numel() / B);
  const std::string p(purpose);
  StepDraws d;
  Rng t_rng{cfg.seed, models::rng_stream_for(p + ".t"), offset};
  d.t = t_rng.randint({B}, static_cast<int32_t>(cfg.diffusion.timesteps)).to_vector<int32_t>();
  Rng noise_rng{cfg.seed, models::rng_stream_for(p + ".noise"), offset};
  d.noise = noise_rng.normal(x0.shape());
  Rng drop_rng{cfg.seed, models::rng_stream_for(p + ".drop"), offset};
  const std::vector<float> u = drop_rng.uniform({B}).to_vector<float>();
  std::vector<int32_t> l = labels.to_vector<int32_t>();
  for (int64_t i = 0; i < B; ++i)
    if (u[static_cast<size_t>(i)] < cfg.ldm_training.label_dropout)
      l[static_cast<size_t>(i)] = static_cast<int32_t>(cfg.unet.null_label());
  d.labels = Tensor::from_vector<int32_t>(l, {B});
  return d;
}

Tensor timesteps_tensor(const std::vector<int32_t>& t) {
  std::vector<float> f(t.begin(), t.end());
  return Tensor::from_vector<float>(f, {static_cast<int64_t>(t.size())});
}

// The denoising loss of `unet` on x0 with the draws of `step`.
Tensor diffusion_loss(const models::UNet& unet, const models::NoiseSchedule& schedule,
                      const Tensor& x0, const StepDraws& d) {
  const Tensor x_t = schedule.add_noise(x0, d.noise, d.t);
  return ops::mse_loss(unet.forward(x_t, timesteps_tensor(d.t), d.labels), d.noise);
}

// Validation loss of the EMA weights on the validation latents, with fixed draws (stream
// "ldm.val", step 0..), so epochs are comparable.
double validation_loss(const models::UNet& unet, const models::NoiseSchedule& schedule,
                       const data::ImageDataset& val, const RunConfig& cfg) {
  NoGradGuard no_grad;
  const int64_t N = val.size();
  double total = 0;
  for (int64_t b = 0, i = 0; b < N; b += kEvalBatch, ++i) {
    const int64_t e = std::min(N, b + kEvalBatch);
    const Tensor x0 = rows(val.images, b, e).to(default_device());
    const std::span<const int32_t> labels(val.labels.data() + b, static_cast<size_t>(e - b));
    const StepDraws d =
        draw_step(x0, Tensor::from_vector<int32_t>(labels, {e - b}), cfg, i, kEvalBatch, "ldm.val");
    total += diffusion_loss(unet, schedule, x0, d).item() * static_cast<double>(e - b);
  }
  return total / static_cast<double>(N);
}

// One row per label of samples from the EMA weights, decoded to images.
void write_sample_grid(const models::UNet& unet, const models::NoiseSchedule& schedule,
                       const models::VqVae& vqvae, double latent_scale, const RunConfig& cfg,
                       const std::vector<std::string>& label_names, const Tensor& latent_like,
                       const std::string& path, int64_t epoch) {
  const int64_t per = cfg.sampling.samples_per_label;
  std::vector<int32_t> labels;
  for (int32_t l = 0; l < static_cast<int32_t>(cfg.unet.num_classes); ++l)
    labels.insert(labels.end(), static_cast<size_t>(per), l);
  models::SamplerOptions options;
  options.kind = cfg.sampling.sampler;
  options.steps = cfg.sampling.steps;
  options.cfg_scale = cfg.sampling.cfg_scale;
  options.seed = cfg.seed;
  const Shape latent_shape(latent_like.shape().begin() + 1, latent_like.shape().end());
  const Tensor z = models::sample(
      unet, schedule, latent_shape,
      Tensor::from_vector<int32_t>(labels, {static_cast<int64_t>(labels.size())}), options);
  const Tensor images = decode_latents(vqvae, ops::scale(z, 1.0 / latent_scale));
  std::string rows_desc;
  for (size_t l = 0; l < label_names.size(); ++l)
    rows_desc += (l ? ", " : "") + std::string("row ") + std::to_string(l + 1) + ": " + label_names[l];
  data::write_png(path, data::make_grid(images, per),
                  {{"Description", "EMA samples per label (" + rows_desc + ")"},
                   {"Epoch", std::to_string(epoch + 1)},
                   {"Sampler", models::to_string(options.kind) + ", " +
                                   std::to_string(options.steps) + " steps, cfg " +
                                   std::to_string(options.cfg_scale)}});
}

}  // namespace

void train_ldm(const TrainContext& ctx) {
  const RunConfig& cfg = ctx.config;
  const LdmTraining& tc = cfg.ldm_training;
  const std::string vq_path = checkpoint_path(ctx.run_dir, Stage::kVqVae);
  const std::string path = checkpoint_path(ctx.run_dir, Stage::kLdm);

  const Checkpoint vq_ckpt = read_checkpoint(vq_path, Stage::kVqVae);
  if (!vq_ckpt.progress.complete)
    fail(vq_path, " is an unfinished VQ-VAE; finish it first (ldm-train --stage vqvae --resume)");
  models::VqVae vqvae(cfg.vqvae);
  load_group(vq_ckpt, vq_path, "model.", vqvae, to_json(cfg), config_path(ctx.run_dir));
  if (cfg.unet.num_classes != static_cast<int64_t>(ctx.train.label_names.size()))
    fail("the config has unet.num_classes = ", cfg.unet.num_classes, " but the data has ",
         ctx.train.label_names.size(), " labels");

  models::UNet unet(cfg.unet);
  models::UNet ema_unet(cfg.unet);
  models::AdamW optimizer(
      unet, optimizer_for_run(tc.optimizer, tc.epochs, ctx.train.size(), tc.batch_size));
  models::Ema ema(unet, tc.ema_decay);
  const models::NoiseSchedule schedule(cfg.diffusion);
  StageProgress progress;
  double latent_scale = 0;

  if (ctx.resume == Resume::kYes && std::filesystem::exists(path)) {
    const Checkpoint ckpt = read_checkpoint(path, Stage::kLdm);
    load_group(ckpt, path, "model.", unet, to_json(cfg), config_path(ctx.run_dir));
    optimizer.load_state(ckpt.group("optim."));
    ema.load_state(ckpt.group("ema."));
    auto scale = ckpt.tensors.find("latent_scale");
    if (scale == ckpt.tensors.end()) fail(path, ": checkpoint lacks latent_scale");
    latent_scale = scale->second.item();
    progress = ckpt.progress;
    if (progress.complete) {
      std::fprintf(stderr, "ldm: already trained (%s), skipping\n", path.c_str());
      return;
    }
    std::fprintf(stderr, "ldm: resuming at epoch %lld, step %lld\n",
                 static_cast<long long>(progress.epoch + 1), static_cast<long long>(progress.step));
  }
  ctx.metrics.truncate_after(kStage, progress.step);

  // The latents of the whole training set, computed once: the VQ-VAE is frozen now.
  std::fprintf(stderr, "ldm: encoding %lld training and %lld validation images\n",
               static_cast<long long>(ctx.train.size()), static_cast<long long>(ctx.val.size()));
  data::ImageDataset train_latents = ctx.train, val_latents = ctx.val;
  train_latents.images = encode_latents(vqvae, ctx.train.images);
  val_latents.images = encode_latents(vqvae, ctx.val.images);
  if (latent_scale == 0) {
    // 1 / std of the training latents, so the diffusion sees unit-variance data as its noise
    // schedule assumes (Rombach et al.'s scale factor).
    const std::vector<float> z = train_latents.images.to_vector<float>();
    double sum = 0, sq = 0;
    for (float v : z) sum += v, sq += static_cast<double>(v) * v;
    const double mean = sum / static_cast<double>(z.size());
    latent_scale = 1.0 / std::sqrt(sq / static_cast<double>(z.size()) - mean * mean);
    std::fprintf(stderr, "ldm: latent scale factor %.5f (1/std of the training latents)\n",
                 latent_scale);
  }
  train_latents.images = ops::scale(train_latents.images, latent_scale);
  val_latents.images = ops::scale(val_latents.images, latent_scale);

  data::Batcher batcher(train_latents, tc.batch_size, cfg.seed);
  batcher.seek(progress.epoch, progress.batch);

  auto save = [&](bool complete) {
    Checkpoint ckpt;
    ckpt.stage = Stage::kLdm;
    ckpt.progress = {batcher.epoch(), batcher.index(), progress.step, complete};
    ckpt.config = to_json(cfg);
    ckpt.label_names = ctx.train.label_names;
    ckpt.add_group("model.", unet.named_tensors());
    ckpt.add_group("ema.", ema.state());
    ckpt.add_group("optim.", optimizer.state());
    ckpt.tensors["latent_scale"] = Tensor::full({}, latent_scale, DType::kF64);
    write_checkpoint(path, ckpt);
  };

  const int64_t per_epoch = batcher.batches_per_epoch();
  for (int64_t epoch = batcher.epoch(); epoch < tc.epochs; ++epoch) {
    ProgressBar bar("ldm " + std::to_string(epoch + 1) + "/" + std::to_string(tc.epochs), per_epoch,
                    "img");
    while (batcher.epoch() == epoch) {
      const data::Batch batch = batcher.next();
      const Tensor x0 = batch.images.to(default_device());  // the latents stay on the host
      const StepDraws d = draw_step(x0, batch.labels, cfg, progress.step, tc.batch_size, "ldm.train");
      unet.zero_grad();
      const Tensor loss = diffusion_loss(unet, schedule, x0, d);
      backward(loss);
      optimizer.step();
      ema.update();
      ++progress.step;
      ctx.metrics.write({{"stage", kStage},
                         {"step", progress.step},
                         {"epoch", epoch + 1},
                         {"loss", loss.item()}});
      bar.update(batch.index + 1, batch.images.shape()[0], {{"loss", loss.item()}});
      if (ctx.checkpoint_every > 0 && progress.step % ctx.checkpoint_every == 0 &&
          batcher.epoch() == epoch)
        save(false);
    }
    bar.finish();

    ema.copy_to(ema_unet);
    const double val = validation_loss(ema_unet, schedule, val_latents, cfg);
    ctx.metrics.write({{"stage", kStage},
                       {"step", progress.step},
                       {"epoch", epoch + 1},
                       {"split", "val"},
                       {"ema_loss", val}});
    std::fprintf(stderr, "ldm %lld/%lld: val loss (EMA weights) %.5f\n",
                 static_cast<long long>(epoch + 1), static_cast<long long>(tc.epochs), val);
    write_sample_grid(ema_unet, schedule, vqvae, latent_scale, cfg, ctx.train.label_names,
                      train_latents.images,
                      samples_dir(ctx.run_dir) + "/ldm_epoch_" + std::to_string(epoch + 1) + ".png",
                      epoch);
    write_loss_plots(ctx.metrics, ctx.run_dir);
    save(/*complete=*/epoch + 1 == tc.epochs);
  }
  if (tc.epochs == 0) save(true);
}

models::AdamWConfig optimizer_for_run(const models::AdamWConfig& config, int64_t epochs,
                                      int64_t examples, int64_t batch_size) {
  models::AdamWConfig c = config;
  c.total_steps = epochs * ((examples + batch_size - 1) / batch_size);
  return c;
}

std::string samples_dir(const std::string& run_dir) {
  return (std::filesystem::path(run_dir) / "samples").string();
}
std::string metrics_path(const std::string& run_dir) {
  return (std::filesystem::path(run_dir) / "metrics.jsonl").string();
}
std::string config_path(const std::string& run_dir) {
  return (std::filesystem::path(run_dir) / "config.json").string();
}

}  // namespace ldm::tools
