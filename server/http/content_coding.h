// HTTP content codings (RFC 9110, section 8.4.1) for the REST API: request
// bodies may arrive compressed (Content-Encoding: gzip or deflate, as
// tritonclient.http sends them with request_compression_algorithm), and
// responses are compressed for clients that ask (Accept-Encoding, as
// tritonclient.http's response_compression_algorithm, curl --compressed
// and browsers send it). Triton's HTTP endpoint does both.
//
// "deflate" is the zlib format (RFC 1950), as the RFC defines the coding
// and Python's zlib.compress writes it; a raw deflate stream (RFC 1951),
// which some clients send under that name, is read too. A gzip body may
// hold several members back to back (RFC 1952), as `cat a.gz b.gz` makes.
//
//   ASSIGN_OR_RETURN(ContentCoding coding, ParseContentEncoding(header));
//   ASSIGN_OR_RETURN(std::string body, DecodeContent(coding, wire, limit));
//
// Thread safety: every function may be called concurrently.
#ifndef CONVD_SERVER_HTTP_CONTENT_CODING_H_
#define CONVD_SERVER_HTTP_CONTENT_CODING_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace convd {

enum class ContentCoding { kIdentity, kGzip, kDeflate };

// "identity", "gzip" or "deflate".
absl::string_view ContentCodingName(ContentCoding coding);

// The coding a Content-Encoding header names: empty or "identity" is
// kIdentity, "gzip" (or its old alias "x-gzip") kGzip, "deflate" kDeflate;
// case and surrounding spaces do not matter. Anything else, a list of
// codings included, is UnimplementedError naming it and the codings
// convd reads (HTTP 415).
absl::StatusOr<ContentCoding> ParseContentEncoding(absl::string_view header);

// `body` decoded from `coding` (kIdentity: as it is). At most `max_bytes`
// of output: past that ResourceExhaustedError, before the rest is
// inflated (a few kilobytes of zeros can inflate to gigabytes; HTTP 413).
// Corrupt or truncated data, or bytes after the end of a deflate stream:
// InvalidArgumentError naming the coding and the problem (HTTP 400). An
// empty body decodes to an empty body.
absl::StatusOr<std::string> DecodeContent(ContentCoding coding, absl::string_view body,
                                          int64_t max_bytes);

// The coding of a response to a request with this Accept-Encoding header
// (RFC 9110, section 12.5.3): of gzip and deflate, the one with the
// higher quality value (a coding not named takes `*`'s; gzip wins a tie),
// unless identity is named with a higher one; kIdentity when the header
// is empty or accepts neither.
ContentCoding PreferredResponseCoding(absl::string_view accept_encoding);

// `body` in `coding` (kIdentity: as it is), at zlib's fastest level:
// responses are compressed on the HTTP I/O threads. Fails only short of
// memory or for a body of 4 GiB or more; the response then goes as it is.
absl::StatusOr<std::string> EncodeContent(ContentCoding coding, absl::string_view body);

}  // namespace convd

#endif  // CONVD_SERVER_HTTP_CONTENT_CODING_H_
