// multipart/form-data bodies (RFC 7578), as browsers and `curl -F` send
// files: the parts' payloads with their field and file names. Strict: a
// body that does not follow the boundary structure is an error naming what
// is wrong, never a partial result.
#ifndef CONVD_SERVER_HTTP_MULTIPART_H_
#define CONVD_SERVER_HTTP_MULTIPART_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace convd {

struct MultipartPart {
  std::string name;      // the form field
  std::string filename;  // empty when the part is not a file
  std::string_view data;  // points into the body
};

// The boundary parameter of a multipart/form-data Content-Type, or an
// INVALID_ARGUMENT when it has none.
absl::StatusOr<std::string> MultipartBoundary(std::string_view content_type);

absl::StatusOr<std::vector<MultipartPart>> ParseMultipart(std::string_view body,
                                                          std::string_view boundary);

}  // namespace convd

#endif  // CONVD_SERVER_HTTP_MULTIPART_H_
