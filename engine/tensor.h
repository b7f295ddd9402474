// Tensors: dense float32 NCHW in 64-byte aligned host memory. DataType and
// Layout are explicit so other types and layouts can be added without
// changing every signature; today only kFloat32 / kNCHW exist.
#ifndef CONVD_ENGINE_TENSOR_H_
#define CONVD_ENGINE_TENSOR_H_

#include <cstdint>
#include <string>

#include "kernels/aligned_buffer.h"

namespace convd {

enum class DataType { kFloat32 };
enum class Layout { kNCHW };

struct TensorShape {
  int n = 1, c = 1, h = 1, w = 1;

  int64_t elements() const { return int64_t{n} * c * h * w; }
  int64_t per_sample() const { return int64_t{c} * h * w; }
  TensorShape WithBatch(int batch) const { return {batch, c, h, w}; }
  std::string ToString() const;  // "[n, c, h, w]"
  bool operator==(const TensorShape&) const = default;
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(const TensorShape& shape, bool zero = false)
      : shape_(shape), buffer_(shape.elements(), zero) {}

  const TensorShape& shape() const { return shape_; }
  DataType dtype() const { return DataType::kFloat32; }
  Layout layout() const { return Layout::kNCHW; }
  int64_t elements() const { return shape_.elements(); }
  int64_t bytes() const { return elements() * static_cast<int64_t>(sizeof(float)); }
  float* data() { return buffer_.data(); }
  const float* data() const { return buffer_.data(); }

  // Makes this a tensor of `shape`. Its memory stays where it already holds
  // that many elements (a runner's output from one batch to the next of
  // the same size: no allocation on the request path), with whatever it
  // held; else it is allocated afresh, uninitialised.
  void Resize(const TensorShape& shape) {
    if (buffer_.size() != shape.elements()) {
      buffer_ = AlignedBuffer(shape.elements());
    }
    shape_ = shape;
  }

 private:
  TensorShape shape_;
  AlignedBuffer buffer_;
};

}  // namespace convd

#endif  // CONVD_ENGINE_TENSOR_H_
