#include "kernels/cuda/emulation/block_scheduler.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <limits>
#include <vector>

#include "kernels/cuda/emulation/emulated_runtime.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define CONVD_UNPOISON(address, bytes) ASAN_UNPOISON_MEMORY_REGION(address, bytes)
#else
#define CONVD_UNPOISON(address, bytes) ((void)(address), (void)(bytes))
#endif

// Switches stacks: saves the callee-saved registers on the current stack,
// stores its pointer in *save, loads `load` and pops the registers saved
// there. Fifteen instructions, where swapcontext also makes a system call
// for the signal mask, which would dominate a block of 256
// threads meeting at a barrier every few hundred instructions.
extern "C" void ConvdEmulationSwitch(void** save, void* load);
asm(R"(
  .text
  .globl ConvdEmulationSwitch
  .type ConvdEmulationSwitch, @function
ConvdEmulationSwitch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size ConvdEmulationSwitch, .-ConvdEmulationSwitch
)");

namespace convd::cuda::emulation {
namespace {

constexpr size_t kStackBytes = 256 * 1024;
constexpr unsigned kMaxThreadsPerBlock = 1024;
constexpr unsigned kMaxGridYZ = 65535;

// A fiber's stack, with an inaccessible page below it so that an overflow
// faults instead of running into the next stack.
class Stack {
 public:
  Stack() {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    void* memory = mmap(nullptr, kStackBytes + page, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) std::abort();  // test-only code: no recovery
    mprotect(memory, page, PROT_NONE);
    base_ = static_cast<char*>(memory);
    bytes_ = kStackBytes + page;
  }
  Stack(Stack&& other) noexcept : base_(other.base_), bytes_(other.bytes_) {
    other.base_ = nullptr;
  }
  Stack(const Stack&) = delete;
  ~Stack() {
    if (base_ != nullptr) munmap(base_, bytes_);
  }
  char* top() const { return base_ + bytes_; }
  // Clears what AddressSanitizer recorded about the frames of the fiber
  // that last ran here: fibers end by switching away, never returning, so
  // their redzones would otherwise stay poisoned for the next one.
  void Reset() const { CONVD_UNPOISON(top() - kStackBytes, kStackBytes); }

 private:
  char* base_;
  size_t bytes_;
};

// One cp.async (AsyncCopy's arguments).
struct AsyncCopyCall {
  void* destination;
  const void* source;
  unsigned bytes, source_bytes;

