// End-to-end: what a user gets wrong (a missing or damaged dataset, a config typo, a damaged or
// mismatched checkpoint, an unwritable output, a bad flag, an existing run) ends ldm-train /
// ldm-sample with one clear error line and a non-zero exit, and leaves everything already on
// disk as it was: nothing lost, nothing half-written, no run directory made for nothing.
#include <unistd.h>

#include <fstream>

#include "tests/e2e/e2e_util.h"

namespace ldm::e2e {
namespace {

using Catch::Matchers::Contains;

// ldm-train on the tiny config with extra arguments.
std::vector<std::string> train_args(const fs::path& data, const fs::path& out,
                                    std::vector<std::string> extra = {}) {
  std::vector<std::string> args{
      "--config", trained_run().config.string(), "--data", data.string(), "--out", out.string()};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

}  // namespace

TEST_CASE("ldm-train refuses bad data before making the run directory", "[e2e_bad_inputs]") {
  const TempDir tmp("ldm-e2e-data");
  const fs::path out = tmp.path() / "run";

  SECTION("missing data file") {
    check_clear_error(run_tool(kTrainExe, train_args("/nonexistent/pneumoniamnist.npz", out)),
                      "ldm-train", "/nonexistent/pneumoniamnist.npz: no such file or directory");
  }
  SECTION("truncated .npz") {
    const fs::path data = tmp.path() / "pneumoniamnist.npz";
    write_medmnist(data);
    truncate_file(data, fs::file_size(data) / 2);
    check_clear_error(run_tool(kTrainExe, train_args(data, out)), "ldm-train",
                      "truncated or corrupt .npz");
  }
  SECTION(".npz with float32 images") {
    const fs::path data = tmp.path() / "pneumoniamnist.npz";
    std::vector<NpzEntry> entries = medmnist_entries();
    entries[0] = {"train_images", data::test::npy_bytes("<f4", {16, 28, 28},
                                                        std::vector<uint8_t>(16 * 28 * 28 * 4))};
    write_medmnist(data, entries);
    check_clear_error(run_tool(kTrainExe, train_args(data, out)), "ldm-train",
                      "train_images.npy: images must be uint8");
  }
  SECTION(".npz with RGB images (N x H x W x 3)") {
    const fs::path data = tmp.path() / "pneumoniamnist.npz";
    std::vector<NpzEntry> entries = medmnist_entries();
    entries[0] = {"train_images", data::test::npy_bytes("|u1", {16, 28, 28, 3},
                                                        std::vector<uint8_t>(16 * 28 * 28 * 3))};
    write_medmnist(data, entries);
    check_clear_error(run_tool(kTrainExe, train_args(data, out)), "ldm-train",
                      "images must be N x H x W (grayscale), not [16, 28, 28, 3]");
  }
  SECTION(".npz whose labels do not match the images") {
    const fs::path data = tmp.path() / "pneumoniamnist.npz";
    std::vector<NpzEntry> entries = medmnist_entries();
    entries[1] = {"train_labels", data::test::npy_bytes("|u1", {15, 1}, std::vector<uint8_t>(15))};
    write_medmnist(data, entries);
    check_clear_error(run_tool(kTrainExe, train_args(data, out)), "ldm-train",
                      "15 train labels for 16 train images");
  }
  CHECK_FALSE(fs::exists(out));
}

TEST_CASE("ldm-train refuses a bad configuration, naming the key", "[e2e_bad_inputs]") {
  const TempDir tmp("ldm-e2e-config");
  const fs::path out = tmp.path() / "run", config = tmp.path() / "bad.json";
  const fs::path data = trained_run().data;
  auto train_with = [&](const nlohmann::json& j, std::vector<std::string> extra = {}) {
    write_json(config, j);
    std::vector<std::string> args{"--config",    config.string(), "--data",
                                  data.string(), "--out",         out.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_tool(kTrainExe, args);
  };

  SECTION("an unknown key") {
    nlohmann::json j = tiny_config();
    j["vqvae"]["base_chanels"] = 8;
    check_clear_error(train_with(j), "ldm-train", "unknown key 'vqvae.base_chanels'");
  }
  SECTION("a value of the wrong type") {
    nlohmann::json j = tiny_config();
    j["unet"]["base_channels"] = "8";
    check_clear_error(train_with(j), "ldm-train", "'unet.base_channels' must be an integer");
  }
  SECTION("not JSON") {
    std::ofstream(config) << "{\"seed\": 1,";
    check_clear_error(run_tool(kTrainExe, {"--config", config.string(), "--data", data.string(),
                                           "--out", out.string()}),
                      "ldm-train", "not valid JSON");
  }
  SECTION("a missing config file") {
    check_clear_error(run_tool(kTrainExe, {"--config", (tmp.path() / "none.json").string(),
                                           "--data", data.string(), "--out", out.string()}),
                      "ldm-train", "cannot open config file");
  }
  SECTION("a --set typo in the section") {
    check_clear_error(train_with(tiny_config(), {"--set", "ldm_trainig.epochs=1"}), "ldm-train",
                      "unknown key 'ldm_trainig'");
  }
  SECTION("a --set typo in the key") {
    check_clear_error(train_with(tiny_config(), {"--set", "ldm_training.epoch=1"}), "ldm-train",
                      "unknown key 'ldm_training.epoch'");
  }
  SECTION("a --set of the wrong type") {
    check_clear_error(train_with(tiny_config(), {"--set", "ldm_training.epochs=two"}), "ldm-train",
                      "'ldm_training.epochs' must be an integer");
  }
  SECTION("a --set with an empty key") {
    check_clear_error(train_with(tiny_config(), {"--set", "vqvae.=3"}), "ldm-train",
                      "override 'vqvae.=3' has an empty key name");
  }
  SECTION("labels the data does not have") {
    check_clear_error(train_with(tiny_config(), {"--set", "unet.num_classes=3"}), "ldm-train",
                      "unet.num_classes is 3 but the data has 2 labels");
  }
  SECTION("an image size whose latent grid the U-Net cannot halve") {
    check_clear_error(train_with(tiny_config(), {"--set", "data.image_size=30"}), "ldm-train",
                      "the models do not fit 30x30 images (data.image_size): UNet: latent size "
                      "15x15 is not divisible by 2");
  }
  SECTION("a --set without a value") {
    check_clear_error(train_with(tiny_config(), {"--set", "vqvae.groups"}), "ldm-train",
                      "is not of the form section.key=value");
  }
  CHECK_FALSE(fs::exists(out));
}

TEST_CASE("bad flags are one error line", "[e2e_bad_inputs]") {
  const TempDir tmp("ldm-e2e-flags");
  const fs::path out = tmp.path() / "out";
  const TrainedRun& run = trained_run();
  auto sample = [&](std::vector<std::string> extra) {
    std::vector<std::string> args{"--run", run.dir.string(), "--out", out.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_tool(kSampleExe, args);
  };

  SECTION("ldm-train: an unknown flag") {
    check_clear_error(run_tool(kTrainExe, train_args(run.data, out, {"--epochs", "3"})),
                      "ldm-train", "--epochs");
  }
  SECTION("ldm-train: no --out") {
    check_clear_error(run_tool(kTrainExe, {"--config", run.config.string()}), "ldm-train",
                      "--out is required");
  }
  SECTION("ldm-train: --stage foo") {
    check_clear_error(run_tool(kTrainExe, train_args(run.data, out, {"--stage", "foo"})),
                      "ldm-train", "--stage");
  }
  SECTION("ldm-train: --stage ldm on a new run directory") {
    check_clear_error(run_tool(kTrainExe, train_args(run.data, out, {"--stage", "ldm"})),
                      "ldm-train", "--stage ldm continues a run");
  }
  SECTION("ldm-train: --device cuda on a machine without a GPU") {
    check_clear_error(run_tool(kTrainExe, train_args(run.data, out, {"--device", "cuda"})),
                      "ldm-train", "--device cuda: no usable CUDA GPU");
  }
  SECTION("ldm-train: --device tpu") {
    check_clear_error(run_tool(kTrainExe, train_args(run.data, out, {"--device", "tpu"})),
                      "ldm-train", "--device");
  }
  SECTION("ldm-sample: --device cuda on a machine without a GPU") {
    check_clear_error(sample({"--device", "cuda"}), "ldm-sample",
                      "--device cuda: no usable CUDA GPU");
  }
  SECTION("ldm-sample: an unknown flag") {
    check_clear_error(sample({"--guidance", "3"}), "ldm-sample", "--guidance");
  }
  SECTION("ldm-sample: --sampler foo") {
    check_clear_error(sample({"--sampler", "foo"}), "ldm-sample",
                      "--sampler: foo not in {ddpm,ddim}");
  }
  SECTION("ldm-sample: a negative guidance scale") {
    check_clear_error(sample({"--cfg", "-1"}), "ldm-sample", "--cfg: must be >= 0 (0: unconditional), got -1");
  }
  SECTION("ldm-sample: --n 0") {
    check_clear_error(sample({"--n", "0"}), "ldm-sample", "--n: Value 0 not in range");
  }
  SECTION("ldm-sample: --steps beyond the run's timesteps") {
    check_clear_error(sample({"--steps", "51"}), "ldm-sample",
                      "--steps 51 exceeds the run's 50 timesteps");
  }
  SECTION("ldm-sample: --help still prints the usage and succeeds") {
    const ToolResult r = sample({"--help"});
    INFO(r.describe());
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, Contains("--sampler"));
  }
  CHECK_FALSE(fs::exists(out));
}

TEST_CASE("ldm-sample refuses a bad request and keeps earlier samples", "[e2e_bad_inputs]") {
  const TempDir tmp("ldm-e2e-sample-bad");
  const fs::path run = tmp.path() / "run", out = tmp.path() / "out";
  copy_run(trained_run().dir, run);
  // Earlier samples in the output directory, which a failed run must not touch.
  const ToolResult first = run_tool(kSampleExe, {"--run", run.string(), "--out", out.string(),
                                                 "--n", "2", "--steps", "3", "--seed", "1"});
  INFO(first.describe());
  REQUIRE(first.exit_code == 0);
  const Snapshot samples = snapshot(out), run_files = snapshot(run);
  auto sample = [&](std::vector<std::string> extra) {
    std::vector<std::string> args{"--run", run.string(), "--out",   out.string(),
                                  "--n",   "2",          "--steps", "3"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_tool(kSampleExe, args);
  };

  SECTION("an unknown label") {
    check_clear_error(sample({"--label", "covid"}), "ldm-sample",
                      "unknown label 'covid' (this run knows: normal, pneumonia, none)");
  }
  SECTION("a truncated LDM checkpoint") {
    truncate_file(run / "ldm.safetensors", fs::file_size(run / "ldm.safetensors") / 2);
    check_clear_error(sample({}), "ldm-sample", (run / "ldm.safetensors").string());
    check_clear_error(sample({}), "ldm-sample", "truncated");
  }
  SECTION("a VQ-VAE checkpoint cut inside its header") {
    truncate_file(run / "vqvae.safetensors", 100);
    check_clear_error(sample({}), "ldm-sample",
                      (run / "vqvae.safetensors").string() + ": header claims");
  }
  SECTION("an empty LDM checkpoint") {
    truncate_file(run / "ldm.safetensors", 0);
    check_clear_error(sample({}), "ldm-sample", "not a safetensors file (0 bytes; truncated?)");
  }
  SECTION("the VQ-VAE checkpoint where the LDM one should be") {
    fs::copy_file(run / "vqvae.safetensors", run / "ldm.safetensors",
                  fs::copy_options::overwrite_existing);
    check_clear_error(sample({}), "ldm-sample", "expected a ldm checkpoint, found stage 'vqvae'");
  }
  SECTION("no run there") {
    check_clear_error(
        run_tool(kSampleExe, {"--run", (tmp.path() / "nothing").string(), "--out", out.string()}),
        "ldm-sample", "does not exist");
  }
  SECTION("an output directory under a regular file") {
    // Works as root too, where a read-only directory would not stop the write.
    const fs::path file = tmp.path() / "a-file";
    std::ofstream(file) << "x";
    check_clear_error(run_tool(kSampleExe, {"--run", run.string(), "--out", (file / "out").string(),
                                            "--n", "1", "--steps", "2"}),
                      "ldm-sample", "cannot create the output directory");
    CHECK(read_bytes(file) == std::vector<uint8_t>{'x'});
  }
  check_unchanged(samples, out);
}

TEST_CASE("ldm-train leaves an existing run as it was when refusing", "[e2e_bad_inputs]") {
  const TempDir tmp("ldm-e2e-run-bad");
  const fs::path run = tmp.path() / "run";
  const TrainedRun& trained = trained_run();
  copy_run(trained.dir, run);
  Snapshot before = snapshot(run);
  auto resume = [&](std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"--out", run.string(), "--resume", "--data",
                                  trained.data.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_tool(kTrainExe, args);
  };

  SECTION("a new run into it without --resume") {
    check_clear_error(run_tool(kTrainExe, train_args(trained.data, run)), "ldm-train",
                      "already holds a run; pass --resume");
  }
  SECTION("--resume of a directory without a run") {
    const fs::path empty = tmp.path() / "empty";
    fs::create_directory(empty);
    check_clear_error(
        run_tool(kTrainExe, {"--out", empty.string(), "--resume", "--data", trained.data.string()}),
        "ldm-train", "holds no run (no config.json)");
    CHECK(fs::is_empty(empty));
  }
  SECTION("--resume with a truncated LDM checkpoint") {
    truncate_file(run / "ldm.safetensors", fs::file_size(run / "ldm.safetensors") - 1000);
    before = snapshot(run);
    check_clear_error(resume(), "ldm-train", (run / "ldm.safetensors").string());
  }
  SECTION("--resume with a truncated VQ-VAE checkpoint") {
    truncate_file(run / "vqvae.safetensors", 5000);
    before = snapshot(run);
    check_clear_error(resume(), "ldm-train", "truncated");
  }
  // A checkpoint of another architecture, the realistic ways: a --set that changes a model on
  // --resume (say, to continue with a wider U-Net), and a config.json edited or copied from a
  // run with other models.
  SECTION("--resume --set of another U-Net width") {
    check_clear_error(
        resume({"--set", "unet.base_channels=16", "--set", "ldm_training.epochs=3"}), "ldm-train",
        "checkpoint " + (run / "ldm.safetensors").string() +
            " was made for another architecture than " + (run / "config.json").string() +
            " with the --set overrides (unet.base_channels: 8 in the checkpoint, 16 "
            "in the config)");
  }
  SECTION("--resume --set of another latent size") {
    check_clear_error(resume({"--set", "vqvae.latent_channels=4"}), "ldm-train",
                      "vqvae.latent_channels: 3 in the checkpoint, 4 in the config");
  }
  SECTION("--resume with a config.json of other models") {
    nlohmann::json j = nlohmann::json::parse(read_bytes(run / "config.json"));
    j["vqvae"]["base_channels"] = 16;
    j["unet"]["base_channels"] = 16;
    write_json(run / "config.json", j);
    before = snapshot(run);
    check_clear_error(resume(), "ldm-train",
                      "vqvae.safetensors was made for another architecture than " +
                          (run / "config.json").string() +
                          " (vqvae.base_channels: 8 in the checkpoint, 16 in the config)");
  }
  SECTION("an output directory under a regular file") {
    const fs::path file = run / "config.json";
    check_clear_error(run_tool(kTrainExe, train_args(trained.data, file / "run")), "ldm-train",
                      "cannot create the run directory");
  }
  SECTION("a read-only parent directory (not as root, who may write anyway)") {
    if (::geteuid() == 0) {
      SUCCEED("running as root: skipped");
    } else {
      const fs::path locked = tmp.path() / "locked";
      fs::create_directory(locked);
      fs::permissions(locked, fs::perms::owner_read | fs::perms::owner_exec);
      check_clear_error(run_tool(kTrainExe, train_args(trained.data, locked / "run")), "ldm-train",
                        "cannot create the run directory");
      fs::permissions(locked, fs::perms::owner_all);
    }
  }
  check_unchanged(before, run);
}

TEST_CASE("ldm-sample refuses an LDM checkpoint of another run's models", "[e2e_bad_inputs]") {
  // The realistic way: copying ldm.safetensors from a run with wider models into a run directory
  // (say, to sample it with that run's VQ-VAE). ldm-sample builds both models from the LDM
  // checkpoint's config, which the VQ-VAE checkpoint in the directory does not fit.
  const TempDir tmp("ldm-e2e-arch");
  const TrainedRun& trained = trained_run();
  const fs::path wide = tmp.path() / "wide", run = tmp.path() / "run", out = tmp.path() / "out";
  const ToolResult train =
      run_tool(kTrainExe,
               train_args(trained.data, wide,
                          {"--set", "vqvae.base_channels=16", "--set", "unet.base_channels=16",
                           "--set", "vqvae_training.epochs=1", "--set", "ldm_training.epochs=1"}));
  INFO(train.describe());
  REQUIRE(train.exit_code == 0);
  copy_run(trained.dir, run);
  fs::copy_file(wide / "ldm.safetensors", run / "ldm.safetensors",
                fs::copy_options::overwrite_existing);
  const Snapshot before = snapshot(run);

  SECTION("EMA weights (the default)") {
    check_clear_error(run_tool(kSampleExe, {"--run", run.string(), "--out", out.string()}),
                      "ldm-sample",
                      "checkpoint " + (run / "vqvae.safetensors").string() +
                          " was made for another architecture than the config stored in " +
                          (run / "ldm.safetensors").string() +
                          " (vqvae.base_channels: 8 in the checkpoint, 16 in the config)");
  }
  SECTION("raw weights") {
    check_clear_error(
        run_tool(kSampleExe, {"--run", run.string(), "--out", out.string(), "--weights", "raw"}),
        "ldm-sample", "vqvae.base_channels: 8 in the checkpoint, 16 in the config");
  }
  CHECK_FALSE(fs::exists(out));
  check_unchanged(before, run);
}

}  // namespace ldm::e2e
