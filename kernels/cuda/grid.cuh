// Launch geometry shared by the element-wise style kernels: 256 threads a
// block and a grid-stride loop, so the grid is capped and any count works.
#ifndef CONVD_KERNELS_CUDA_GRID_CUH_
#define CONVD_KERNELS_CUDA_GRID_CUH_

#include <cstdint>

namespace convd::cuda {

inline constexpr int kThreadsPerBlock = 256;

// Blocks for `work` items, at least 1 and at most 65535 * 8 (the kernels
// loop over the rest).
inline unsigned GridBlocks(int64_t work) {
  const int64_t blocks = (work + kThreadsPerBlock - 1) / kThreadsPerBlock;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks < 65535 * 8 ? blocks : 65535 * 8));
}

}  // namespace convd::cuda

#endif  // CONVD_KERNELS_CUDA_GRID_CUH_
