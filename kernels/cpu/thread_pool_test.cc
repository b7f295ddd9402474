#include "kernels/cpu/thread_pool.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace convd {
namespace {

using std::chrono::microseconds;

// Every index of [0, count) is visited exactly once, and no two chunks
// running at the same moment share a slot.
void ExpectEachIndexOnceWithUniqueSlots(ThreadPool& pool, int64_t count, int64_t work_per_item) {
  std::vector<std::atomic<int>> visits(count);
  std::vector<std::atomic<int>> slot_users(pool.num_threads());
  std::atomic<int> slot_clashes{0}, bad_slots{0};
  pool.ParallelFor(count, work_per_item, [&](int64_t begin, int64_t end, int slot) {
    if (slot < 0 || slot >= pool.num_threads()) {
      ++bad_slots;
      return;
    }
    if (slot_users[slot].fetch_add(1) != 0) ++slot_clashes;
    for (int64_t i = begin; i < end; ++i) visits[i].fetch_add(1);
    // Long enough for the other threads to take chunks meanwhile.
    std::this_thread::sleep_for(microseconds(200));
    slot_users[slot].fetch_sub(1);
  });
  EXPECT_EQ(bad_slots.load(), 0);
  EXPECT_EQ(slot_clashes.load(), 0);
  for (int64_t i = 0; i < count; ++i) ASSERT_EQ(visits[i].load(), 1) << "index " << i;
}

class ThreadPoolTest : public testing::TestWithParam<int /*spin microseconds*/> {};

TEST_P(ThreadPoolTest, VisitsEachIndexOnceWithUniqueSlots) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads, microseconds(GetParam()));
    for (int64_t count : {1, 2, 7, 64, 1001}) {
      SCOPED_TRACE(testing::Message() << threads << " threads, " << count << " items");
      ExpectEachIndexOnceWithUniqueSlots(pool, count, ThreadPool::kMinWorkPerChunk);
    }
  }
}

TEST_P(ThreadPoolTest, SplitsOnlyWorkWorthAThreadsWakeUp) {
  ThreadPool pool(2, microseconds(GetParam()));
  const std::thread::id caller = std::this_thread::get_id();
  struct Chunk {
    int64_t begin, end;
    std::thread::id thread;
  };
  auto chunks_of = [&](int64_t count, int64_t work_per_item) {
    std::mutex mutex;
    std::vector<Chunk> chunks;
    pool.ParallelFor(count, work_per_item, [&](int64_t begin, int64_t end, int) {
      std::lock_guard<std::mutex> lock(mutex);
      chunks.push_back({begin, end, std::this_thread::get_id()});
    });
    return chunks;
  };
  // 1000 items of 10 ns: one call, inline.
  std::vector<Chunk> small = chunks_of(1000, 10);
  ASSERT_EQ(small.size(), 1u);
  EXPECT_EQ(small[0].begin, 0);
  EXPECT_EQ(small[0].end, 1000);
  EXPECT_EQ(small[0].thread, caller);
  // Three chunks' worth: three chunks, whichever threads run them.
  EXPECT_EQ(chunks_of(3, ThreadPool::kMinWorkPerChunk).size(), 3u);
  EXPECT_EQ(chunks_of(3 * 1000, ThreadPool::kMinWorkPerChunk / 1000).size(), 3u);
  // Plenty: four chunks per thread, at most.
  EXPECT_EQ(chunks_of(1000, ThreadPool::kMinWorkPerChunk).size(), 8u);
}

// Loops handed out back to back (a forward pass's layers), in a burst so
// that the workers are polling, not asleep, when the next one comes, and
// outside one: every loop still runs whole, and its caller returns only
// after all its chunks.
TEST_P(ThreadPoolTest, BackToBackLoopsEachFinishBeforeReturning) {
  ThreadPool pool(3, microseconds(GetParam()));
  std::optional<ThreadPool::Burst> burst;
  for (int round = 0; round < 2000; ++round) {
    if (round == 1000) burst.emplace(&pool);
    std::atomic<int64_t> sum{0};
    pool.ParallelFor(12, ThreadPool::kMinWorkPerChunk, [&](int64_t begin, int64_t end, int) {
      for (int64_t i = begin; i < end; ++i) sum.fetch_add(i + 1);
    });
    ASSERT_EQ(sum.load(), 78) << "round " << round;
  }
}

// Several callers at once (model instances sharing the pool), each also
// nesting a loop inside its chunks: no deadlock, every index once.
TEST_P(ThreadPoolTest, ConcurrentAndNestedCallers) {
  ThreadPool pool(2, microseconds(GetParam()));
  std::vector<std::thread> callers;
  std::atomic<int> wrong{0};
  for (int c = 0; c < 3; ++c) {
    callers.emplace_back([&] {
      for (int round = 0; round < 50; ++round) {
        std::atomic<int64_t> inner_items{0};
        pool.ParallelFor(6, ThreadPool::kMinWorkPerChunk, [&](int64_t begin, int64_t end, int) {
          for (int64_t i = begin; i < end; ++i) {
            pool.ParallelFor(5, ThreadPool::kMinWorkPerChunk,
                             [&](int64_t b, int64_t e, int) { inner_items.fetch_add(e - b); });
          }
        });
        if (inner_items.load() != 30) ++wrong;
      }
    });
  }
  for (std::thread& caller : callers) caller.join();
  EXPECT_EQ(wrong.load(), 0);
}

// A pool destroyed while its workers may still poll (a burst just ended),
// and one destroyed after they have gone to sleep, both stop.
TEST_P(ThreadPoolTest, DestroyedWhilePollingOrAsleep) {
  for (int wait_us : {0, 2000}) {
    auto pool = std::make_unique<ThreadPool>(3, microseconds(GetParam()));
    {
      const ThreadPool::Burst burst(pool.get());
      pool->ParallelFor(8, ThreadPool::kMinWorkPerChunk, [](int64_t, int64_t, int) {});
    }
    std::this_thread::sleep_for(microseconds(wait_us));
    pool.reset();  // hangs here if a worker misses the stop
  }
  const ThreadPool::Burst without_a_pool(nullptr);
}

INSTANTIATE_TEST_SUITE_P(Spin, ThreadPoolTest, testing::Values(0, 50, 5000),
                         [](const testing::TestParamInfo<int>& info) {
                           return "spin_us_" + std::to_string(info.param);
                         });

}  // namespace
}  // namespace convd
