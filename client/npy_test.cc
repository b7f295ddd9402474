#include "client/npy.h"

#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace convd::client {
namespace {

// Files written by numpy.save (client/testdata), with their values as text.
std::string TestFile(const std::string& name) {
  std::ifstream file("client/testdata/" + name, std::ios::binary);
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

TEST(NpyTest, ReadsNumpysFloat32ArrayWithItsValues) {
  auto array = ReadNpy("client/testdata/fp32_2x3x5.npy");
  ASSERT_TRUE(array.ok()) << array.status();
  EXPECT_EQ(array->datatype, "FP32");
  EXPECT_EQ(array->shape, (std::vector<int64_t>{2, 3, 5}));
  ASSERT_EQ(array->data.size(), 30 * sizeof(float));
  const auto* values = reinterpret_cast<const float*>(array->data.data());
  int i = 0;
  for (absl::string_view text : absl::StrSplit(TestFile("fp32_2x3x5.txt"), ' ')) {
    double expected;
    ASSERT_TRUE(absl::SimpleAtod(text, &expected));
    EXPECT_EQ(values[i], static_cast<float>(expected)) << "element " << i;
    ++i;
  }
  EXPECT_EQ(i, 30);
}

TEST(NpyTest, ReadsUint8AndScalars) {
  auto bytes = ReadNpy("client/testdata/uint8_4.npy");
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(bytes->datatype, "UINT8");
  EXPECT_EQ(bytes->shape, (std::vector<int64_t>{4}));
  int i = 0;
  for (absl::string_view text : absl::StrSplit(TestFile("uint8_4.txt"), ' ')) {
    int expected;
    ASSERT_TRUE(absl::SimpleAtoi(text, &expected));
    EXPECT_EQ(static_cast<unsigned char>(bytes->data[i++]), expected);
  }
  auto scalar = ReadNpy("client/testdata/int64_scalar.npy");
  ASSERT_TRUE(scalar.ok()) << scalar.status();
  EXPECT_EQ(scalar->datatype, "INT64");
  EXPECT_TRUE(scalar->shape.empty());
  EXPECT_EQ(*reinterpret_cast<const int64_t*>(scalar->data.data()), -42);
}

TEST(NpyTest, WritesExactlyWhatNumpyWrites) {
  // numpy pads the header to 64 bytes; the same array written back must be
  // byte-identical, so numpy reads what convctl writes.
  for (const char* name : {"fp32_2x3x5.npy", "uint8_4.npy", "int64_scalar.npy"}) {
    const std::string original = TestFile(name);
    auto array = ParseNpy(original, name);
    ASSERT_TRUE(array.ok()) << array.status();
    EXPECT_EQ(SerializeNpy(*array), original) << name;
  }
}

TEST(NpyTest, RefusesWhatItCannotReadByName) {
  auto fortran = ReadNpy("client/testdata/fortran.npy");
  EXPECT_EQ(fortran.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(fortran.status().message().find("Fortran order"), std::string::npos);
  auto big = ReadNpy("client/testdata/bigendian.npy");
  EXPECT_NE(big.status().message().find("dtype >f4"), std::string::npos) << big.status();
  EXPECT_EQ(ReadNpy("client/testdata/absent.npy").status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(ParseNpy("PNG....", "x").status().message().find("magic"), std::string::npos);
  std::string truncated = TestFile("fp32_2x3x5.npy");
  truncated.resize(truncated.size() - 3);
  EXPECT_NE(ParseNpy(truncated, "t").status().message().find("needs 120 data bytes"),
            std::string::npos);
  std::string short_header = TestFile("fp32_2x3x5.npy").substr(0, 40);
  EXPECT_NE(ParseNpy(short_header, "s").status().message().find("truncated header"),
            std::string::npos);
}

}  // namespace
}  // namespace convd::client
