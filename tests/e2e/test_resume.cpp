// End-to-end: a run killed with SIGKILL (once in the VQ-VAE stage, once in the diffusion stage)
// and continued with --resume ends exactly where an uninterrupted run ends: the same per-step
// losses in metrics.jsonl, bit for bit, the same checkpoint tensors, the same files. After each
// kill the checkpoints in place load, and leftovers of an interrupted write do not disturb the
// resume.
#include <signal.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <optional>
#include <thread>

#include "core/safetensors.h"
#include "tests/e2e/e2e_util.h"
#include "tools/checkpoint.h"

namespace ldm::e2e {
namespace {

using Catch::Matchers::Contains;
using tools::Stage;

// 16 training images in batches of 4 (4 steps per epoch), 3 VQ-VAE epochs and 4 diffusion
// epochs: long enough to be caught in the middle of either stage.
nlohmann::json resume_config() {
  nlohmann::json c = tiny_config();
  c["data"]["train_subset"] = 16;
  c["vqvae_training"]["epochs"] = 3;
  c["ldm_training"]["epochs"] = 4;
  return c;
}
// Every 3 steps: mid-epoch checkpoints at batch 3, 2, 1 of successive epochs.
constexpr const char* kCheckpointEvery = "3";

// The progress recorded in a stage's checkpoint, if there is one. Reading it while the run
// goes on is safe because checkpoints are replaced by rename; a partial file would fail here.
std::optional<tools::StageProgress> checkpoint_progress(const fs::path& run, Stage stage) {
  const std::string path = tools::checkpoint_path(run.string(), stage);
  if (!fs::exists(path)) return std::nullopt;
  return tools::read_checkpoint(path, stage).progress;
}

// The last training step of `stage` in metrics.jsonl (0: none yet). Lenient: the run may be in
// the middle of appending a line.
int64_t last_logged_step(const fs::path& run, Stage stage) {
  std::ifstream in(run / "metrics.jsonl");
  int64_t last = 0;
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.value("stage", "") == tools::to_string(stage) && !j.contains("split"))
      last = std::max(last, j.value("step", int64_t{0}));
  }
  return last;
}

