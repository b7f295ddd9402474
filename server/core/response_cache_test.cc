#include "server/core/response_cache.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/testing/numeric.h"

namespace convd {
namespace {

inference::ModelInferResponse Response(const std::string& id, size_t output_bytes) {
  inference::ModelInferResponse response;
  response.set_model_name("m");
  response.set_id(id);
  response.add_raw_output_contents(std::string(output_bytes, 'x'));
  return response;
}

ResponseCache::Key KeyFor(const std::vector<float>& input, uint64_t load_id = 1, int rows = 1,
                          int k = 0) {
  return {load_id, rows, k, input};
}

TEST(ResponseCacheTest, AHitIsTheSameRequestValueForValueAndCarriesNoId) {
  ResponseCache cache(1 << 20);
  const std::vector<float> input = testing::RandomVector(784);
  EXPECT_FALSE(cache.Lookup(KeyFor(input)).has_value());
  cache.Insert(KeyFor(input), Response("first", 40));
  std::optional<inference::ModelInferResponse> hit = cache.Lookup(KeyFor(input));
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->id(), "");
  EXPECT_EQ(hit->raw_output_contents(0), std::string(40, 'x'));

  // Anything that changes the response misses: one value, another load of
  // the model, another batch size, another classification.
  std::vector<float> nudged = input;
  nudged[783] = std::nextafter(nudged[783], 2.0f);
  EXPECT_FALSE(cache.Lookup(KeyFor(nudged)).has_value());
  EXPECT_FALSE(cache.Lookup(KeyFor(input, /*load_id=*/2)).has_value());
  EXPECT_FALSE(cache.Lookup(KeyFor(input, 1, /*rows=*/2)).has_value());
  EXPECT_FALSE(cache.Lookup(KeyFor(input, 1, 1, /*k=*/3)).has_value());
  // The same values from another buffer hit.
  const std::vector<float> copy = input;
  EXPECT_TRUE(cache.Lookup(KeyFor(copy)).has_value());
  EXPECT_EQ(cache.entries(), 1u);
}

TEST(ResponseCacheTest, ErasingALoadDropsItsEntriesOnly) {
  ResponseCache cache(1 << 20);
  const std::vector<float> a = testing::RandomVector(50), b = testing::RandomVector(70);
  cache.Insert(KeyFor(a, /*load_id=*/1), Response("", 100));
  cache.Insert(KeyFor(b, /*load_id=*/1), Response("", 100));
  cache.Insert(KeyFor(a, /*load_id=*/2), Response("", 300));
  const int64_t before = cache.bytes();
  cache.EraseLoad(1);
  EXPECT_EQ(cache.entries(), 1u);
  EXPECT_FALSE(cache.Lookup(KeyFor(a, 1)).has_value());
  EXPECT_FALSE(cache.Lookup(KeyFor(b, 1)).has_value());
  ASSERT_TRUE(cache.Lookup(KeyFor(a, 2)).has_value());
  EXPECT_EQ(cache.Lookup(KeyFor(a, 2))->raw_output_contents(0).size(), 300u);
  EXPECT_LT(cache.bytes(), before);
  EXPECT_GT(cache.bytes(), 300);
  cache.EraseLoad(2);
  EXPECT_EQ(cache.entries(), 0u);
  EXPECT_EQ(cache.bytes(), 0);
}

TEST(ResponseCacheTest, EvictsTheLeastRecentlyUsedWithinItsBudget) {
  const std::vector<float> a = testing::RandomVector(100), b = testing::RandomVector(100),
                           c = testing::RandomVector(100);
  ResponseCache probe(1 << 20);
  probe.Insert(KeyFor(a), Response("", 1000));
  const int64_t entry_bytes = probe.bytes();
  ASSERT_GT(entry_bytes, 1400);  // the input's 400 bytes and the output's 1000

  ResponseCache cache(2 * entry_bytes + entry_bytes / 2);  // room for two
  cache.Insert(KeyFor(a), Response("", 1000));
  cache.Insert(KeyFor(b), Response("", 1000));
  ASSERT_TRUE(cache.Lookup(KeyFor(a)).has_value());  // a is now the most recent
  cache.Insert(KeyFor(c), Response("", 1000));       // b goes
  EXPECT_TRUE(cache.Lookup(KeyFor(a)).has_value());
  EXPECT_FALSE(cache.Lookup(KeyFor(b)).has_value());
  EXPECT_TRUE(cache.Lookup(KeyFor(c)).has_value());
  EXPECT_EQ(cache.entries(), 2u);
  EXPECT_LE(cache.bytes(), cache.capacity_bytes());

  // Kept again, an entry replaces the one before it.
  cache.Insert(KeyFor(c), Response("", 10));
  EXPECT_EQ(cache.Lookup(KeyFor(c))->raw_output_contents(0).size(), 10u);
  EXPECT_EQ(cache.entries(), 2u);

  // One larger than the whole budget is not kept, and evicts nothing.
  cache.Insert(KeyFor(b), Response("", 1 << 16));
  EXPECT_FALSE(cache.Lookup(KeyFor(b)).has_value());
  EXPECT_EQ(cache.entries(), 2u);
}

TEST(ResponseCacheTest, ManyThreadsLookUpAndInsertAtOnce) {
  std::vector<std::vector<float>> inputs;
  for (int i = 0; i < 64; ++i) inputs.push_back(testing::RandomVector(50));
  ResponseCache cache(20 * 1024);  // room for some, not all: evictions too
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 4000; ++i) {
        const int which = (i * 7 + t) % 64;
        if (auto hit = cache.Lookup(KeyFor(inputs[which])); hit.has_value()) {
          if (hit->model_name() != std::to_string(which)) ++wrong;
        } else {
          inference::ModelInferResponse response = Response("", 100);
          response.set_model_name(std::to_string(which));
          cache.Insert(KeyFor(inputs[which]), response);
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_LE(cache.bytes(), cache.capacity_bytes());
  EXPECT_GT(cache.entries(), 0u);
}

}  // namespace
}  // namespace convd
