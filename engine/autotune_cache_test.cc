#include "engine/autotune_cache.h"

#include <fstream>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/testing/temp_dir.h"

namespace convd {
namespace {

const AutotuneCache::Key kKey{"NVIDIA H100 (sm_90)", "13000", "n=1 c=64 h=56 w=56 k=64 r=3 s=3",
                              8};

TEST(AutotuneCacheTest, DecisionsSurviveAReload) {
  const std::string path = testing::MakeTempDir("autotune_cache") + "/sub/cache.tsv";
  {
    AutotuneCache cache(path);  // no file yet
    EXPECT_FALSE(cache.Find(kKey).has_value());
    ASSERT_TRUE(cache.Store(kKey, "cuda_winograd_f43").ok());
    AutotuneCache::Key other = kKey;
    other.batch = 1;
    ASSERT_TRUE(cache.Store(other, "cuda_im2col").ok());
    ASSERT_TRUE(cache.Store(other, "cuda_direct").ok());  // a later decision replaces
  }
  AutotuneCache reloaded(path);
  EXPECT_EQ(reloaded.size(), 2u);
  EXPECT_EQ(reloaded.Find(kKey), "cuda_winograd_f43");
  AutotuneCache::Key other = kKey;
  other.batch = 1;
  EXPECT_EQ(reloaded.Find(other), "cuda_direct");
  // Another driver or device is another decision.
  AutotuneCache::Key new_driver = kKey;
  new_driver.driver = "13010";
  EXPECT_FALSE(reloaded.Find(new_driver).has_value());
}

TEST(AutotuneCacheTest, MalformedLinesAreSkippedNotFatal) {
  const std::string path = testing::MakeTempDir("autotune_cache_bad") + "/cache.tsv";
  std::ofstream(path) << "garbage\n"
                      << "a\tb\tc\tnot-a-number\tx\n"
                      << "a\tb\tc\t0\tx\n"
                      << kKey.device << '\t' << kKey.driver << '\t' << kKey.shape << "\t8\tcuda_direct\n"
                      << "a\tb\tc\t2\t\n";
  AutotuneCache cache(path);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.Find(kKey), "cuda_direct");
  EXPECT_FALSE(cache.Store({"tab\there", "1", "s", 1}, "x").ok());
  EXPECT_FALSE(cache.Store(kKey, "").ok());
}

TEST(AutotuneCacheTest, AnUnwritablePathKeepsDecisionsInMemory) {
  const std::string dir = testing::MakeTempDir("autotune_cache_ro");
  const std::string file = dir + "/not-a-directory";
  std::ofstream(file) << "x";
  AutotuneCache cache(file + "/cache.tsv");
  EXPECT_FALSE(cache.Store(kKey, "cuda_im2col").ok());
  EXPECT_EQ(cache.Find(kKey), "cuda_im2col");
}

TEST(AutotuneCacheTest, ConcurrentStoresAllLand) {
  const std::string path = testing::MakeTempDir("autotune_cache_mt") + "/cache.tsv";
  AutotuneCache cache(path);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        AutotuneCache::Key key = kKey;
        key.batch = t * 100 + i + 1;
        EXPECT_TRUE(cache.Store(key, "cuda_im2col").ok());
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(AutotuneCache(path).size(), 100u);
}

}  // namespace
}  // namespace convd
