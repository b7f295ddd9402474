// A fresh, empty directory for a test's files: under Bazel's TEST_TMPDIR
// (or /tmp when run by hand), removed and recreated on each call.
#ifndef CONVD_KERNELS_TESTING_TEMP_DIR_H_
#define CONVD_KERNELS_TESTING_TEMP_DIR_H_

#include <string>

namespace convd::testing {

std::string MakeTempDir(const std::string& name);

}  // namespace convd::testing

#endif  // CONVD_KERNELS_TESTING_TEMP_DIR_H_
