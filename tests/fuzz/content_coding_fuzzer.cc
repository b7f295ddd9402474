// libFuzzer target for the HTTP content codings (server/http/
// content_coding.h): the first byte picks gzip or deflate and the output
// limit, the rest is the body. Any input decodes or fails with a Status
// (never past the limit); what decodes must encode and decode back to
// itself. Built with clang (make fuzz-content).
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "server/http/content_coding.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const convd::ContentCoding coding =
      (data[0] & 1) != 0 ? convd::ContentCoding::kGzip : convd::ContentCoding::kDeflate;
  // Limits from 0 bytes to 1 MiB, small ones often: the boundary.
  const int64_t limit = (data[0] & 2) != 0 ? (data[0] >> 2) : int64_t{1} << 20;
  const absl::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  absl::StatusOr<std::string> decoded = convd::DecodeContent(coding, body, limit);
  if (!decoded.ok()) return 0;
  if (static_cast<int64_t>(decoded->size()) > limit) abort();
  absl::StatusOr<std::string> encoded = convd::EncodeContent(coding, *decoded);
  if (!encoded.ok()) abort();
  absl::StatusOr<std::string> again = convd::DecodeContent(coding, *encoded, limit);
  if (!again.ok() || *again != *decoded) abort();
  return 0;
}
