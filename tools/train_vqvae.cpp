// Stage 1 of ldm-train: the VQ-VAE, trained on images with reconstruction MSE + the VQ loss.
#include <filesystem>
#include <vector>

#include "core/ops.h"
#include "data/batcher.h"
#include "data/image_io.h"
#include "models/optim.h"
#include "tools/checkpoint.h"
#include "tools/latents.h"
#include "tools/plots.h"
#include "tools/progress.h"
#include "tools/train.h"

namespace ldm::tools {
namespace {

constexpr const char* kStage = "vqvae";

void write_reconstructions(const models::VqVae& vqvae, const Tensor& images, const std::string& path,
                           int64_t epoch) {
  NoGradGuard no_grad;
  const int64_t n = std::min<int64_t>(8, images.shape()[0]);
  const Tensor x = rows(images, 0, n).to(default_device());
  const Tensor x_hat = vqvae.forward(x).x_hat;
  const std::array<Tensor, 2> both{x, x_hat};
  data::write_png(path, data::make_grid(ops::concat(both, 0), n),
                  {{"Description", "top: validation images; bottom: VQ-VAE reconstructions"},
                   {"Epoch", std::to_string(epoch + 1)}});
}

nlohmann::json stats_json(const ReconstructionStats& s) {
  return {{"mse", s.mse},
          {"psnr_db", s.psnr_db},
          {"codebook_fraction_used", s.usage.fraction_used},
          {"codebook_perplexity", s.usage.perplexity},
          {"images", s.images}};
}

// The test-split figures of the finished VQ-VAE. Written before the checkpoint that marks the
// stage complete: a run killed in between redoes the last epoch and writes them again, where
// the other order would skip the finished stage and never write them.
void report_test(const models::VqVae& vqvae, const TrainContext& ctx, int64_t step) {
  const ReconstructionStats test = evaluate_reconstruction(vqvae, ctx.test.images);
  nlohmann::json line = stats_json(test);
  line.update({{"stage", kStage}, {"step", step}, {"split", "test"}});
  ctx.metrics.write(line);
  std::fprintf(stderr, "vqvae test: mse %.5f  psnr %.2f dB  codebook used %.1f%% (perplexity %.0f)\n",
               test.mse, test.psnr_db, 100 * test.usage.fraction_used, test.usage.perplexity);
}

}  // namespace

void train_vqvae(const TrainContext& ctx) {
  const RunConfig& cfg = ctx.config;
  const VqVaeTraining& tc = cfg.vqvae_training;
  const std::string path = checkpoint_path(ctx.run_dir, Stage::kVqVae);

  models::VqVae vqvae(cfg.vqvae);
  models::AdamW optimizer(
      vqvae, optimizer_for_run(tc.optimizer, tc.epochs, ctx.train.size(), tc.batch_size));
  data::Batcher batcher(ctx.train, tc.batch_size, cfg.seed);
  StageProgress progress;
  Tensor resumed_restarts;

  if (ctx.resume == Resume::kYes && std::filesystem::exists(path)) {
    const Checkpoint ckpt = read_checkpoint(path, Stage::kVqVae);
    load_group(ckpt, path, "model.", vqvae, to_json(cfg), config_path(ctx.run_dir));
    optimizer.load_state(ckpt.group("optim."));
    if (auto it = ckpt.tensors.find("dead_code_counts"); it != ckpt.tensors.end())
      resumed_restarts = it->second;
    progress = ckpt.progress;
    if (progress.complete) {
      std::fprintf(stderr, "vqvae: already trained (%s), skipping\n", path.c_str());
      return;
    }
    std::fprintf(stderr, "vqvae: resuming at epoch %lld, step %lld\n",
                 static_cast<long long>(progress.epoch + 1), static_cast<long long>(progress.step));
  }
  ctx.metrics.truncate_after(kStage, progress.step);
  batcher.seek(progress.epoch, progress.batch);

  const bool learned = cfg.vqvae.codebook_mode == models::CodebookMode::kLearned;
  models::DeadCodeRestarter restarter(cfg.vqvae.codebook_size, learned ? tc.dead_code_restart_every : 0);
  if (learned && resumed_restarts.defined()) restarter.load_state(resumed_restarts);

  auto save = [&](bool complete) {
    Checkpoint ckpt;
    ckpt.stage = Stage::kVqVae;
    ckpt.progress = {batcher.epoch(), batcher.index(), progress.step, complete};
    ckpt.config = to_json(cfg);
    ckpt.label_names = ctx.train.label_names;
    ckpt.add_group("model.", vqvae.named_tensors());
    ckpt.add_group("optim.", optimizer.state());
    if (learned) ckpt.tensors["dead_code_counts"] = restarter.state();
    write_checkpoint(path, ckpt);
  };

  const int64_t per_epoch = batcher.batches_per_epoch();
  for (int64_t epoch = batcher.epoch(); epoch < tc.epochs; ++epoch) {
    ProgressBar bar("vqvae " + std::to_string(epoch + 1) + "/" + std::to_string(tc.epochs),
                    per_epoch, "img");
    while (batcher.epoch() == epoch) {
      const data::Batch batch = batcher.next();
      const Tensor images = batch.images.to(default_device());  // datasets stay on the host
      vqvae.zero_grad();
      const Tensor z_e = vqvae.encode(images);
      const ops::Quantized q = vqvae.quantize(z_e);
      const Tensor recon = ops::mse_loss(vqvae.decode(q.z_q), images);
      const Tensor loss = ops::add(recon, q.loss);
      backward(loss);
      optimizer.step();
      ++progress.step;
      const int64_t restarted =
          learned ? restarter.observe(vqvae, z_e.detach(), q.indices, cfg.seed, progress.step) : 0;

      nlohmann::json line{{"stage", kStage},           {"step", progress.step},
                          {"epoch", epoch + 1},        {"loss", loss.item()},
                          {"recon_mse", recon.item()}, {"vq_loss", q.loss.item()}};
      if (restarted > 0) line["codes_restarted"] = restarted;
      ctx.metrics.write(line);
      bar.update(batch.index + 1, batch.images.shape()[0], {{"mse", recon.item()}});
      if (ctx.checkpoint_every > 0 && progress.step % ctx.checkpoint_every == 0 &&
          batcher.epoch() == epoch)
        save(false);
    }
    bar.finish();

    const ReconstructionStats val = evaluate_reconstruction(vqvae, ctx.val.images);
    nlohmann::json line = stats_json(val);
    line.update({{"stage", kStage}, {"step", progress.step}, {"epoch", epoch + 1}, {"split", "val"}});
    ctx.metrics.write(line);
    std::fprintf(stderr, "vqvae %lld/%lld: val mse %.5f  psnr %.2f dB  codebook used %.1f%% (perplexity %.0f)\n",
                 static_cast<long long>(epoch + 1), static_cast<long long>(tc.epochs), val.mse,
                 val.psnr_db, 100 * val.usage.fraction_used, val.usage.perplexity);
    write_reconstructions(vqvae, ctx.val.images,
                          samples_dir(ctx.run_dir) + "/vqvae_epoch_" + std::to_string(epoch + 1) + ".png",
                          epoch);
    write_loss_plots(ctx.metrics, ctx.run_dir);
    const bool last = epoch + 1 == tc.epochs;
    if (last) report_test(vqvae, ctx, progress.step);
    save(/*complete=*/last);
  }
  if (tc.epochs == 0) {
    report_test(vqvae, ctx, progress.step);
    save(true);
  }
}

}  // namespace ldm::tools
