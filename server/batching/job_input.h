// The input rows of one inference job, in memory the job owns.
#ifndef CONVD_SERVER_BATCHING_JOB_INPUT_H_
#define CONVD_SERVER_BATCHING_JOB_INPUT_H_

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace convd {

// Floats held either as converted values or as a request's own bytes,
// adopted without a copy: an FP32 tensor sent inline arrives as a string
// (raw_input_contents) that already holds the floats in host byte order,
// and copying it into a fresh vector cost a zero fill and a memcpy of the
// whole tensor per request. Immutable once built; movable, not copyable.
class JobInput {
 public:
  JobInput() = default;
  explicit JobInput(std::vector<float> floats) : floats_(std::move(floats)) {}
  // `bytes` holds whole floats in host byte order (a size that is not a
  // multiple of sizeof(float) leaves the tail out). Its buffer comes from
  // operator new, aligned for float.
  static JobInput AdoptBytes(std::string bytes) {
    JobInput input;
    input.bytes_ = std::move(bytes);
    input.adopted_ = true;
    return input;
  }

  JobInput(JobInput&&) = default;
  JobInput& operator=(JobInput&&) = default;

  const float* data() const {
    return adopted_ ? reinterpret_cast<const float*>(bytes_.data()) : floats_.data();
  }
  size_t size() const { return adopted_ ? bytes_.size() / sizeof(float) : floats_.size(); }
  float operator[](size_t i) const { return data()[i]; }

 private:
  std::vector<float> floats_;
  std::string bytes_;
  bool adopted_ = false;
};

}  // namespace convd

#endif  // CONVD_SERVER_BATCHING_JOB_INPUT_H_
