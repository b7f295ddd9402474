#include "server/batching/job_input.h"

#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/testing/numeric.h"

namespace convd {
namespace {

std::string BytesOf(const std::vector<float>& floats) {
  return std::string(reinterpret_cast<const char*>(floats.data()), floats.size() * sizeof(float));
}

TEST(JobInputTest, AdoptedBytesAreReadInPlaceAsFloats) {
  const std::vector<float> values = testing::RandomVector(3 * 224 * 224 + 5);
  std::string bytes = BytesOf(values);
  const char* buffer = bytes.data();
  JobInput input = JobInput::AdoptBytes(std::move(bytes));
  EXPECT_EQ(reinterpret_cast<const char*>(input.data()), buffer) << "the bytes were copied";
  ASSERT_EQ(input.size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) ASSERT_EQ(input[i], values[i]) << i;

  // Moving the job's input keeps the buffer too.
  JobInput moved = std::move(input);
  EXPECT_EQ(reinterpret_cast<const char*>(moved.data()), buffer);
  EXPECT_EQ(moved.size(), values.size());
}

TEST(JobInputTest, ConvertedFloatsAndPartialTrailingBytes) {
  const std::vector<float> values = testing::RandomVector(7);
  JobInput converted(values);
  ASSERT_EQ(converted.size(), 7u);
  EXPECT_EQ(std::memcmp(converted.data(), values.data(), 7 * sizeof(float)), 0);

  // 2 bytes past the last whole float are not counted.
  JobInput ragged = JobInput::AdoptBytes(BytesOf(values) + "xy");
  ASSERT_EQ(ragged.size(), 7u);
  EXPECT_EQ(ragged[6], values[6]);
  EXPECT_EQ(JobInput().size(), 0u);
}

}  // namespace
}  // namespace convd
