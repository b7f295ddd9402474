// Layer geometry as device code sees it: plain structs nvcc and the host
// compiler both read (no Abseil), passed by value to kernels. Mirror
// convd::ConvParams and convd::PoolParams (kernels/op_params.h), whose
// ComputeConvOutput/ComputePoolOutput fill p and q; ToDevice* in
// kernels/cuda/device.h converts. CUTLASS's names: input [N, C, H, W],
// filters [K, C/groups, R, S], output [N, K, P, Q].
#ifndef CONVD_KERNELS_CUDA_DEVICE_PARAMS_H_
#define CONVD_KERNELS_CUDA_DEVICE_PARAMS_H_

#include <cstdint>

// Members both sides call: device functions under nvcc, plain ones otherwise.
#ifdef __CUDACC__
#define CONVD_HOST_DEVICE __host__ __device__
#else
#define CONVD_HOST_DEVICE
#endif

namespace convd::cuda {

// `columns` rounded up to a multiple of 4: the row length the SGEMM's
// operands get wherever we lay them out (im2col's images side by side,
// Winograd's tiles), so that each row starts 16-byte aligned and takes
// float4 loads, and a thread's 4 columns never straddle two rows' data.
CONVD_HOST_DEVICE constexpr int64_t Float4Columns(int64_t columns) { return (columns + 3) / 4 * 4; }

struct DeviceConvShape {
  int n = 1, c = 0, h = 0, w = 0;
  int k = 0, r = 0, s = 0;
  int stride_h = 1, stride_w = 1;
  int pad_top = 0, pad_left = 0;
  int dilation_h = 1, dilation_w = 1;
  int groups = 1;
  int p = 0, q = 0;

  CONVD_HOST_DEVICE int c_per_group() const { return c / groups; }
  CONVD_HOST_DEVICE int k_per_group() const { return k / groups; }
  // Rows of the im2col matrix of one group: C/groups * R * S.
  CONVD_HOST_DEVICE int64_t gemm_k() const { return int64_t{c / groups} * r * s; }
  CONVD_HOST_DEVICE int64_t plane_out() const { return int64_t{p} * q; }
  // The GEMM columns an image takes when the SGEMM-backed convolutions put
  // images side by side (conv_launch.h GroupGemm).
  CONVD_HOST_DEVICE int64_t padded_plane_out() const { return Float4Columns(plane_out()); }
};

struct DevicePoolShape {
  int n = 1, c = 0, h = 0, w = 0;
  bool max = true;  // else average
  int kernel_h = 1, kernel_w = 1;
  int stride_h = 1, stride_w = 1;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  bool count_include_pad = true;
  int p = 0, q = 0;
};

}  // namespace convd::cuda

#endif  // CONVD_KERNELS_CUDA_DEVICE_PARAMS_H_
