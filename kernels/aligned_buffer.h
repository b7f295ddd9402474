// A move-only, 64-byte aligned float buffer: host memory for tensors,
// packed weights and workspaces (aligned for AVX-512 loads). Contents are
// uninitialised unless zero-filled on request.
#ifndef CONVD_KERNELS_ALIGNED_BUFFER_H_
#define CONVD_KERNELS_ALIGNED_BUFFER_H_

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

namespace convd {

class AlignedBuffer {
 public:
  static constexpr std::size_t kAlignment = 64;

  AlignedBuffer() = default;
  // Allocates `count` floats; throws std::bad_alloc like `new` if it cannot.
  explicit AlignedBuffer(int64_t count, bool zero = false) : size_(count) {
    if (count <= 0) {
      size_ = 0;
      return;
    }
    const std::size_t bytes =
        (static_cast<std::size_t>(count) * sizeof(float) + kAlignment - 1) /
        kAlignment * kAlignment;
    data_.reset(static_cast<float*>(std::aligned_alloc(kAlignment, bytes)));
    if (!data_) throw std::bad_alloc();
    if (zero) std::memset(data_.get(), 0, bytes);
  }

  float* data() { return data_.get(); }
  const float* data() const { return data_.get(); }
  int64_t size() const { return size_; }
  int64_t bytes() const { return size_ * static_cast<int64_t>(sizeof(float)); }

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float, Free> data_;
  int64_t size_ = 0;
};

}  // namespace convd

#endif  // CONVD_KERNELS_ALIGNED_BUFFER_H_
