#include "server/core/classification.h"

#include <random>

#include "gtest/gtest.h"

namespace convd {
namespace {

TEST(TopKTest, OrdersByScoreThenLowerIndexAndCapsK) {
  const float scores[] = {0.5f, 2.0f, -1.0f, 2.0f, 0.25f};
  EXPECT_EQ(TopK(scores, 5, 3), (std::vector<int>{1, 3, 0}));
  EXPECT_EQ(TopK(scores, 5, 9), (std::vector<int>{1, 3, 0, 4, 2}));
  EXPECT_TRUE(TopK(scores, 5, 0).empty());
  EXPECT_TRUE(TopK(scores, 5, -2).empty());
}

TEST(TopKTest, MatchesAFullSortOnRandomRows) {
  std::mt19937 rng(std::random_device{}());
  std::uniform_real_distribution<float> value(-3.0f, 3.0f);
  for (int count : {1, 2, 7, 10, 1000}) {
    std::vector<float> scores(count);
    for (float& s : scores) s = value(rng);
    std::vector<int> sorted(count);
    for (int i = 0; i < count; ++i) sorted[i] = i;
    std::stable_sort(sorted.begin(), sorted.end(),
                     [&](int a, int b) { return scores[a] > scores[b]; });
    const int k = std::min(count, 5);
    EXPECT_EQ(TopK(scores.data(), count, k),
              std::vector<int>(sorted.begin(), sorted.begin() + k))
        << "count " << count;
  }
}

TEST(ClassificationTest, EntriesReadBackAsWritten) {
  const float scores[] = {0.125f, 0.75f, 0.125f};
  const std::vector<std::string> entries =
      Classify(scores, 3, 3, {"T-shirt/top", "a:b:c"});  // third class unlabelled
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0], "0.750000:1:a:b:c");

  const auto best = ParseClassification(entries[0]);
  ASSERT_TRUE(best.has_value());
  EXPECT_DOUBLE_EQ(best->score, 0.75);
  EXPECT_EQ(best->index, 1);
  EXPECT_EQ(best->label, "a:b:c");  // a label may contain ':'

  const auto second = ParseClassification(entries[1]);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->index, 0);
  EXPECT_EQ(second->label, "T-shirt/top");

  const auto unlabelled = ParseClassification(entries[2]);
  ASSERT_TRUE(unlabelled.has_value());
  EXPECT_EQ(unlabelled->index, 2);
  EXPECT_FALSE(unlabelled->label.has_value());
}

TEST(ClassificationTest, RefusesMalformedEntries) {
  for (const char* bad : {"", "0.5", "x:1", "0.5:y", "0.5:1.5:label", ":3"}) {
    EXPECT_FALSE(ParseClassification(bad).has_value()) << "'" << bad << "'";
  }
}

}  // namespace
}  // namespace convd
