// Line plots: the PNG decodes to the requested size; series pixels land where the axes say they
// should (linear and log); NaN/inf and, on a log axis, y <= 0 are skipped; lone points show as
// dots; empty plots draw axes only; invalid plots are ldm::Errors.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "data/image_io.h"
#include "tests/temp_dir.h"
#include "tools/plot.h"
#include "tools_test_util.h"

namespace ldm::tools {
namespace {

constexpr Rgb kRed{220, 0, 0};
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

int px(double v) {
  return static_cast<int>(std::lround(v));
}

// Pixels of colour c in the rectangle (inclusive).
int64_t count_color(const RgbImage& im, Rgb c, int x0, int y0, int x1, int y1) {
  int64_t n = 0;
  for (int y = y0; y <= y1; ++y)
    for (int x = x0; x <= x1; ++x) n += im.at(y, x) == c;
  return n;
}
// Whether colour c is within one pixel of (row, col): rounding puts a sloped line's pixels up to
// a pixel away from the ideal point.
bool near(const RgbImage& im, int row, int col, Rgb c) {
  for (int dy = -1; dy <= 1; ++dy)
    for (int dx = -1; dx <= 1; ++dx)
      if (im.at(row + dy, col + dx) == c) return true;
  return false;
}
int64_t count_color(const RgbImage& im, Rgb c) {
  return count_color(im, c, 0, 0, static_cast<int>(im.W) - 1, static_cast<int>(im.H) - 1);
}

// A horizontal red line at y = 1 from x = 0 to 10.
LinePlot flat_line() {
  LinePlot p;
  p.title = "flat";
  p.x_label = "step";
  p.y_label = "loss";
  p.series = {{"one", {0, 5, 10}, {1, 1, 1}, kRed}};
  return p;
}

TEST_CASE("plot: the PNG decodes to the requested size", "[tools_plot]") {
  test::TempDir dir("ldm-plot");
  LinePlot p = flat_line();
  write_line_plot(dir.file("a.png"), p);
  const data::DecodedImage im = data::read_image(dir.file("a.png"), 3);
  CHECK(im.W == 640);
  CHECK(im.H == 400);
  CHECK(im.C == 3);
  // The file holds exactly what render_line_plot draws.
  const RgbImage rendered = render_line_plot(p);
  CHECK(im.pixels == rendered.pixels);

  p.width = 300;
  p.height = 200;
  write_line_plot(dir.file("b.png"), p);
  const data::DecodedImage small = data::read_image(dir.file("b.png"), 3);
  CHECK(small.W == 300);
  CHECK(small.H == 200);
}

TEST_CASE("plot: a constant series on a fixed range lands on the expected row", "[tools_plot]") {
  LinePlot p = flat_line();
  p.x_range = {{0.0, 10.0}};
  p.y_range = {{0.0, 2.0}};
  p.series[0].name = "";  // no legend: its red sample line would count as stray pixels
  const PlotFrame f = plot_frame(p);
  // y = 1 is halfway up the plot area; x from 0 to 10 spans it.
  const int row = px(f.to_px_y(1.0));
  CHECK(std::abs(row - (f.top + f.bottom) / 2) <= 1);
  CHECK(px(f.to_px_x(0.0)) == f.left);
  CHECK(px(f.to_px_x(10.0)) == f.right);

  const RgbImage im = render_line_plot(p);
  for (int x = f.left; x <= f.right; x += 7) {
    INFO("column " << x);
    CHECK(im.at(row, x) == kRed);
  }
  // 2 px thick, and nowhere else.
  CHECK(count_color(im, kRed, f.left, row - 1, f.right, row + 2) >= 2 * (f.right - f.left));
  CHECK(count_color(im, kRed, 0, 0, static_cast<int>(im.W) - 1, row - 2) == 0);
  CHECK(count_color(im, kRed, 0, row + 3, static_cast<int>(im.W) - 1, f.bottom) == 0);
  // Inside the frame: the axes box is black just outside the plot area.
  CHECK(im.at(row, f.left - 1) == Rgb{0, 0, 0});
  CHECK(im.at(f.bottom + 1, (f.left + f.right) / 2) == Rgb{0, 0, 0});
}

TEST_CASE("plot: automatic ranges put a flat series mid-height and a slope corner to corner",
          "[tools_plot]") {
  LinePlot p = flat_line();
  PlotFrame f = plot_frame(p);
  CHECK(f.y_min < 1.0);
  CHECK(f.y_max > 1.0);
  CHECK(std::abs(px(f.to_px_y(1.0)) - (f.top + f.bottom) / 2) <= 1);
  RgbImage im = render_line_plot(p);
  CHECK(im.at(px(f.to_px_y(1.0)), (f.left + f.right) / 2) == kRed);

  p.series = {{"", {0, 100}, {0, 50}, kRed}};
  f = plot_frame(p);
  im = render_line_plot(p);
  for (double x : {10.0, 37.0, 50.0, 90.0}) {
    INFO("x = " << x);
    CHECK(near(im, px(f.to_px_y(x / 2)), px(f.to_px_x(x)), kRed));
  }
}

TEST_CASE("plot: log scale maps decades evenly and ignores y <= 0", "[tools_plot]") {
  LinePlot p;
  p.y_scale = YScale::kLog;
  p.series = {{"loss", {0, 1, 2, 3, 4, 5}, {1, 0.1, 0.0, 0.01, -1.0, 0.001}, kRed}};
  const PlotFrame f = plot_frame(p);
  // The range fits the positive values only.
  CHECK(f.y_min > 0);
  CHECK(f.y_min < 0.001);
  CHECK(f.y_min > 0.0001);
  CHECK(f.y_max > 1.0);
  CHECK(f.y_max < 10.0);
  // Equal ratios are equal distances.
  const double decade = f.to_px_y(0.1) - f.to_px_y(1.0);
  CHECK(f.to_px_y(0.01) - f.to_px_y(0.1) == Approx(decade));
  CHECK(f.to_px_y(0.001) - f.to_px_y(0.01) == Approx(decade));

  const RgbImage im = render_line_plot(p);
  // The first segment (1 -> 0.1) is drawn; its midpoint is at sqrt(0.1) on a log axis.
  CHECK(near(im, px(f.to_px_y(std::sqrt(0.1))), px(f.to_px_x(0.5)), kRed));
  // Points with y <= 0 break the line: nothing between x = 1 and 3 except near the dots' ends,
  // and the lone points at x = 3 and 5 are dots.
  CHECK(count_color(im, kRed, px(f.to_px_x(1.5)), f.top, px(f.to_px_x(2.5)), f.bottom) == 0);
  CHECK(im.at(px(f.to_px_y(0.01)), px(f.to_px_x(3))) == kRed);
  CHECK(im.at(px(f.to_px_y(0.001)), px(f.to_px_x(5))) == kRed);

  // A series with nothing positive leaves the axes alone: the default [1, 10].
  p.series = {{"", {0, 1}, {0, -2}, kRed}};  // unnamed: no legend sample line either
  const PlotFrame empty = plot_frame(p);
  CHECK(empty.y_min == Approx(1.0));
  CHECK(empty.y_max == Approx(10.0));
  CHECK(count_color(render_line_plot(p), kRed) == 0);

  // A fixed range has to be positive.
  p.y_range = {{0.0, 1.0}};
  CHECK_LDM_ERROR(plot_frame(p), "log axis");
  p.y_range = {{1e-4, 1.0}};
  CHECK(plot_frame(p).y_min == Approx(1e-4));
}

TEST_CASE("plot: NaN and inf points are skipped, lone points are dots", "[tools_plot]") {
  LinePlot p;
  p.x_range = {{0.0, 10.0}};
  p.y_range = {{0.0, 2.0}};
  p.series = {
      {"gappy", {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {1, 1, 1, 1, kNaN, 1, kInf, 1, 1, 1, 1}, kRed}};
  const PlotFrame f = plot_frame(p);
  const RgbImage im = render_line_plot(p);
  const int row = px(f.to_px_y(1.0));
  CHECK(im.at(row, px(f.to_px_x(2.0))) == kRed);
  CHECK(im.at(row, px(f.to_px_x(8.5))) == kRed);
  // Gaps around the NaN (x = 4) and the inf (x = 6); x = 5 is a lone dot.
  CHECK(im.at(row, px(f.to_px_x(3.5))) != kRed);
  CHECK(im.at(row, px(f.to_px_x(4.5))) != kRed);
  CHECK(im.at(row, px(f.to_px_x(5.0))) == kRed);
  CHECK(im.at(row - 2, px(f.to_px_x(5.0))) == kRed);  // a dot is taller than a line
  CHECK(im.at(row, px(f.to_px_x(6.5))) != kRed);

  // A series of one point.
  p.series = {{"", {4}, {0.5}, kRed}};
  const RgbImage dot = render_line_plot(p);
  const int x = px(f.to_px_x(4)), y = px(f.to_px_y(0.5));
  CHECK(dot.at(y, x) == kRed);
  CHECK(count_color(dot, kRed, x - 2, y - 2, x + 2, y + 2) >= 9);
  CHECK(count_color(dot, kRed) == count_color(dot, kRed, x - 2, y - 2, x + 2, y + 2));
}

TEST_CASE("plot: series outside a fixed range are clipped to the plot area", "[tools_plot]") {
  LinePlot p;
  p.x_range = {{0.0, 10.0}};
  p.y_range = {{0.0, 1.0}};
  p.series = {{"wild", {-5, 15}, {-1e300, 1e300}, kRed}, {"", {0, 10}, {5, 5}, kRed}};
  const PlotFrame f = plot_frame(p);
  const RgbImage im = render_line_plot(p);
  CHECK(count_color(im, kRed) > 0);
  CHECK(count_color(im, kRed) ==
        count_color(im, kRed, f.left, f.top, f.right, f.bottom));  // nothing outside
}

TEST_CASE("plot: colours, legend, text and empty plots", "[tools_plot]") {
  LinePlot p;
  p.title = "Losses";
  p.series = {{"train loss", {0, 1, 2, 3}, {3, 2, 1.5, 1.2}, std::nullopt},
              {"val loss", {1, 3}, {2.2, 1.4}, std::nullopt}};
  const RgbImage im = render_line_plot(p);
  const Rgb first = default_series_color(0), second = default_series_color(1);
  CHECK(first != second);
  CHECK(count_color(im, first) > 100);
  CHECK(count_color(im, second) > 100);
  // The title is drawn in black above the plot area.
  const PlotFrame f = plot_frame(p);
  CHECK(count_color(im, Rgb{0, 0, 0}, 0, 0, static_cast<int>(im.W) - 1, f.top - 3) > 20);

  // The legend (a 20 px sample line per named series) goes to a corner free of data: the curve
  // falls from the top-left, so the top-right corner.
  CHECK(count_color(im, first, (f.left + f.right) / 2, f.top, f.right, f.top + 40) >= 40);

  // No series, or only NaN: axes and labels, nothing else, no error.
  LinePlot empty;
  empty.title = "nothing yet";
  const RgbImage axes = render_line_plot(empty);
  CHECK(count_color(axes, Rgb{0, 0, 0}) > 100);
  empty.series = {{"nan", {0, 1}, {kNaN, kNaN}, kRed}};
  const RgbImage nan = render_line_plot(empty);
  CHECK(count_color(nan, kRed) == 40);  // the legend's sample line only (20 x 2)
}

TEST_CASE("plot: invalid plots are errors", "[tools_plot]") {
  LinePlot p;
  p.series = {{"train loss", {0, 1, 2}, {1, 2}, std::nullopt}};
  CHECK_LDM_ERROR(plot_frame(p), "train loss");
  p.series.clear();
  p.x_range = {{1.0, 1.0}};
  CHECK_LDM_ERROR(plot_frame(p), "x range");
  p.x_range.reset();
  p.width = 50;
  CHECK_LDM_ERROR(render_line_plot(p), "plot size");
  test::TempDir dir("ldm-plot");
  p.width = 640;
  CHECK_LDM_ERROR(write_line_plot(dir.file("missing/dir/plot.png"), p), "missing/dir");
}

}  // namespace
}  // namespace ldm::tools
