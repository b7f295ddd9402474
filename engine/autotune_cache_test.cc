#include "engine/autotune_cache.h"

#include <fstream>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/testing/temp_dir.h"

namespace convd {
namespace {

const AutotuneCache::Key kKey{"NVIDIA H100 (sm_90)", "13000", "3f9a2c1d0e4b7a65",
                              "n=1 c=64 h=56 w=56 k=64 r=3 s=3", 8};

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
  // Another driver, device or build of the kernels is another decision.
  AutotuneCache::Key new_driver = kKey;
  new_driver.driver = "13010";
  EXPECT_FALSE(reloaded.Find(new_driver).has_value());
  AutotuneCache::Key new_kernels = kKey;
  new_kernels.kernels = "0000000000000000";
  EXPECT_FALSE(reloaded.Find(new_kernels).has_value());
}

// Two builds sharing a file each keep their own decisions, and a rewrite
// by one keeps the other's.
TEST(AutotuneCacheTest, EachKernelBuildKeepsItsOwnDecisions) {
  const std::string path = testing::MakeTempDir("autotune_cache_builds") + "/cache.tsv";
  AutotuneCache::Key newer = kKey;
  newer.kernels = "0123456789abcdef";
  {
    AutotuneCache older_build(path);
    ASSERT_TRUE(older_build.Store(kKey, "cuda_im2col").ok());
  }
  {
    AutotuneCache newer_build(path);
    EXPECT_FALSE(newer_build.Find(newer).has_value()) << "an older build's decision";
    ASSERT_TRUE(newer_build.Store(newer, "cuda_winograd_f43").ok());
  }
  AutotuneCache reloaded(path);
  EXPECT_EQ(reloaded.Find(kKey), "cuda_im2col");
  EXPECT_EQ(reloaded.Find(newer), "cuda_winograd_f43");
}

TEST(AutotuneCacheTest, MalformedLinesAreSkippedNotFatal) {
  const std::string path = testing::MakeTempDir("autotune_cache_bad") + "/cache.tsv";
  const std::string device_and_driver = kKey.device + '\t' + kKey.driver + '\t';
  std::ofstream(path) << "garbage\n"
                      << "a\tb\tk\tc\tnot-a-number\tx\n"
                      << "a\tb\tk\tc\t0\tx\n"
                      << "a\tb\tk\tc\t2\t\n"
                      // A line from before kernel revisions: which build timed it is unknown.
                      << device_and_driver << kKey.shape << "\t8\tcuda_im2col\n"
                      << device_and_driver << kKey.kernels << '\t' << kKey.shape
                      << "\t8\tcuda_direct\n";
  AutotuneCache cache(path);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(cache.Find(kKey), "cuda_direct");
  EXPECT_FALSE(cache.Store({"tab\there", "1", "k", "s", 1}, "x").ok());
  EXPECT_FALSE(cache.Store({"d", "1", "new\nline", "s", 1}, "x").ok());
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
