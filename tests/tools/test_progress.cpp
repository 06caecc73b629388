// ProgressBar with an injected clock and stream: the line's format, rate and ETA from the recent
// window, redraw throttling on a terminal, and sparse whole lines in logs.
#include <algorithm>
#include <catch2/catch.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tools/progress.h"

namespace ldm::tools {
namespace {

// A bar on a fake clock writing into a string.
struct Harness {
  double t = 0.0;
  std::ostringstream out;
  ProgressOptions options(ProgressDisplay display) {
    ProgressOptions o;
    o.out = &out;
    o.display = display;
    o.clock = [this] { return t; };
    o.width = 200;
    return o;
  }
};

int64_t count(const std::string& s, char c) {
  return std::count(s.begin(), s.end(), c);
}

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> lines;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST_CASE("progress: format_duration", "[tools_progress]") {
  CHECK(format_duration(0) == "0:00");
  CHECK(format_duration(23.4) == "0:23");
  CHECK(format_duration(59.6) == "1:00");
  CHECK(format_duration(605) == "10:05");
  CHECK(format_duration(3725) == "1:02:05");
  CHECK(format_duration(-3) == "0:00");
}

TEST_CASE("progress: line format, rate and ETA", "[tools_progress]") {
  Harness h;
  ProgressBar bar("vqvae 3/6", 74, h.options(ProgressDisplay::kTerminal));
  // 0.1 s per step of 32 images: 320 img/s; 37 steps left at 0.1 s each.
  for (int64_t s = 1; s <= 37; ++s) {
    h.t += 0.1;
    bar.update(s, 32, {{"loss", 0.0123449}});
  }
  CHECK(bar.rate() == Approx(320.0));
  CHECK(bar.eta_seconds() == Approx(3.7));
  CHECK(bar.line() == "vqvae 3/6 [########........] 37/74  loss 0.01234  320 img/s  ETA 0:04");

  h.t += 0.1;
  bar.update(38, 32, {{"loss", 0.5}, {"lr", 1e-4}});
  CHECK(bar.line() ==
        "vqvae 3/6 [########........] 38/74  loss 0.5  lr 0.0001  320 img/s  ETA 0:04");
  h.t += 0.1;
  bar.update(39, 32);  // no values: the last ones stay
  CHECK(bar.line().find("loss 0.5  lr 0.0001") != std::string::npos);
}

TEST_CASE("progress: rate and ETA follow the recent window", "[tools_progress]") {
  Harness h;
  ProgressOptions o = h.options(ProgressDisplay::kLog);
  o.rate_window = 20;
  ProgressBar bar("train", 1000, o);
  for (int64_t s = 1; s <= 50; ++s) {  // slow: 1 s per step
    h.t += 1.0;
    bar.update(s, 8);
  }
  CHECK(bar.rate() == Approx(8.0));
  for (int64_t s = 51; s <= 70; ++s) {  // then 10x faster; the window holds only these
    h.t += 0.1;
    bar.update(s, 8);
  }
  CHECK(bar.rate() == Approx(80.0));
  CHECK(bar.eta_seconds() == Approx(930 * 0.1));
}

TEST_CASE("progress: a terminal gets one line redrawn at most 10 times a second",
          "[tools_progress]") {
  Harness h;
  ProgressBar bar("epoch 1/1", 200, h.options(ProgressDisplay::kTerminal));
  for (int64_t s = 1; s <= 200; ++s) {  // 2 s of 10 ms steps
    h.t += 0.01;
    bar.update(s, 4);
  }
  const std::string drawn = h.out.str();
  CHECK(count(drawn, '\n') == 0);
  CHECK(count(drawn, '\r') >= 19);
  CHECK(count(drawn, '\r') <= 21);
  h.t += 0.01;
  bar.finish({{"loss", 0.25}});
  const std::string all = h.out.str();
  CHECK(all.back() == '\n');
  CHECK(count(all, '\n') == 1);
  const std::string last = all.substr(all.rfind('\r') + 1);
  CHECK(last == "epoch 1/1 [################] 200/200  loss 0.25  398 img/s  in 0:02\n");
  CHECK(bar.finished());

  bar.finish();  // only the first finish prints; updates after it are ignored
  bar.update(5, 1);
  CHECK(h.out.str() == all);
}

TEST_CASE("progress: a shorter redraw blanks the rest of the old line", "[tools_progress]") {
  Harness h;
  ProgressBar bar("x", 10, h.options(ProgressDisplay::kTerminal));
  h.t = 1;
  bar.update(1, 0, {{"a_long_value_name", 1.0}});
  const size_t first_length = h.out.str().size() - 1;  // without the '\r'
  h.t = 2;
  bar.update(2, 0, {{"b", 1.0}});
  const std::string second = h.out.str().substr(first_length + 1);
  CHECK(second.size() == first_length + 1);
  CHECK(second.find("b 1") != std::string::npos);
  CHECK(second.back() == ' ');
}

TEST_CASE("progress: terminal lines are cut to the width", "[tools_progress]") {
  Harness h;
  ProgressOptions o = h.options(ProgressDisplay::kTerminal);
  o.width = 30;
  ProgressBar bar("a label that is rather long", 10, o);
  h.t = 1;
  bar.update(1, 1);
  CHECK(h.out.str().size() == 1 + 29);
}

TEST_CASE("progress: a log gets a line every 10% and the final line, no carriage returns",
          "[tools_progress]") {
  Harness h;
  ProgressBar bar("sample", 100, h.options(ProgressDisplay::kLog));
  for (int64_t s = 1; s <= 100; ++s) {
    h.t += 0.05;
    bar.update(s, 1);
  }
  bar.finish();
  const std::string log = h.out.str();
  CHECK(count(log, '\r') == 0);
  const std::vector<std::string> lines = split_lines(log);
  REQUIRE(lines.size() == 10);
  for (int k = 1; k <= 9; ++k) {
    INFO(lines[k - 1]);
    const std::string expected = std::string(" ").append(std::to_string(10 * k)).append("/100 ");
    CHECK(lines[k - 1].find(expected) != std::string::npos);
  }
  CHECK(lines.back() == "sample [################] 100/100  20.0 img/s  in 0:05");
}

TEST_CASE("progress: a slow loop logs every 30 s between the 10% marks", "[tools_progress]") {
  Harness h;
  ProgressBar bar("slow", 1000, h.options(ProgressDisplay::kLog));
  for (int64_t s = 1; s <= 200; ++s) {  // 1 s per step: 100 s between marks
    h.t += 1.0;
    bar.update(s, 1);
  }
  std::vector<int64_t> logged;
  for (const std::string& line : split_lines(h.out.str())) {
    const size_t slash = line.find("/1000");
    REQUIRE(slash != std::string::npos);
    logged.push_back(std::stoll(line.substr(line.rfind(' ', slash) + 1)));
  }
  CHECK(logged == std::vector<int64_t>{30, 60, 90, 100, 130, 160, 190, 200});
}

TEST_CASE("progress: unknown total, no items, destructor", "[tools_progress]") {
  Harness h;
  {
    ProgressBar bar("scan", 0, h.options(ProgressDisplay::kTerminal));
    h.t = 2;
    bar.update(10);
    CHECK(bar.line() == "scan 10  5.00 it/s");
    CHECK(bar.eta_seconds() < 0);
  }  // destroyed without finish(): the half-drawn line is ended
  CHECK(h.out.str().back() == '\n');
}

}  // namespace
}  // namespace ldm::tools
