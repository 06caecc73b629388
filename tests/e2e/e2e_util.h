// Helpers of the end-to-end tests: run the real ldm-train / ldm-sample binaries as a user would
// (posix_spawn, no shell), capture their exit status and output, write the synthetic MedMNIST
// file and the tiny run configuration they train on, and inspect what they wrote (PNG text
// chunks, GIF frames, directory snapshots).
#pragma once

#include <sys/types.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/data/data_test_util.h"

namespace ldm::e2e {

namespace fs = std::filesystem;
using data::test::NpzEntry;
using data::test::read_bytes;
using test::TempDir;

// Paths of the binaries under test, from the build (tools/CMakeLists.txt).
inline const std::string kTrainExe = LDM_TRAIN_EXE;
inline const std::string kSampleExe = LDM_SAMPLE_EXE;

// How a finished program ended, and what it printed.
struct ToolResult {
  std::string command;  // for messages: the program and its arguments
  int exit_code = -1;   // -1 when it was killed by a signal
  int signal = 0;       // the signal that ended it, or 0
  std::string out, err;
  std::string describe() const;  // command, status and stderr, for INFO()
};

// A program started in the background; its stdout and stderr go to files until wait().
class Process {
 public:
  Process(const std::string& exe, const std::vector<std::string>& args);
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process();  // kills and reaps a program still running (a failed test must not leak it)

  pid_t pid() const { return pid_; }
  bool running();   // false once it has ended (then wait() returns at once)
  void kill_now();  // SIGKILL, as an out-of-memory killer or a power cut would
  // Waits for the end (fails the test after timeout_s and kills the program).
  ToolResult wait(double timeout_s = 300);

 private:
  std::string command_, out_path_, err_path_;
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
};

// Runs a program to its end.
ToolResult run_tool(const std::string& exe, const std::vector<std::string>& args);

// Checks a refused command: it exited (no crash, no signal) with a non-zero code, and stderr has
// exactly one error line, "<tool>: error: ...", containing `phrase`; no stack trace, no
// "terminate called".
void check_clear_error(const ToolResult& r, const std::string& tool, const std::string& phrase);

// The entries of a small PneumoniaMNIST look-alike: per split uint8 images [N, 28, 28] (a
// bright disc whose size depends on the label, plus a fixed pattern) and uint8 labels [N, 1]
// alternating 0, 1.
std::vector<NpzEntry> medmnist_entries(int64_t n_train = 16, int64_t n_val = 4, int64_t n_test = 4);
// Writes them; name the file pneumoniamnist.npz so the tools call the labels normal/pneumonia.
void write_medmnist(const fs::path& path,
                    const std::vector<NpzEntry>& entries = medmnist_entries());

// A run configuration small enough that a whole run takes about a second on 2 cores: VQ-VAE and
// U-Net with base 8 channels, a 64-code codebook, T = 50, the first 12 training images, batches
// of 4 (3 steps per epoch), 2 epochs per stage, 10-step DDIM grids with 2 samples per label.
nlohmann::json tiny_config();
void write_json(const fs::path& path, const nlohmann::json& j);

// A run of tiny_config() trained once per test process (ldm-train must succeed), shared by
// the tests that only read it; tests that change it work on a copy (copy_run).
struct TrainedRun {
  fs::path dir, data, config;
  ToolResult train;
};
const TrainedRun& trained_run();
void copy_run(const fs::path& from, const fs::path& to);

// Every regular file below dir (relative path -> bytes).
using Snapshot = std::map<std::string, std::vector<uint8_t>>;
Snapshot snapshot(const fs::path& dir);
// Checks that dir holds exactly the files of `before`, byte for byte, naming any difference.
void check_unchanged(const Snapshot& before, const fs::path& dir);
// Files below dir left by an atomic write that did not finish ("NAME.tmp.PID").
std::vector<std::string> temp_files(const fs::path& dir);

void truncate_file(const fs::path& path, uint64_t size);

// A PNG decoded by stb_image: its size, channels in the file and pixels. Fails the test when stb
// cannot decode it.
struct PngInfo {
  int width = 0, height = 0, channels = 0;
  std::vector<uint8_t> pixels;  // [height, width, channels]
};
PngInfo decode_png(const fs::path& path);
// The tEXt chunks of a PNG, key -> value.
std::map<std::string, std::string> png_text(const fs::path& path);

// A GIF decoded by giflib (DGifSlurp): its frames and the logical screen size. Fails the test
// when giflib cannot decode it or a frame does not fill the screen.
struct GifInfo {
  int frames = 0, width = 0, height = 0;
};
GifInfo decode_gif(const fs::path& path);

// The lines of metrics.jsonl, parsed.
std::vector<nlohmann::json> read_metrics(const fs::path& run_dir);

}  // namespace ldm::e2e
