#include "server/core/classification.h"

#include <algorithm>
#include <numeric>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace convd {

std::vector<int> TopK(const float* scores, int count, int k) {
  std::vector<int> order(count);
  std::iota(order.begin(), order.end(), 0);
  k = std::max(0, std::min(k, count));
  std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int a, int b) {
    return scores[a] > scores[b] || (scores[a] == scores[b] && a < b);
  });
  order.resize(k);
  return order;
}

std::vector<std::string> Classify(const float* scores, int count, int k,
                                  const std::vector<std::string>& labels) {
  std::vector<std::string> top;
  for (int index : TopK(scores, count, k)) {
    std::string entry = absl::StrFormat("%f:%d", scores[index], index);
    if (index < static_cast<int>(labels.size())) absl::StrAppend(&entry, ":", labels[index]);
    top.push_back(std::move(entry));
  }
  return top;
}

std::optional<Classification> ParseClassification(std::string_view entry) {
  const std::vector<std::string> fields =
      absl::StrSplit(absl::string_view(entry.data(), entry.size()), absl::MaxSplits(':', 2));
  Classification result;
  if (fields.size() < 2 || !absl::SimpleAtod(fields[0], &result.score) ||
      !absl::SimpleAtoi(fields[1], &result.index)) {
    return std::nullopt;
  }
  if (fields.size() == 3) result.label = fields[2];
  return result;
}

}  // namespace convd
