#include "kernels/op_params.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace convd {

const char* ActivationName(Activation activation) {
  switch (activation) {
    case Activation::kNone: return "none";
    case Activation::kRelu: return "relu";
    case Activation::kSigmoid: return "sigmoid";
    case Activation::kTanh: return "tanh";
    case Activation::kLeakyRelu: return "leaky_relu";
    case Activation::kClip: return "clip";
  }
  return "unknown";
}

std::string ConvParams::ToString() const {
  return absl::StrFormat(
      "N=%d C=%d H=%d W=%d K=%d R=%d S=%d stride=%dx%d pad=%d,%d,%d,%d "
      "dilation=%dx%d groups=%d -> P=%d Q=%d",
      n, c, h, w, k, r, s, stride_h, stride_w, pad_top, pad_left, pad_bottom,
      pad_right, dilation_h, dilation_w, groups, p, q);
}

std::string PoolParams::ToString() const {
  return absl::StrFormat(
      "%s N=%d C=%d H=%d W=%d kernel=%dx%d stride=%dx%d pad=%d,%d,%d,%d "
      "ceil_mode=%d count_include_pad=%d -> P=%d Q=%d",
      method == PoolMethod::kMax ? "max" : "avg", n, c, h, w, kernel_h,
      kernel_w, stride_h, stride_w, pad_top, pad_left, pad_bottom, pad_right,
      ceil_mode, count_include_pad, p, q);
}

namespace {

absl::Status CheckPositive(const char* what, int value) {
  if (value <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " must be positive; got ", value));
  }
  return absl::OkStatus();
}

absl::Status CheckNonNegative(const char* what, int value) {
  if (value < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " must not be negative; got ", value));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ComputeConvOutput(ConvParams& p) {
  for (auto [what, value] :
       {std::pair{"batch", p.n}, {"input channels", p.c}, {"input height", p.h},
        {"input width", p.w}, {"output channels", p.k}, {"kernel height", p.r},
        {"kernel width", p.s}, {"stride height", p.stride_h},
        {"stride width", p.stride_w}, {"dilation height", p.dilation_h},
        {"dilation width", p.dilation_w}, {"groups", p.groups}}) {
    if (auto status = CheckPositive(what, value); !status.ok()) return status;
  }
  for (auto [what, value] :
       {std::pair{"pad top", p.pad_top}, {"pad left", p.pad_left},
        {"pad bottom", p.pad_bottom}, {"pad right", p.pad_right}}) {
    if (auto status = CheckNonNegative(what, value); !status.ok()) return status;
  }
  if (p.c % p.groups != 0 || p.k % p.groups != 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "input channels (%d) and output channels (%d) must both be divisible "
        "by groups (%d)",
        p.c, p.k, p.groups));
  }
  const int64_t extent_h = int64_t{p.dilation_h} * (p.r - 1) + 1;
  const int64_t extent_w = int64_t{p.dilation_w} * (p.s - 1) + 1;
  const int64_t padded_h = int64_t{p.h} + p.pad_top + p.pad_bottom;
  const int64_t padded_w = int64_t{p.w} + p.pad_left + p.pad_right;
  if (extent_h > padded_h || extent_w > padded_w) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "kernel extent %dx%d (kernel %dx%d, dilation %dx%d) exceeds the "
        "padded input %dx%d",
        extent_h, extent_w, p.r, p.s, p.dilation_h, p.dilation_w, padded_h,
        padded_w));
  }
  p.p = static_cast<int>((padded_h - extent_h) / p.stride_h + 1);
  p.q = static_cast<int>((padded_w - extent_w) / p.stride_w + 1);
  return absl::OkStatus();
}

namespace {

int PooledSize(int in, int pad_begin, int pad_end, int kernel, int stride,
               bool ceil_mode) {
  const int span = in + pad_begin + pad_end - kernel;
  int out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad_begin) --out;
  return out;
}

}  // namespace

absl::Status ComputePoolOutput(PoolParams& p) {
  for (auto [what, value] :
       {std::pair{"batch", p.n}, {"channels", p.c}, {"input height", p.h},
        {"input width", p.w}, {"kernel height", p.kernel_h},
        {"kernel width", p.kernel_w}, {"stride height", p.stride_h},
        {"stride width", p.stride_w}}) {
    if (auto status = CheckPositive(what, value); !status.ok()) return status;
  }
  for (auto [what, value] :
       {std::pair{"pad top", p.pad_top}, {"pad left", p.pad_left},
        {"pad bottom", p.pad_bottom}, {"pad right", p.pad_right}}) {
    if (auto status = CheckNonNegative(what, value); !status.ok()) return status;
  }
  if (p.pad_top >= p.kernel_h || p.pad_bottom >= p.kernel_h ||
      p.pad_left >= p.kernel_w || p.pad_right >= p.kernel_w) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "pads (%d,%d,%d,%d) must be smaller than the kernel %dx%d",
        p.pad_top, p.pad_left, p.pad_bottom, p.pad_right, p.kernel_h,
        p.kernel_w));
  }
  if (p.kernel_h > p.h + p.pad_top + p.pad_bottom ||
      p.kernel_w > p.w + p.pad_left + p.pad_right) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "kernel %dx%d exceeds the padded input %dx%d", p.kernel_h, p.kernel_w,
        p.h + p.pad_top + p.pad_bottom, p.w + p.pad_left + p.pad_right));
  }
  p.p = PooledSize(p.h, p.pad_top, p.pad_bottom, p.kernel_h, p.stride_h,
                   p.ceil_mode);
  p.q = PooledSize(p.w, p.pad_left, p.pad_right, p.kernel_w, p.stride_w,
                   p.ceil_mode);
  return absl::OkStatus();
}

}  // namespace convd