// Runs ldm-train and SIGKILLs it once `stage` has a mid-epoch checkpoint of step >= min_step and
// a step after it has been logged, so the resumed run has work to redo and metric lines to drop.
// Returns the pid of the killed process.
pid_t train_and_kill(const std::vector<std::string>& args, const fs::path& run, Stage stage,
                     int64_t min_step) {
  Process p(kTrainExe, args);
  while (p.running()) {
    const std::optional<tools::StageProgress> progress = checkpoint_progress(run, stage);
    if (progress && progress->step >= min_step && progress->batch != 0 && !progress->complete &&
        last_logged_step(run, stage) > progress->step) {
      p.kill_now();
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const ToolResult r = p.wait();
  INFO(r.describe());
  INFO("the run must still be in its " << tools::to_string(stage) << " stage when it is killed");
  REQUIRE(r.signal == SIGKILL);
  return p.pid();
}

// The same tensors (names, dtypes, shapes, bytes) and metadata in two checkpoints.
void check_same_checkpoint(const fs::path& a, const fs::path& b) {
  INFO(a.string() << " vs " << b.string());
  const SafetensorsContents x = load_safetensors(a.string()), y = load_safetensors(b.string());
  CHECK(x.metadata == y.metadata);
  REQUIRE(x.tensors.size() == y.tensors.size());
  for (const auto& [name, t] : x.tensors) {
    INFO("tensor " << name);
    REQUIRE(y.tensors.count(name) == 1);
    const Tensor& u = y.tensors.at(name);
    REQUIRE(t.description() == u.description());
    CHECK(std::memcmp(t.raw_data(), u.raw_data(), t.nbytes()) == 0);
  }
}

}  // namespace

TEST_CASE("a run killed in either stage and resumed equals an uninterrupted run", "[e2e_resume]") {
  const TempDir tmp("ldm-e2e-resume");
  const fs::path data = tmp.path() / "pneumoniamnist.npz", config = tmp.path() / "resume.json";
  const fs::path reference = tmp.path() / "reference", run = tmp.path() / "run";
  write_medmnist(data);
  write_json(config, resume_config());

  // Uninterrupted, on all cores, without mid-epoch checkpoints.
  const ToolResult ref = run_tool(kTrainExe, {"--config", config.string(), "--data", data.string(),
                                              "--out", reference.string()});
  INFO(ref.describe());
  REQUIRE(ref.exit_code == 0);

  // Killed early in the VQ-VAE stage, after its first mid-epoch checkpoint: the checkpoint in
  // place is a complete, loadable file of an earlier step, and the diffusion stage has not begun.
  train_and_kill({"--config", config.string(), "--data", data.string(), "--out", run.string(),
                  "--checkpoint-every", kCheckpointEvery},
                 run, Stage::kVqVae, 3);
  {
    const std::optional<tools::StageProgress> vq = checkpoint_progress(run, Stage::kVqVae);
    REQUIRE(vq);
    CHECK_FALSE(vq->complete);
    CHECK(vq->step < last_logged_step(run, Stage::kVqVae));
    CHECK_FALSE(fs::exists(run / "ldm.safetensors"));
  }

  // Resumed on one thread (the kernels promise the same numbers on any thread count), and
  // killed again in the second epoch of the diffusion stage, after an epoch's validation, EMA
  // sample grid and checkpoint.
  const pid_t killed = train_and_kill({"--out", run.string(), "--resume", "--data", data.string(),
                                       "--checkpoint-every", kCheckpointEvery, "--threads", "1"},
                                      run, Stage::kLdm, 6);
  {
    const std::optional<tools::StageProgress> vq = checkpoint_progress(run, Stage::kVqVae);
    const std::optional<tools::StageProgress> ldm = checkpoint_progress(run, Stage::kLdm);
    REQUIRE(vq);
    REQUIRE(ldm);
    CHECK(vq->complete);
    CHECK_FALSE(ldm->complete);
    CHECK(ldm->step < last_logged_step(run, Stage::kLdm));
  }

  // What a kill in the middle of writing a checkpoint leaves beside it: a partial temporary file
  // named after the killed writer. The resume must neither read it nor keep it.
  const fs::path partial = run / ("ldm.safetensors.tmp." + std::to_string(killed));
  {
    const std::vector<uint8_t> bytes = read_bytes(run / "ldm.safetensors");
    data::test::write_bytes(partial.string(), {bytes.begin(), bytes.begin() + bytes.size() / 2});
  }

  const ToolResult resumed =
      run_tool(kTrainExe, {"--out", run.string(), "--resume", "--data", data.string()});
  INFO(resumed.describe());
  REQUIRE(resumed.exit_code == 0);
  CHECK_THAT(resumed.err, Contains("vqvae: already trained"));
  CHECK_THAT(resumed.err, Contains("ldm: resuming at epoch"));
  CHECK_THAT(resumed.err, Contains("removed " + partial.string()));
  CHECK_FALSE(fs::exists(partial));
  CHECK(temp_files(run).empty());

  // The per-step losses (and every other metric line), exactly.
  const std::vector<nlohmann::json> expected = read_metrics(reference), got = read_metrics(run);
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    INFO("metrics line " << i + 1 << ": expected " << expected[i].dump() << ", got "
                         << got[i].dump());
    CHECK(got[i] == expected[i]);
  }
  // The final checkpoints' tensors.
  check_same_checkpoint(reference / "vqvae.safetensors", run / "vqvae.safetensors");
  check_same_checkpoint(reference / "ldm.safetensors", run / "ldm.safetensors");
  // And so every other file of the run: plots, per-epoch images, config.
  check_unchanged(snapshot(reference), run);
}

}  // namespace ldm::e2e
