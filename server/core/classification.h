// The KServe classification extension's entries, "score:index[:label]",
// written by the server and read back by the REST classify endpoint and
// convctl; and the top-k ordering both the server and convctl use.
#ifndef CONVD_SERVER_CORE_CLASSIFICATION_H_
#define CONVD_SERVER_CORE_CLASSIFICATION_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace convd {

// Indices of the k highest scores, highest first, ties by lower index
// (k is capped at count).
std::vector<int> TopK(const float* scores, int count, int k);

// Top-k of one row as "score:index:label" strings (":label" only when the
// model has labels).
std::vector<std::string> Classify(const float* scores, int count, int k,
                                  const std::vector<std::string>& labels);

struct Classification {
  double score = 0;
  int index = 0;
  std::optional<std::string> label;  // may itself contain ':'
};

// Reads one entry; nullopt when it is not "score:index[:label]".
std::optional<Classification> ParseClassification(std::string_view entry);

}  // namespace convd

#endif  // CONVD_SERVER_CORE_CLASSIFICATION_H_
