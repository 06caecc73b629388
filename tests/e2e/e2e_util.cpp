// Helpers of the end-to-end tests (see tests/e2e/e2e_util.h).
#include "tests/e2e/e2e_util.h"

#include <fcntl.h>
#include <gif_lib.h>
#include <signal.h>
#include <spawn.h>
#include <stb/stb_image.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace ldm::e2e {
namespace {

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;

// Where the programs' stdout and stderr go: one directory per test process.
const TempDir& log_dir() {
  static const TempDir dir("ldm-e2e-logs");
  return dir;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The environment of the programs: ours, plus OMP_WAIT_POLICY=passive. With OpenMP's default
// spin-waiting, a tool whose 2 threads share 2 busy cores (other builds and tests running
// beside it) slows from 1 s to 30 s; passive waiting changes no result, only the waiting.
std::vector<std::string> child_environment() {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e)
    if (std::strncmp(*e, "OMP_WAIT_POLICY=", 16) != 0) env.emplace_back(*e);
  env.emplace_back("OMP_WAIT_POLICY=passive");
  return env;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

uint32_t big_endian32(const std::vector<uint8_t>& b, size_t at) {
  return uint32_t{b[at]} << 24 | uint32_t{b[at + 1]} << 16 | uint32_t{b[at + 2]} << 8 |
         uint32_t{b[at + 3]};
}

}  // namespace

std::string ToolResult::describe() const {
  std::ostringstream s;
  s << "$ " << command << "\n";
  if (signal != 0)
    s << "killed by signal " << signal << "\n";
  else
    s << "exit code " << exit_code << "\n";
  s << "stderr:\n" << err;
  return s.str();
}

Process::Process(const std::string& exe, const std::vector<std::string>& args) {
  static std::atomic<int> counter{0};
  const int n = counter++;
  out_path_ = log_dir().file("run" + std::to_string(n) + ".out");
  err_path_ = log_dir().file("run" + std::to_string(n) + ".err");
  std::vector<std::string> argv{exe};
  argv.insert(argv.end(), args.begin(), args.end());
  for (const std::string& a : argv) command_ += (command_.empty() ? "" : " ") + a;

  posix_spawn_file_actions_t actions;
  REQUIRE(posix_spawn_file_actions_init(&actions) == 0);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  std::vector<std::string> env = child_environment();
  std::vector<char*> c_argv = c_strings(argv), c_env = c_strings(env);
  const int rc = posix_spawn(&pid_, exe.c_str(), &actions, nullptr, c_argv.data(), c_env.data());
  posix_spawn_file_actions_destroy(&actions);
  INFO("posix_spawn " << exe << ": " << std::strerror(rc));
  REQUIRE(rc == 0);
}

Process::~Process() {
  if (pid_ > 0 && !reaped_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status_, 0);
  }
}

bool Process::running() {
  if (reaped_) return false;
  const pid_t r = ::waitpid(pid_, &status_, WNOHANG);
  if (r == pid_) reaped_ = true;
  return !reaped_;
}

void Process::kill_now() {
  if (!reaped_) ::kill(pid_, SIGKILL);
}

ToolResult Process::wait(double timeout_s) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (running()) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill_now();
      ::waitpid(pid_, &status_, 0);
      reaped_ = true;
      FAIL("timed out after " << timeout_s << " s: " << command_);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ToolResult r;
  r.command = command_;
  if (WIFEXITED(status_)) r.exit_code = WEXITSTATUS(status_);
  if (WIFSIGNALED(status_)) r.signal = WTERMSIG(status_);
  r.out = slurp(out_path_);
  r.err = slurp(err_path_);
  return r;
}

ToolResult run_tool(const std::string& exe, const std::vector<std::string>& args) {
  Process p(exe, args);
  return p.wait();
}

