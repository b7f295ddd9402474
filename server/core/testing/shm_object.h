// A POSIX shared-memory object for tests: created under a key unique to the
// process, filled with random bytes, unlinked when destroyed. It plays the
// client's side of the system shared-memory extension.
#ifndef CONVD_SERVER_CORE_TESTING_SHM_OBJECT_H_
#define CONVD_SERVER_CORE_TESTING_SHM_OBJECT_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace convd::testing {

class ShmObject {
 public:
  explicit ShmObject(size_t size);  // fails the test if it cannot be made
  ~ShmObject();
  ShmObject(const ShmObject&) = delete;
  ShmObject& operator=(const ShmObject&) = delete;

  const std::string& key() const { return key_; }
  // The random bytes it was filled with.
  const std::vector<char>& initial_bytes() const { return initial_bytes_; }

  void WriteAt(size_t offset, std::string_view bytes);
  std::string ReadAt(size_t offset, size_t size) const;
  void Truncate(size_t size);
  size_t size() const;

 private:
  std::string key_;
  std::vector<char> initial_bytes_;
  int fd_ = -1;
};

}  // namespace convd::testing

#endif  // CONVD_SERVER_CORE_TESTING_SHM_OBJECT_H_
