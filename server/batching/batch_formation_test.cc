#include "server/batching/batch_formation.h"

#include <vector>

#include "gtest/gtest.h"

namespace convd {
namespace {

using std::chrono::microseconds;

// A fake clock: times are offsets from an arbitrary origin.
const TimePoint kOrigin = TimePoint() + std::chrono::hours(1);
TimePoint At(int us) { return kOrigin + microseconds(us); }

BatchingPolicy Policy(int max_batch, std::vector<int> preferred, int delay_us) {
  BatchingPolicy policy;
  policy.max_batch_size = max_batch;
  policy.preferred_batch_sizes = std::move(preferred);
  policy.max_queue_delay = microseconds(delay_us);
  return policy;
}

TEST(NextBatchTest, EmptyQueueWaitsForever) {
  const BatchDecision d = NextBatch({}, At(0), At(0), Policy(8, {}, 100));
  EXPECT_EQ(d.take, 0);
  EXPECT_EQ(d.wait_until, TimePoint::max());
}

TEST(NextBatchTest, WithoutDynamicBatchingEachRequestRunsAlone) {
  BatchingPolicy policy = Policy(8, {}, 1000);
  policy.dynamic = false;
  const std::vector<int> rows = {1, 1, 1};
  EXPECT_EQ(NextBatch(rows, At(0), At(0), policy).take, 1);
}

TEST(NextBatchTest, WaitsForTheOldestRequestsDelay) {
  const std::vector<int> rows = {1, 2};
  const BatchDecision d = NextBatch(rows, At(0), At(30), Policy(8, {}, 100));
  EXPECT_EQ(d.take, 0);
  EXPECT_EQ(d.wait_until, At(100));
}

TEST(NextBatchTest, DelayExpiredTakesEverythingThatFits) {
  const std::vector<int> rows = {1, 2, 3};
  EXPECT_EQ(NextBatch(rows, At(0), At(100), Policy(8, {}, 100)).take, 3);
  EXPECT_EQ(NextBatch(rows, At(0), At(250), Policy(8, {}, 100)).take, 3);
}

TEST(NextBatchTest, FullBatchRunsAtOnce) {
  const std::vector<int> rows = {3, 5, 1};
  EXPECT_EQ(NextBatch(rows, At(0), At(1), Policy(8, {}, 1000)).take, 2);
}

TEST(NextBatchTest, RequestThatCannotJoinClosesTheBatch) {
  // 3 + 4 = 7 rows fit in 8, the next request (2 rows) does not: the batch
  // cannot grow, so waiting gains nothing.
  const std::vector<int> rows = {3, 4, 2};
  EXPECT_EQ(NextBatch(rows, At(0), At(1), Policy(8, {}, 1000)).take, 2);
}

TEST(NextBatchTest, PreferredSizeRunsBeforeTheDelay) {
  const std::vector<int> rows = {2, 2, 1};
  // Prefixes hold 2, 4, 5 rows; 4 is preferred (2 is too, the largest wins).
  const BatchDecision d = NextBatch(rows, At(0), At(5), Policy(16, {2, 4}, 1000));
  EXPECT_EQ(d.take, 2);
}

TEST(NextBatchTest, NoPreferredPrefixKeepsWaiting) {
  const std::vector<int> rows = {3};
  const BatchDecision d = NextBatch(rows, At(0), At(5), Policy(16, {4, 8}, 1000));
  EXPECT_EQ(d.take, 0);
  EXPECT_EQ(d.wait_until, At(1000));
}

TEST(NextBatchTest, ZeroDelayRunsImmediately) {
  const std::vector<int> rows = {1};
  EXPECT_EQ(NextBatch(rows, At(7), At(7), Policy(4, {}, 0)).take, 1);
}

TEST(NextBatchTest, RequestsComingAloneRunWithoutWaitingForCompany) {
  const std::vector<int> rows = {1, 2};
  const BatchDecision d =
      NextBatch(rows, At(0), At(5), Policy(8, {}, 1000), /*requests_come_alone=*/true);
  EXPECT_EQ(d.take, 2);  // everything queued that fits, at once
}

TEST(NextBatchTest, StrictDelayWaitsEvenWhenRequestsComeAlone) {
  BatchingPolicy policy = Policy(8, {}, 1000);
  policy.strict_queue_delay = true;
  const std::vector<int> rows = {1};
  const BatchDecision d = NextBatch(rows, At(0), At(5), policy, /*requests_come_alone=*/true);
  EXPECT_EQ(d.take, 0);
  EXPECT_EQ(d.wait_until, At(1000));
}

TEST(CompanyForecastTest, FreshForecastExpectsCompany) {
  EXPECT_FALSE(CompanyForecast().RequestsComeAlone());
}

TEST(CompanyForecastTest, LoneArrivalsTurnItAndTwoWithCompanyTurnItBack) {
  CompanyForecast forecast;
  int lone = 0;
  while (!forecast.RequestsComeAlone()) {
    forecast.Record(/*found_company=*/false);
    ++lone;
    ASSERT_LE(lone, 16) << "a client sending one request at a time still waits";
  }
  EXPECT_GE(lone, 8) << "a few quiet arrivals should not end batching";
  for (int i = 0; i < 20; ++i) forecast.Record(false);
  // A burst after a long quiet spell: a few arrivals that find company
  // restore batching for the rest.
  for (int i = 0; i < 3; ++i) forecast.Record(true);
  EXPECT_FALSE(forecast.RequestsComeAlone());
}

TEST(CompanyForecastTest, MostlyOverlappingArrivalsKeepBatching) {
  CompanyForecast forecast;
  for (int i = 0; i < 200; ++i) forecast.Record(/*found_company=*/i % 3 != 0);
  EXPECT_FALSE(forecast.RequestsComeAlone());
}

TEST(NextBatchTest, MixedSizesNeverExceedMaxBatch) {
  // Sweep many queues: whatever is taken fits, and a wait only happens when
  // nothing forces the batch out.
  const BatchingPolicy policy = Policy(6, {4}, 50);
  for (int a = 1; a <= 6; ++a) {
    for (int b = 1; b <= 6; ++b) {
      for (int c = 1; c <= 6; ++c) {
        const std::vector<int> rows = {a, b, c};
        for (int now : {0, 49, 50}) {
          const BatchDecision d = NextBatch(rows, At(0), At(now), policy);
          int taken = 0;
          for (int i = 0; i < d.take; ++i) taken += rows[i];
          EXPECT_LE(taken, policy.max_batch_size) << a << " " << b << " " << c;
          if (now >= 50) {
            EXPECT_GE(d.take, 1) << a << " " << b << " " << c;
          }
          if (d.take == 0) {
            EXPECT_EQ(d.wait_until, At(50));
            EXPECT_LT(a + b + c, 6 + 1);  // all fit and none is preferred
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace convd
