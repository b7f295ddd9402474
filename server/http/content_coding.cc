#include "server/http/content_coding.h"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace convd {
namespace {

// zlib's window bits for each stream format.
constexpr int kZlibWindowBits = MAX_WBITS;       // RFC 1950
constexpr int kRawWindowBits = -MAX_WBITS;       // RFC 1951
constexpr int kGzipWindowBits = MAX_WBITS + 16;  // RFC 1952

// Inflates all of `input`. Gzip members may follow one another; other
// formats end where their stream does. Output beyond `max_bytes` is
// refused before it is written anywhere but a bounded buffer.
absl::StatusOr<std::string> Inflate(absl::string_view input, int window_bits,
                                    absl::string_view coding, int64_t max_bytes) {
  z_stream stream{};
  if (inflateInit2(&stream, window_bits) != Z_OK) {
    return absl::ResourceExhaustedError(
        absl::StrCat("cannot start decoding the ", coding, " body: out of memory"));
  }
  const bool gzip = window_bits == kGzipWindowBits;
  const auto* next = reinterpret_cast<const Bytef*>(input.data());
  size_t left = input.size();
  // Room for one byte past the limit, so that reaching it is seen.
  const uint64_t capacity = static_cast<uint64_t>(std::max<int64_t>(max_bytes, 0)) + 1;
  // A first guess at the output: 4x the input, or a gzip stream's own
  // count (its last 4 bytes: the last member's size, modulo 2^32), with a
  // little room to see the end without growing the buffer.
  uint64_t guess = std::max<uint64_t>(uint64_t{4} * input.size(), 64 << 10);
  if (gzip && input.size() >= 18) {
    const auto* tail = reinterpret_cast<const unsigned char*>(input.data() + input.size() - 4);
    guess = (uint64_t{tail[0]} | uint64_t{tail[1]} << 8 | uint64_t{tail[2]} << 16 |
             uint64_t{tail[3]} << 24) + 64;
  }
  std::string out(static_cast<size_t>(std::min(capacity, guess)), '\0');
  size_t produced = 0;
  absl::Status status;
  while (true) {
    if (stream.avail_in == 0 && left > 0) {
      const size_t chunk = std::min<size_t>(left, UINT_MAX);
      stream.next_in = const_cast<Bytef*>(next);
      stream.avail_in = static_cast<uInt>(chunk);
      next += chunk;
      left -= chunk;
    }
    if (produced == out.size()) {
      if (out.size() >= capacity) break;  // over the limit
      out.resize(static_cast<size_t>(std::min<uint64_t>(capacity, uint64_t{2} * out.size())));
    }
    const size_t room = std::min<size_t>(out.size() - produced, UINT_MAX);
    stream.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    stream.avail_out = static_cast<uInt>(room);
    const int code = inflate(&stream, Z_NO_FLUSH);
    produced += room - stream.avail_out;
    if (code == Z_STREAM_END) {
      const bool more_input = stream.avail_in > 0 || left > 0;
      // Another gzip member follows: RFC 1952 allows several.
      if (gzip && more_input && inflateReset(&stream) == Z_OK) continue;
      if (more_input) {
        status = absl::InvalidArgumentError(
            absl::StrCat("the ", coding, " body has ", stream.avail_in + left,
                         " bytes after the end of its compressed stream"));
      }
      break;
    }
    if (code == Z_BUF_ERROR && stream.avail_in == 0 && left == 0) {
      status = absl::InvalidArgumentError(
          absl::StrCat("the ", coding, " body is truncated: its compressed stream does not end"));
      break;
    }
    if (code != Z_OK && code != Z_BUF_ERROR) {
      status = code == Z_MEM_ERROR
                   ? absl::ResourceExhaustedError(
                         absl::StrCat("decoding the ", coding, " body ran out of memory"))
                   : absl::InvalidArgumentError(absl::StrCat(
                         "the ", coding, " body is corrupt: ",
                         stream.msg != nullptr ? stream.msg : "invalid compressed data"));
      break;
    }
  }
  inflateEnd(&stream);
  if (!status.ok()) return status;
  if (produced > static_cast<uint64_t>(max_bytes)) {
    return absl::ResourceExhaustedError(absl::StrCat("the ", coding, " body decodes to more than ",
                                                     max_bytes, " bytes (--http-max-body-bytes)"));
  }
  out.resize(produced);
  return out;
}

// Whether `input` starts with a zlib header (RFC 1950): deflate, a window
// of at most 32 KiB, and the check bits.
bool HasZlibHeader(absl::string_view input) {
  if (input.size() < 2) return false;
  const auto cmf = static_cast<unsigned char>(input[0]);
  const auto flg = static_cast<unsigned char>(input[1]);
  return (cmf & 0x0f) == Z_DEFLATED && (cmf >> 4) <= 7 && (cmf * 256 + flg) % 31 == 0;
}

}  // namespace

absl::string_view ContentCodingName(ContentCoding coding) {
  switch (coding) {
    case ContentCoding::kGzip:
      return "gzip";
    case ContentCoding::kDeflate:
      return "deflate";
    case ContentCoding::kIdentity:
      break;
  }
  return "identity";
}

