#include "engine/file_util.h"

#include <filesystem>
#include <string>

#include "gtest/gtest.h"
#include "kernels/testing/numeric.h"
#include "kernels/testing/temp_dir.h"

namespace convd {
namespace {

TEST(FileUtilTest, WriteFileAtomicallyReplacesTheWholeFileAndLeavesNoTemporary) {
  const std::string dir = testing::MakeTempDir("file_util_write");
  const std::string path = dir + "/sub/dir/data.bin";  // directories made as needed
  std::string contents(1 << 16, '\0');
  for (size_t i = 0; i < contents.size(); ++i) {
    contents[i] = static_cast<char>(testing::RandomVector(1)[0] * 256);
  }
  ASSERT_TRUE(WriteFileAtomically(path, contents).ok());
  EXPECT_EQ(*ReadFile(path), contents);
  ASSERT_TRUE(WriteFileAtomically(path, "short").ok());
  EXPECT_EQ(*ReadFile(path), "short");
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  EXPECT_EQ(*ReadFileRange(path, 1, 3), "hor");
}

TEST(FileUtilTest, WriteFileAtomicallyNamesTheFileItCannotWrite) {
  const std::string dir = testing::MakeTempDir("file_util_unwritable");
  // A directory stands where the file would go: the rename must fail.
  std::filesystem::create_directories(dir + "/taken/inside");
  const absl::Status status = WriteFileAtomically(dir + "/taken", "x");
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(status.message().find(dir + "/taken"), std::string::npos) << status;
  EXPECT_FALSE(std::filesystem::exists(dir + "/taken.tmp"));
  EXPECT_EQ(ReadFile(dir + "/missing").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace convd