void check_clear_error(const ToolResult& r, const std::string& tool, const std::string& phrase) {
  INFO(r.describe());
  CHECK(r.signal == 0);
  CHECK(r.exit_code > 0);
  for (const char* crash : {"terminate called", "what():", "Aborted", "Segmentation", "LDM_CHECK"})
    CHECK_THAT(r.err, !Contains(crash));
  std::vector<std::string> error_lines;
  std::istringstream lines(r.err);
  for (std::string line; std::getline(lines, line);)
    if (line.find("error") != std::string::npos || line.find("Error") != std::string::npos)
      error_lines.push_back(line);
  REQUIRE(error_lines.size() == 1);
  CHECK_THAT(error_lines[0], StartsWith(tool + ": error: "));
  CHECK_THAT(error_lines[0], Contains(phrase));
}

std::vector<NpzEntry> medmnist_entries(int64_t n_train, int64_t n_val, int64_t n_test) {
  constexpr int64_t H = 28, W = 28;
  std::vector<NpzEntry> entries;
  int64_t image = 0;  // across splits, so that no two images are equal
  for (const auto& [split, N] :
       {std::pair<std::string, int64_t>{"train", n_train}, {"val", n_val}, {"test", n_test}}) {
    std::vector<uint8_t> pixels(static_cast<size_t>(N * H * W)), labels(static_cast<size_t>(N));
    for (int64_t i = 0; i < N; ++i, ++image) {
      const int label = static_cast<int>(i % 2);
      labels[static_cast<size_t>(i)] = static_cast<uint8_t>(label);
      const double radius = 6.0 + 3.0 * label + static_cast<double>(image % 3);
      for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x) {
          const double d = std::hypot(static_cast<double>(y) - 13.5, static_cast<double>(x) - 13.5);
          const int texture = static_cast<int>((image * 31 + y * 7 + x * 13) % 32);
          const int v = (d < radius ? 180 : 40) + texture;
          pixels[static_cast<size_t>((i * H + y) * W + x)] = static_cast<uint8_t>(v);
        }
    }
    entries.push_back({split + "_images", data::test::npy_bytes("|u1", {N, H, W}, pixels)});
    entries.push_back({split + "_labels", data::test::npy_bytes("|u1", {N, 1}, labels)});
  }
  return entries;
}

void write_medmnist(const fs::path& path, const std::vector<NpzEntry>& entries) {
  data::test::write_npz(path.string(), entries);
}

nlohmann::json tiny_config() {
  return nlohmann::json::parse(R"({
    "seed": 3,
    "data": {"file": "pneumoniamnist.npz", "image_size": 32, "train_subset": 12},
    "vqvae": {"base_channels": 8, "channel_multipliers": [1, 2], "num_res_blocks": 1,
              "latent_channels": 3, "codebook_size": 64, "codebook": "frozen", "groups": 4},
    "vqvae_training": {"epochs": 2, "batch_size": 4},
    "unet": {"base_channels": 8, "channel_multipliers": [1, 2], "num_res_blocks": 1,
             "attention_levels": [1], "num_heads": 2, "num_classes": 2, "groups": 4},
    "diffusion": {"timesteps": 50, "schedule": "linear"},
    "ldm_training": {"epochs": 2, "batch_size": 4, "ema_decay": 0.9},
    "sampling": {"sampler": "ddim", "steps": 10, "cfg_scale": 3.0, "samples_per_label": 2}
  })");
}

void write_json(const fs::path& path, const nlohmann::json& j) {
  std::ofstream out(path);
  out << j.dump(2) << "\n";
  REQUIRE(out.good());
}

const TrainedRun& trained_run() {
  static const TempDir dir("ldm-e2e-run");
  static const TrainedRun run = [] {
    TrainedRun r;
    r.data = dir.path() / "pneumoniamnist.npz";
    r.config = dir.path() / "tiny.json";
    r.dir = dir.path() / "run";
    write_medmnist(r.data);
    write_json(r.config, tiny_config());
    r.train = run_tool(kTrainExe, {"--config", r.config.string(), "--data", r.data.string(),
                                   "--out", r.dir.string()});
    return r;
  }();
  INFO(run.train.describe());
  REQUIRE(run.train.exit_code == 0);
  return run;
}

void copy_run(const fs::path& from, const fs::path& to) {
  fs::copy(from, to, fs::copy_options::recursive);
}

Snapshot snapshot(const fs::path& dir) {
  Snapshot s;
  for (const fs::directory_entry& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) s[fs::relative(e.path(), dir).string()] = read_bytes(e.path());
  return s;
}

