// Tests of each build of a kernel (cpu_features.h) that this CPU runs: the
// builds to instantiate a test over, a fixture that skips those the CPU
// lacks, and the instantiation's names.
//
//   class GemvBuildTest : public CpuBuildTest<> {};
//   INSTANTIATE_TEST_SUITE_P(Builds, GemvBuildTest, ::testing::ValuesIn(kAllCpuBuilds),
//                            CpuBuildTestName);
#ifndef CONVD_KERNELS_CPU_CPU_BUILD_TESTING_H_
#define CONVD_KERNELS_CPU_CPU_BUILD_TESTING_H_

#include <string>
#include <tuple>
#include <type_traits>

#include "gtest/gtest.h"
#include "kernels/cpu/cpu_features.h"

namespace convd::cpu {

// Every build, narrowest first.
inline constexpr CpuBuild kAllCpuBuilds[] = {CpuBuild::kBaseline, CpuBuild::kAvx2,
                                             CpuBuild::kAvx512};

// Param: a CpuBuild, or a tuple whose first element is one (the build
// combined with other parameters). Tests of a build this CPU cannot run
// are skipped in SetUp, before their body.
template <typename Param = CpuBuild>
class CpuBuildTest : public ::testing::TestWithParam<Param> {
 protected:
  CpuBuild build() const {
    if constexpr (std::is_same_v<Param, CpuBuild>) {
      return this->GetParam();
    } else {
      return std::get<0>(this->GetParam());
    }
  }

  void SetUp() override {
    if (!CpuSupports(build())) {
      GTEST_SKIP() << "this CPU cannot run the " << CpuBuildName(build()) << " build";
    }
  }
};

// Names a test instantiated over kAllCpuBuilds by its build.
inline std::string CpuBuildTestName(const ::testing::TestParamInfo<CpuBuild>& info) {
  return CpuBuildName(info.param);
}

}  // namespace convd::cpu

#endif  // CONVD_KERNELS_CPU_CPU_BUILD_TESTING_H_
