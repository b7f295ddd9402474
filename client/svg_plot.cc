// RenderSvgPlot (load_report.h): two panels sharing the x axis, throughput
// above and p99 latency below, one coloured line per batch size. The x axis
// is logarithmic for a closed-loop sweep over a wide range of concurrency
// (1:64:x2 spaces evenly), linear otherwise.
#include <algorithm>
#include <cmath>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "client/load_report.h"

namespace convd::client {
namespace {

constexpr double kWidth = 760, kPanelHeight = 230, kLeft = 80, kRight = 130, kTop = 50,
                 kGap = 60;
constexpr const char* kColours[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd",
                                    "#ff7f0e", "#8c564b", "#17becf", "#7f7f7f"};

std::string Escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else if (c == '"') out += "&quot;";
    else out += c;
  }
  return out;
}

// A round step giving about five ticks up to `max`.
double NiceStep(double max) {
  if (max <= 0) return 1;
  const double raw = max / 5;
  const double magnitude = std::pow(10, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    if (raw <= m * magnitude) return m * magnitude;
  }
  return 10 * magnitude;
}

std::string Number(double v) {
  if (v >= 10000) return absl::StrFormat("%.0fk", v / 1000);
  if (v >= 100 || v == std::floor(v)) return absl::StrFormat("%.0f", v);
  if (v >= 1) return absl::StrFormat("%.1f", v);
  return absl::StrFormat("%.2g", v);
}

struct XAxis {
  double min, max;
  bool log;
  double Map(double x) const {
    const double span = kWidth - kLeft - kRight;
    if (max <= min) return kLeft + span / 2;
    const double t = log ? (std::log(x) - std::log(min)) / (std::log(max) - std::log(min))
                         : (x - min) / (max - min);
    return kLeft + t * span;
  }
};

// One panel: frame, y grid and labels, x ticks, and a line per series.
void Panel(std::string& svg, double top, const std::string& y_label, const XAxis& x,
           const std::vector<double>& x_ticks,
           const std::map<int, std::vector<std::pair<double, double>>>& series) {
  double y_max = 0;
  for (const auto& [batch, points] : series) {
    for (const auto& [px, py] : points) y_max = std::max(y_max, py);
  }
  const double step = NiceStep(y_max * 1.05);
  const double y_top = std::max(step, std::ceil(y_max * 1.05 / step) * step);
  auto map_y = [&](double y) { return top + kPanelHeight - y / y_top * kPanelHeight; };
  const double right = kWidth - kRight;
  absl::StrAppendFormat(&svg,
                        "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\" "
                        "stroke=\"#444\"/>\n",
                        kLeft, top, right - kLeft, kPanelHeight);
  for (double y = 0; y <= y_top * (1 + 1e-9); y += step) {
    const double py = map_y(y);
    absl::StrAppendFormat(&svg,
                          "<line x1=\"%g\" y1=\"%.1f\" x2=\"%g\" y2=\"%.1f\" stroke=\"#ddd\"/>\n"
                          "<text x=\"%g\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n",
                          kLeft, py, right, py, kLeft - 6, py + 4, Number(y));
  }
  for (double t : x_ticks) {
    const double px = x.Map(t);
    absl::StrAppendFormat(&svg,
                          "<line x1=\"%.1f\" y1=\"%g\" x2=\"%.1f\" y2=\"%g\" stroke=\"#eee\"/>\n"
                          "<text x=\"%.1f\" y=\"%g\" text-anchor=\"middle\">%s</text>\n",
                          px, top, px, top + kPanelHeight, px, top + kPanelHeight + 16,
                          Number(t));
  }
  absl::StrAppendFormat(&svg,
                        "<text x=\"20\" y=\"%g\" text-anchor=\"middle\" "
                        "transform=\"rotate(-90 20 %g)\">%s</text>\n",
                        top + kPanelHeight / 2, top + kPanelHeight / 2, Escape(y_label));
  int colour = 0;
  for (const auto& [batch, points] : series) {
    const char* c = kColours[colour++ % std::size(kColours)];
    std::string path;
    for (const auto& [px, py] : points) {
      absl::StrAppendFormat(&path, "%.1f,%.1f ", x.Map(px), map_y(py));
    }
    absl::StrAppendFormat(&svg,
                          "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
                          "points=\"%s\"/>\n",
                          c, path);
    for (const auto& [px, py] : points) {
      absl::StrAppendFormat(&svg, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"/>\n",
                            x.Map(px), map_y(py), c);
    }
  }
}

}  // namespace

std::string RenderSvgPlot(const LoadRun& run, const std::vector<StepResult>& steps) {
  // Series by batch size, points sorted by load.
  std::map<int, std::vector<std::pair<double, double>>> throughput, p99;
  std::vector<double> loads;
  for (const StepResult& s : steps) {
    const double load = run.open_loop ? s.step.rate : s.step.concurrency;
    throughput[s.step.batch].emplace_back(load, s.images_per_second());
    p99[s.step.batch].emplace_back(load, s.Percentile(99));
    loads.push_back(load);
  }
  for (auto* series : {&throughput, &p99}) {
    for (auto& [batch, points] : *series) std::sort(points.begin(), points.end());
  }
  std::sort(loads.begin(), loads.end());
  loads.erase(std::unique(loads.begin(), loads.end()), loads.end());
  XAxis x{loads.empty() ? 1 : loads.front(), loads.empty() ? 1 : loads.back(), false};
  x.log = !run.open_loop && x.min > 0 && x.max / x.min >= 8;
  std::vector<double> x_ticks;
  if (x.log || loads.size() <= 12) {
    x_ticks = loads;
  } else {
    const double step = NiceStep(x.max);
    for (double t = std::ceil(x.min / step) * step; t <= x.max; t += step) x_ticks.push_back(t);
  }

  const double height = kTop + 2 * kPanelHeight + kGap + 50;
  std::string svg = absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
      "<text x=\"%g\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">%s</text>\n",
      kWidth, height, kWidth / 2,
      Escape(absl::StrCat("convload ", run.model, " at ", run.url, " (", run.input, ")")));
  Panel(svg, kTop, "throughput (images/s)", x, x_ticks, throughput);
  const double second = kTop + kPanelHeight + kGap;
  Panel(svg, second, "p99 latency (ms)", x, x_ticks, p99);
  absl::StrAppendFormat(&svg, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">%s</text>\n",
                        kLeft + (kWidth - kLeft - kRight) / 2, second + kPanelHeight + 38,
                        run.open_loop ? "offered rate (requests/s)"
                                      : (x.log ? "concurrency (log scale)" : "concurrency"));
  int colour = 0;
  int row = 0;
  for (const auto& [batch, points] : throughput) {
    const char* c = kColours[colour++ % std::size(kColours)];
    const double y = kTop + 12 + 20 * row++;
    absl::StrAppendFormat(&svg,
                          "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"%s\" "
                          "stroke-width=\"3\"/>\n<text x=\"%g\" y=\"%g\">batch %d</text>\n",
                          kWidth - kRight + 14, y, kWidth - kRight + 38, y, c,
                          kWidth - kRight + 44, y + 4, batch);
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace convd::client