void check_unchanged(const Snapshot& before, const fs::path& dir) {
  const Snapshot after = snapshot(dir);
  for (const auto& [name, bytes] : before) {
    INFO("file " << (dir / name).string());
    auto it = after.find(name);
    CHECK(it != after.end());
    if (it != after.end()) CHECK(it->second == bytes);
  }
  for (const auto& [name, bytes] : after) {
    INFO("new file " << (dir / name).string());
    CHECK(before.count(name) == 1);
  }
}

std::vector<std::string> temp_files(const fs::path& dir) {
  std::vector<std::string> names;
  for (const fs::directory_entry& e : fs::recursive_directory_iterator(dir))
    if (e.path().filename().string().find(".tmp.") != std::string::npos)
      names.push_back(fs::relative(e.path(), dir).string());
  return names;
}

void truncate_file(const fs::path& path, uint64_t size) {
  REQUIRE(fs::file_size(path) > size);
  fs::resize_file(path, size);
}

PngInfo decode_png(const fs::path& path) {
  const std::vector<uint8_t> bytes = read_bytes(path);
  INFO("PNG " << path.string());
  REQUIRE(bytes.size() > 8);
  PngInfo info;
  unsigned char* pixels = stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()),
                                                &info.width, &info.height, &info.channels, 0);
  INFO("stb_image: " << (pixels ? "ok" : stbi_failure_reason()));
  REQUIRE(pixels != nullptr);
  info.pixels.assign(pixels, pixels + info.width * info.height * info.channels);
  stbi_image_free(pixels);
  return info;
}

std::map<std::string, std::string> png_text(const fs::path& path) {
  const std::vector<uint8_t> b = read_bytes(path);
  INFO("PNG " << path.string());
  const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  REQUIRE(b.size() >= 8);
  REQUIRE(std::memcmp(b.data(), signature, 8) == 0);
  std::map<std::string, std::string> text;
  // Chunks: 4-byte big-endian length, 4-byte type, data, 4-byte CRC.
  for (size_t at = 8; at + 12 <= b.size();) {
    const size_t length = big_endian32(b, at);
    REQUIRE(at + 12 + length <= b.size());
    const std::string type(b.begin() + static_cast<std::ptrdiff_t>(at + 4),
                           b.begin() + static_cast<std::ptrdiff_t>(at + 8));
    const std::string data(b.begin() + static_cast<std::ptrdiff_t>(at + 8),
                           b.begin() + static_cast<std::ptrdiff_t>(at + 8 + length));
    if (type == "tEXt") {
      const size_t nul = data.find('\0');
      REQUIRE(nul != std::string::npos);
      text[data.substr(0, nul)] = data.substr(nul + 1);
    }
    if (type == "IEND") break;
    at += 12 + length;
  }
  return text;
}

GifInfo decode_gif(const fs::path& path) {
  INFO("GIF " << path.string());
  int error = 0;
  GifFileType* gif = DGifOpenFileName(path.c_str(), &error);
  INFO("giflib: " << GifErrorString(error));
  REQUIRE(gif != nullptr);
  const int rc = DGifSlurp(gif);
  const int slurp_error = gif->Error;
  GifInfo info{gif->ImageCount, gif->SWidth, gif->SHeight};
  bool frames_fill_screen = true;
  for (int i = 0; i < gif->ImageCount; ++i) {
    const GifImageDesc& d = gif->SavedImages[i].ImageDesc;
    frames_fill_screen &= d.Width == gif->SWidth && d.Height == gif->SHeight;
  }
  DGifCloseFile(gif, &error);
  INFO("DGifSlurp: " << GifErrorString(slurp_error));
  REQUIRE(rc == GIF_OK);
  CHECK(frames_fill_screen);
  return info;
}

std::vector<nlohmann::json> read_metrics(const fs::path& run_dir) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(run_dir / "metrics.jsonl");
  for (std::string line; std::getline(in, line);) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    INFO("metrics line: " << line);
    REQUIRE(j.is_object());
    lines.push_back(std::move(j));
  }
  return lines;
}

}  // namespace ldm::e2e
