#include "server/core/testing/shm_object.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <random>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace convd::testing {

ShmObject::ShmObject(size_t size) : initial_bytes_(size) {
  static std::atomic<int> next_id{0};
  key_ = absl::StrCat("/convd_test_", getpid(), "_", next_id++);
  std::mt19937 random(std::random_device{}());
  for (char& byte : initial_bytes_) byte = static_cast<char>(random());
  fd_ = shm_open(key_.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
  EXPECT_GE(fd_, 0) << "shm_open " << key_;
  EXPECT_EQ(ftruncate(fd_, static_cast<off_t>(size)), 0);
  WriteAt(0, std::string_view(initial_bytes_.data(), size));
}

ShmObject::~ShmObject() {
  close(fd_);
  shm_unlink(key_.c_str());
}

void ShmObject::WriteAt(size_t offset, std::string_view bytes) {
  EXPECT_EQ(pwrite(fd_, bytes.data(), bytes.size(), static_cast<off_t>(offset)),
            static_cast<ssize_t>(bytes.size()));
}

std::string ShmObject::ReadAt(size_t offset, size_t size) const {
  std::string out(size, '\0');
  EXPECT_EQ(pread(fd_, out.data(), size, static_cast<off_t>(offset)), static_cast<ssize_t>(size));
  return out;
}

void ShmObject::Truncate(size_t size) { EXPECT_EQ(ftruncate(fd_, static_cast<off_t>(size)), 0); }

size_t ShmObject::size() const {
  struct stat info;
  EXPECT_EQ(fstat(fd_, &info), 0);
  return static_cast<size_t>(info.st_size);
}

}  // namespace convd::testing
