// Writing the Prometheus text exposition format (version 0.0.4): metric
// families (HELP and TYPE lines) and samples. Shared by convd's own names
// (prometheus.cc) and Triton's (triton_metrics.cc).
#ifndef CONVD_SERVER_METRICS_PROMETHEUS_TEXT_H_
#define CONVD_SERVER_METRICS_PROMETHEUS_TEXT_H_

#include <charconv>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"

namespace convd {

// A label value with backslash, quote and newline escaped.
inline std::string EscapeLabelValue(const std::string& value) {
  return absl::StrReplaceAll(value, {{"\\", "\\\\"}, {"\"", "\\\""}, {"\n", "\\n"}});
}

class PrometheusWriter {
 public:
  void Header(const std::string& name, const char* type, const char* help) {
    absl::StrAppend(&text_, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
  }
  // `labels`: name="value" pairs joined by commas, values escaped; may be
  // empty.
  void Sample(const std::string& name, const std::string& labels, double value) {
    char number[32];  // the shortest text that reads back as `value`
    const auto end = std::to_chars(number, number + sizeof(number), value).ptr;
    absl::StrAppend(&text_, name, labels.empty() ? "" : "{", labels, labels.empty() ? "" : "}", " ",
                    absl::string_view(number, static_cast<size_t>(end - number)), "\n");
  }
  std::string text() && { return std::move(text_); }

 private:
  std::string text_;
};

}  // namespace convd

#endif  // CONVD_SERVER_METRICS_PROMETHEUS_TEXT_H_
