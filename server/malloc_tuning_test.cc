#include "server/malloc_tuning.h"

#include <malloc.h>

#include <cstdlib>
#include <cstring>

#include "gtest/gtest.h"

namespace convd {
namespace {

// Blocks glibc served with their own mapping (mallinfo2's hblks) after
// allocating and touching `bytes`.
size_t MappedBlocksWhileHolding(size_t bytes) {
  void* block = std::malloc(bytes);
  EXPECT_NE(block, nullptr);
  std::memset(block, 1, bytes);
  const size_t mapped = mallinfo2().hblks;
  std::free(block);
  return mapped;
}

TEST(TuneMallocForTensorsTest, TensorSizedBlocksComeFromTheHeapUpTo32MiB) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "the sanitizers' allocators replace glibc's";
#endif
  // Untuned, a fresh process maps every block over 128 KiB (the threshold
  // rises only to the size of a mapped block once freed; none of 16 MiB
  // has been here).
  TuneMallocForTensors();
  const size_t before = mallinfo2().hblks;
  EXPECT_EQ(MappedBlocksWhileHolding(16 << 20), before) << "a 16 MiB batch of tensors was mapped";
  EXPECT_EQ(MappedBlocksWhileHolding(600 << 10), before);
  EXPECT_EQ(MappedBlocksWhileHolding(48 << 20), before + 1) << "over 32 MiB stays mapped";
}

}  // namespace
}  // namespace convd
