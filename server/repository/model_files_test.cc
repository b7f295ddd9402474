#include "server/repository/model_files.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <thread>

#include "gtest/gtest.h"
#include "kernels/testing/temp_dir.h"

namespace convd {
namespace {

namespace fs = std::filesystem;

void Write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

// A model directory: config, labels, versions 1 and 2, a warmup folder.
std::string MakeModel() {
  const fs::path dir = testing::MakeTempDir("model_files");
  Write(dir / "config.pbtxt", "max_batch_size: 8\n");
  Write(dir / "labels.txt", "a\nb\n");
  Write(dir / "1" / "network.pbtxt", "name: \"one\"\n");
  Write(dir / "2" / "network.pbtxt", "name: \"two\"\n");
  Write(dir / "2" / "weights" / "w.bin", "0123");
  Write(dir / "warmup" / "input", "xyz");
  return dir.string();
}

TEST(ModelFilesTest, SplitsSharedFilesFromEachVersionsAndIsStable) {
  const std::string dir = MakeModel();
  const ModelFiles files = ScanModelFiles(dir);
  EXPECT_NE(files.shared.find("config.pbtxt\t"), std::string::npos) << files.shared;
  EXPECT_NE(files.shared.find("labels.txt\t"), std::string::npos);
  EXPECT_NE(files.shared.find("warmup/input\t"), std::string::npos);
  EXPECT_EQ(files.shared.find("network.pbtxt"), std::string::npos) << files.shared;
  ASSERT_EQ(files.versions.size(), 2u);
  EXPECT_NE(files.versions.at(1).find("1/network.pbtxt\t"), std::string::npos);
  EXPECT_NE(files.versions.at(2).find("2/weights/w.bin\t"), std::string::npos);
  EXPECT_EQ(files.versions.at(1).find("2/"), std::string::npos);
  EXPECT_TRUE(ScanModelFiles(dir).SameFiles(files));  // nothing changed, nothing differs
}

TEST(ModelFilesTest, AChangeInOneVersionLeavesTheOthersAndTheSharedFilesAlone) {
  const std::string dir = MakeModel();
  const ModelFiles before = ScanModelFiles(dir);
  Write(fs::path(dir) / "2" / "weights" / "w.bin", "01234");
  const ModelFiles after = ScanModelFiles(dir);
  EXPECT_EQ(after.shared, before.shared);
  EXPECT_EQ(after.versions.at(1), before.versions.at(1));
  EXPECT_NE(after.versions.at(2), before.versions.at(2));
}

TEST(ModelFilesTest, AddedAndRemovedFilesAndVersionsAreChanges) {
  const std::string dir = MakeModel();
  const ModelFiles before = ScanModelFiles(dir);
  Write(fs::path(dir) / "3" / "network.pbtxt", "name: \"three\"\n");
  ModelFiles after = ScanModelFiles(dir);
  EXPECT_EQ(after.shared, before.shared);  // a new version is its own
  ASSERT_EQ(after.versions.count(3), 1u);
  EXPECT_EQ(after.versions.at(1), before.versions.at(1));

  fs::remove(fs::path(dir) / "labels.txt");
  EXPECT_NE(ScanModelFiles(dir).shared, before.shared);
  fs::remove_all(fs::path(dir) / "1");
  EXPECT_EQ(ScanModelFiles(dir).versions.count(1), 0u);
  // A numbered file, not folder, is shared (ListVersions skips it too).
  Write(fs::path(dir) / "7", "not a version");
  after = ScanModelFiles(dir);
  EXPECT_EQ(after.versions.count(7), 0u);
  EXPECT_NE(after.shared.find("7\t"), std::string::npos);
}

// cp -p keeps the modification time and a same-size edit keeps the size:
// the status-change time still moves.
TEST(ModelFilesTest, ASameSizeEditWithItsOldModificationTimeIsAChange) {
  const std::string dir = MakeModel();
  const fs::path config = fs::path(dir) / "config.pbtxt";
  struct stat old_stat;
  ASSERT_EQ(::stat(config.c_str(), &old_stat), 0);
  const ModelFiles before = ScanModelFiles(dir);
  // Past the kernel's timestamp tick, which a settled snapshot guarantees.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  Write(config, "max_batch_size: 4\n");  // same length
  const struct timespec times[2] = {old_stat.st_atim, old_stat.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, config.c_str(), times, 0), 0);
  struct stat new_stat;
  ASSERT_EQ(::stat(config.c_str(), &new_stat), 0);
  ASSERT_EQ(new_stat.st_size, old_stat.st_size);
  ASSERT_EQ(new_stat.st_mtim.tv_nsec, old_stat.st_mtim.tv_nsec);
  EXPECT_NE(ScanModelFiles(dir).shared, before.shared);
}

TEST(ModelFilesTest, AFileSwappedInByRenameIsAChange) {
  const std::string dir = MakeModel();
  const ModelFiles before = ScanModelFiles(dir);
  Write(fs::path(dir) / "staging.tmp", "name: \"one\"\n");  // same bytes
  fs::rename(fs::path(dir) / "staging.tmp", fs::path(dir) / "1" / "network.pbtxt");
  const ModelFiles after = ScanModelFiles(dir);
  EXPECT_NE(after.versions.at(1), before.versions.at(1));
  EXPECT_EQ(after.shared, before.shared);  // the staging file is gone again
}

// Kubernetes mounts a ConfigMap as links to files in a hidden folder,
// updated by pointing the link ..data at a new folder.
TEST(ModelFilesTest, FollowsLinksSoAConfigMapUpdateIsAChange) {
  const fs::path dir = testing::MakeTempDir("model_files_configmap");
  Write(dir / "..2026_01" / "config.pbtxt", "max_batch_size: 8\n");
  Write(dir / "1" / "network.pbtxt", "name: \"one\"\n");
  fs::create_directory_symlink("..2026_01", dir / "..data");
  fs::create_symlink("..data/config.pbtxt", dir / "config.pbtxt");
  const ModelFiles before = ScanModelFiles(dir.string());
  EXPECT_NE(before.shared.find("config.pbtxt\t"), std::string::npos);

  Write(dir / "..2026_02" / "config.pbtxt", "max_batch_size: 16\n");
  fs::create_directory_symlink("..2026_02", dir / "..data_tmp");
  fs::rename(dir / "..data_tmp", dir / "..data");
  fs::remove_all(dir / "..2026_01");
  const ModelFiles after = ScanModelFiles(dir.string());
  EXPECT_NE(after.shared, before.shared);
  EXPECT_EQ(after.versions, before.versions);
}

TEST(ModelFilesTest, ALinkCycleEndsAtTheDepthLimit) {
  const fs::path dir = testing::MakeTempDir("model_files_cycle");
  Write(dir / "config.pbtxt", "max_batch_size: 8\n");
  fs::create_directory_symlink(".", dir / "loop");
  const ModelFiles files = ScanModelFiles(dir.string());
  EXPECT_NE(files.shared.find("loop/loop/config.pbtxt\t"), std::string::npos);
  EXPECT_TRUE(ScanModelFiles(dir.string()).SameFiles(files));
}

TEST(ModelFilesTest, SettledOnlyOnceNothingChangedForTheSettleTime) {
  const std::string dir = MakeModel();
  ModelFiles files = ScanModelFiles(dir);
  const auto now = std::chrono::system_clock::now();
  // The files were written just now.
  EXPECT_LE(now - files.last_change, std::chrono::seconds(1));
  EXPECT_GE(files.scanned_at, files.last_change - std::chrono::milliseconds(20));
  constexpr std::chrono::milliseconds kSettle = ModelFiles::kDefaultSettleTime;
  EXPECT_FALSE(files.settled(kSettle));
  files.scanned_at = files.last_change + kSettle;
  EXPECT_TRUE(files.settled(kSettle));
  EXPECT_FALSE(files.settled(2 * kSettle));
  files.scanned_at = files.last_change + kSettle - std::chrono::milliseconds(1);
  EXPECT_FALSE(files.settled(kSettle));
  files.scanned_at = files.last_change - kSettle;  // the clock set back
  EXPECT_TRUE(files.settled(kSettle));
}

TEST(ModelFilesTest, AHugeTreeIsListedOnlyUpToTheLimit) {
  const fs::path dir = testing::MakeTempDir("model_files_huge");
  Write(dir / "config.pbtxt", "max_batch_size: 8\n");
  for (int i = 0; i < ModelFiles::kMaxEntries + 10; ++i) {
    std::ofstream(dir / ("f" + std::to_string(i)));
  }
  const ModelFiles files = ScanModelFiles(dir.string());
  EXPECT_NE(files.shared.find("listing stopped after 10000 entries"), std::string::npos);
  EXPECT_LE(std::count(files.shared.begin(), files.shared.end(), '\n'),
            ModelFiles::kMaxEntries + 2);
}

TEST(ModelFilesTest, AMissingDirectoryIsRecordedAndDiffersFromAnEmptyOne) {
  const fs::path dir = testing::MakeTempDir("model_files_missing");
  const ModelFiles empty = ScanModelFiles(dir.string());
  const ModelFiles missing = ScanModelFiles((dir / "absent").string());
  EXPECT_NE(missing.shared.find("listing stopped"), std::string::npos);
  EXPECT_FALSE(missing.SameFiles(empty));
}

}  // namespace
}  // namespace convd
