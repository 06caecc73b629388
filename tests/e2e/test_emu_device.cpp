// End-to-end on --device emu: the tiny run trained with every op on the emulated CUDA device
// (the kernels/cuda launchers through the SIMT emulator) follows the CPU run's losses, and
// ldm-sample --device emu draws the CPU run's samples.
//
// Tolerances. Each emulated kernel agrees with its CPU counterpart within a few float epsilons
// of its terms' magnitudes (tests/emu, tests/ops_emu), not bitwise: summation orders and FMA
// contraction differ. Twelve optimizer steps carry those differences forward without blowing
// them up, so every logged loss must agree to 1e-4 relative (about 10^3 float epsilons; here
// the runs agree to 1.2e-7, a float epsilon). Samples are 10 DDIM steps from the same
// checkpoint and noise; pixels are compared after rounding to 8 bits: within 1 level each, the
// mean within 0.05 level (here they are identical).
#include <cmath>
#include <iostream>

#include "tests/e2e/e2e_util.h"

namespace ldm::e2e {
namespace {

// (stage, step) -> loss of the training lines of a run's metrics.
std::map<std::pair<std::string, int64_t>, double> training_losses(const fs::path& run_dir) {
  std::map<std::pair<std::string, int64_t>, double> losses;
  for (const nlohmann::json& line : read_metrics(run_dir))
    if (line.contains("loss") && !line.contains("split"))
      losses[{line.at("stage").get<std::string>(), line.at("step").get<int64_t>()}] =
          line.at("loss").get<double>();
  return losses;
}

TEST_CASE("ldm-train and ldm-sample on --device emu match the CPU", "[e2e_emu_device]") {
  const TrainedRun& cpu_run = trained_run();
  const TempDir dir("ldm-e2e-emu");
  const fs::path emu_run = dir.path() / "run";
  const ToolResult train =
      run_tool(kTrainExe, {"--config", cpu_run.config.string(), "--data", cpu_run.data.string(),
                           "--out", emu_run.string(), "--device", "emu"});
  INFO(train.describe());
  REQUIRE(train.exit_code == 0);

  const auto want = training_losses(cpu_run.dir), got = training_losses(emu_run);
  REQUIRE(want.size() == 12);  // 6 steps of each stage
  REQUIRE(got.size() == want.size());
  double worst_loss = 0;
  for (const auto& [key, loss] : want) {
    INFO(key.first << " step " << key.second << ": cpu " << loss << ", emu " << got.at(key));
    CHECK(std::abs(got.at(key) - loss) <= 1e-4 * std::abs(loss));
    worst_loss = std::max(worst_loss, std::abs(got.at(key) - loss) / std::abs(loss));
  }

  // The CPU run's checkpoints sampled on both devices.
  const fs::path on_cpu = dir.path() / "cpu", on_emu = dir.path() / "emu";
  for (const auto& [device, out] : {std::pair{"cpu", on_cpu}, std::pair{"emu", on_emu}}) {
    const ToolResult r = run_tool(kSampleExe, {"--run", cpu_run.dir.string(), "--out",
                                               out.string(), "--n", "2", "--device", device});
    INFO(r.describe());
    REQUIRE(r.exit_code == 0);
  }
  const PngInfo a = decode_png(on_cpu / "grid.png"), b = decode_png(on_emu / "grid.png");
  REQUIRE(a.pixels.size() == b.pixels.size());
  int worst = 0;
  double total = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) {
    const int d = std::abs(int{a.pixels[i]} - int{b.pixels[i]});
    worst = std::max(worst, d);
    total += d;
  }
  std::cout << "--device emu vs cpu: losses within " << worst_loss
            << " relative; sample pixels within " << worst << " levels, mean "
            << total / static_cast<double>(a.pixels.size()) << "\n";
  CHECK(worst <= 1);
  CHECK(total / static_cast<double>(a.pixels.size()) <= 0.05);
}

}  // namespace
}  // namespace ldm::e2e