  void Perform() const {
    if (source_bytes > 0) std::memcpy(destination, source, source_bytes);
    std::memset(static_cast<char*>(destination) + source_bytes, 0, bytes - source_bytes);
  }
};

struct Fiber {
  void* stack_pointer = nullptr;  // where it was switched out
  bool finished = false;
  uint3 index{};
  // Its cp.async copies not yet landed: the open group, then the
  // committed ones, oldest first.
  std::vector<AsyncCopyCall> open_copies;
  std::deque<std::vector<AsyncCopyCall>> copy_groups;
};

// The block being run on this thread.
struct BlockState {
  uint3 block_index{};
  dim3 block_dim, grid_dim;
  void (*body)(void*) = nullptr;
  void* context = nullptr;
  std::vector<Fiber> fibers;
  unsigned current = 0;
  void* scheduler_stack_pointer = nullptr;
  std::vector<unsigned char> scratch;
  std::vector<float> dynamic_shared;  // float: 16-byte aligned by the allocator
};

thread_local BlockState block;
thread_local std::vector<Stack> stacks;

[[noreturn]] void FiberMain() {
  block.body(block.context);
  block.fibers[block.current].finished = true;
  void* unused;
  ConvdEmulationSwitch(&unused, block.scheduler_stack_pointer);
  std::abort();  // never resumed
}

// A fresh stack whose first switch-in "returns" into FiberMain with the
// alignment of a function entry (rsp + 8 a multiple of 16).
void* PrepareStack(const Stack& stack) {
  stack.Reset();
  auto* top =
      reinterpret_cast<uintptr_t*>(reinterpret_cast<uintptr_t>(stack.top()) & ~uintptr_t{15});
  top -= 2;  // top[0]: FiberMain's return address slot (unused); 16-aligned
  top[0] = reinterpret_cast<uintptr_t>(&FiberMain);
  top -= 6;  // r15 r14 r13 r12 rbx rbp, all zero
  std::memset(top, 0, 6 * sizeof(uintptr_t));
  return top;
}

void RunBlock(unsigned threads, bool reverse) {
  block.fibers.assign(threads, Fiber{});
  while (stacks.size() < threads) stacks.emplace_back();
  for (unsigned t = 0; t < threads; ++t) {
    Fiber& fiber = block.fibers[t];
    fiber.index.x = t % block.block_dim.x;
    fiber.index.y = (t / block.block_dim.x) % block.block_dim.y;
    fiber.index.z = t / (block.block_dim.x * block.block_dim.y);
    fiber.stack_pointer = PrepareStack(stacks[t]);
  }
  std::fill(block.scratch.begin(), block.scratch.end(), 0);
  std::fill(block.dynamic_shared.begin(), block.dynamic_shared.end(),
            std::numeric_limits<float>::quiet_NaN());
  // Rounds: each live thread runs to its next barrier or to its end.
  for (unsigned live = threads; live > 0;) {
    live = 0;
    for (unsigned i = 0; i < threads; ++i) {
      const unsigned t = reverse ? threads - 1 - i : i;
      Fiber& fiber = block.fibers[t];
      if (fiber.finished) continue;
      block.current = t;
      ConvdEmulationSwitch(&block.scheduler_stack_pointer, fiber.stack_pointer);
      if (!fiber.finished) ++live;
    }
  }
}

}  // namespace

const uint3& ThreadIndex() { return block.fibers[block.current].index; }
const uint3& BlockIndex() { return block.block_index; }
const dim3& BlockDim() { return block.block_dim; }
const dim3& GridDim() { return block.grid_dim; }
unsigned LinearThreadIndex() { return block.current; }

void Barrier() {
  Fiber& fiber = block.fibers[block.current];
  ConvdEmulationSwitch(&fiber.stack_pointer, block.scheduler_stack_pointer);
}

void AsyncCopy(void* destination, const void* source, unsigned bytes, unsigned source_bytes) {
  const AsyncCopyCall copy{destination, source, bytes, std::min(source_bytes, bytes)};
  if (reinterpret_cast<uintptr_t>(destination) % bytes != 0 ||
      reinterpret_cast<uintptr_t>(source) % bytes != 0) {
    Trap();  // the device's misaligned-address fault
    return;
  }
  const uint3& b = block.block_index;
  const uint64_t linear_block =
      b.x + uint64_t{block.grid_dim.x} * (b.y + uint64_t{block.grid_dim.y} * b.z);
  if (linear_block % 2 == 0) {
    copy.Perform();
  } else {
    block.fibers[block.current].open_copies.push_back(copy);
  }
}

void AsyncCommit() {
  Fiber& fiber = block.fibers[block.current];
  fiber.copy_groups.push_back(std::move(fiber.open_copies));
  fiber.open_copies.clear();
}

void AsyncWait(unsigned pending) {
  Fiber& fiber = block.fibers[block.current];
  while (fiber.copy_groups.size() > pending) {
    for (const AsyncCopyCall& copy : fiber.copy_groups.front()) copy.Perform();
    fiber.copy_groups.pop_front();
  }
}

void* BlockScratch(unsigned bytes) {
  if (block.scratch.size() < bytes) block.scratch.resize(bytes, 0);
  return block.scratch.data();
}

void* BlockDynamicShared(unsigned bytes) {
  const size_t floats = (bytes + sizeof(float) - 1) / sizeof(float);
  if (block.dynamic_shared.size() < floats) {
    block.dynamic_shared.resize(floats, std::numeric_limits<float>::quiet_NaN());
  }
  return block.dynamic_shared.data();
}

bool ValidConfiguration(dim3 grid, dim3 threads) {
  const uint64_t per_block = uint64_t{threads.x} * threads.y * threads.z;
  if (per_block == 0 || grid.x == 0 || grid.y == 0 || grid.z == 0 ||
      per_block > kMaxThreadsPerBlock || threads.z > 64 || grid.y > kMaxGridYZ ||
      grid.z > kMaxGridYZ) {
    SetLastError(cudaErrorInvalidConfiguration);
    return false;
  }
  return true;
}

void RunGrid(dim3 grid, dim3 threads, void (*body)(void*), void* context) {
  const uint64_t per_block = uint64_t{threads.x} * threads.y * threads.z;
  block.block_dim = threads;
  block.grid_dim = grid;
  block.body = body;
  block.context = context;
  uint64_t linear_block = 0;
  for (unsigned z = 0; z < grid.z; ++z) {
    for (unsigned y = 0; y < grid.y; ++y) {
      for (unsigned x = 0; x < grid.x; ++x, ++linear_block) {
        block.block_index = {x, y, z};
        RunBlock(static_cast<unsigned>(per_block), linear_block % 2 == 1);
      }
    }
  }
}

}  // namespace convd::cuda::emulation