absl::StatusOr<ContentCoding> ParseContentEncoding(absl::string_view header) {
  const std::string coding = absl::AsciiStrToLower(absl::StripAsciiWhitespace(header));
  if (coding.empty() || coding == "identity") return ContentCoding::kIdentity;
  if (coding == "gzip" || coding == "x-gzip") return ContentCoding::kGzip;
  if (coding == "deflate") return ContentCoding::kDeflate;
  return absl::UnimplementedError(absl::StrCat("Content-Encoding '", header,
                                               "' is not supported; send the body as is, or "
                                               "encoded with one of gzip, deflate"));
}

absl::StatusOr<std::string> DecodeContent(ContentCoding coding, absl::string_view body,
                                          int64_t max_bytes) {
  if (coding == ContentCoding::kIdentity || body.empty()) {
    if (static_cast<int64_t>(body.size()) > max_bytes) {
      return absl::ResourceExhaustedError(
          absl::StrCat("the body is larger than ", max_bytes, " bytes"));
    }
    return std::string(body);
  }
  const absl::string_view name = ContentCodingName(coding);
  if (coding == ContentCoding::kGzip) return Inflate(body, kGzipWindowBits, name, max_bytes);
  // deflate: the zlib format; else, or where a body that looked like it
  // does not decode as it (a raw stream can start with what passes for a
  // zlib header), a raw deflate stream.
  std::optional<absl::Status> zlib_error;
  if (HasZlibHeader(body)) {
    absl::StatusOr<std::string> zlib = Inflate(body, kZlibWindowBits, name, max_bytes);
    if (zlib.ok() || !absl::IsInvalidArgument(zlib.status())) return zlib;
    zlib_error = zlib.status();
  }
  absl::StatusOr<std::string> raw = Inflate(body, kRawWindowBits, name, max_bytes);
  if (raw.ok() || !absl::IsInvalidArgument(raw.status())) return raw;
  return zlib_error.value_or(raw.status());
}

ContentCoding PreferredResponseCoding(absl::string_view accept_encoding) {
  // Quality values as given; nullopt: not named.
  std::optional<double> gzip, deflate, identity, any;
  for (absl::string_view element : absl::StrSplit(accept_encoding, ',')) {
    std::vector<absl::string_view> fields = absl::StrSplit(element, ';');
    const std::string coding = absl::AsciiStrToLower(absl::StripAsciiWhitespace(fields[0]));
    if (coding.empty()) continue;
    double quality = 1.0;
    bool valid = true;
    for (size_t i = 1; i < fields.size(); ++i) {
      absl::string_view parameter = absl::StripAsciiWhitespace(fields[i]);
      if (!absl::ConsumePrefix(&parameter, "q=") && !absl::ConsumePrefix(&parameter, "Q=")) {
        continue;
      }
      valid = absl::SimpleAtod(parameter, &quality) && quality >= 0.0 && quality <= 1.0;
    }
    if (!valid) continue;  // RFC 9110: an invalid element is ignored
    if (coding == "gzip" || coding == "x-gzip") {
      gzip = std::max(gzip.value_or(0.0), quality);
    } else if (coding == "deflate") {
      deflate = quality;
    } else if (coding == "identity") {
      identity = quality;
    } else if (coding == "*") {
      any = quality;
    }
  }
  const double gzip_quality = gzip.value_or(any.value_or(0.0));
  const double deflate_quality = deflate.value_or(any.value_or(0.0));
  const double best = std::max(gzip_quality, deflate_quality);
  if (best <= 0.0 || (identity.has_value() && *identity > best)) return ContentCoding::kIdentity;
  return gzip_quality >= deflate_quality ? ContentCoding::kGzip : ContentCoding::kDeflate;
}

absl::StatusOr<std::string> EncodeContent(ContentCoding coding, absl::string_view body) {
  if (coding == ContentCoding::kIdentity) return std::string(body);
  if (body.size() > UINT_MAX) {
    return absl::InvalidArgumentError(
        absl::StrCat("a ", body.size(), "-byte body is too large to compress in one piece"));
  }
  const int window_bits = coding == ContentCoding::kGzip ? kGzipWindowBits : kZlibWindowBits;
  z_stream stream{};
  // Level 1: a response is compressed on an I/O thread, which other
  // connections wait for; tensors of floats gain little from more effort.
  if (deflateInit2(&stream, Z_BEST_SPEED, Z_DEFLATED, window_bits, /*memLevel=*/8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    return absl::ResourceExhaustedError("cannot start compressing: out of memory");
  }
  std::string out(deflateBound(&stream, body.size()), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data()));
  stream.avail_in = static_cast<uInt>(body.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  // With deflateBound's room, one call with Z_FINISH ends the stream.
  const int code = deflate(&stream, Z_FINISH);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  if (code != Z_STREAM_END) {
    return absl::InternalError(absl::StrCat("compressing with ", ContentCodingName(coding),
                                            " failed (zlib code ", code, ")"));
  }
  return out;
}

}  // namespace convd
