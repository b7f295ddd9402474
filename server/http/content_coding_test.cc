// gzip and deflate bodies against zlib itself: what other encoders write
// decodes, what convd writes decodes with zlib's own calls, limits hold,
// and damaged data is refused with a message that says how.
#include "server/http/content_coding.h"

#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace convd {
namespace {

// Fresh bytes each run; the seed is printed so a failure can be replayed.
class ContentCodingTest : public ::testing::Test {
 protected:
  ContentCodingTest() : seed_(std::random_device{}()), random_(seed_) {}

  // Random floats in [0, 1) as bytes: tensors as clients send them (they
  // compress a little: the exponents repeat).
  std::string RandomTensorBytes(size_t floats) {
    std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
    std::string bytes(floats * sizeof(float), '\0');
    for (size_t i = 0; i < floats; ++i) {
      const float value = uniform(random_);
      std::memcpy(bytes.data() + i * sizeof(float), &value, sizeof(float));
    }
    return bytes;
  }

  // JSON-like text: compresses well.
  std::string RandomJson(size_t values) {
    std::uniform_int_distribution<int> digit(0, 999);
    std::string text = "{\"data\":[";
    for (size_t i = 0; i < values; ++i) text += std::to_string(digit(random_)) + ",";
    return text + "0]}";
  }

  const uint32_t seed_;
  std::mt19937 random_;
};

// `input` compressed by zlib's own deflate with `window_bits` (15 zlib,
// -15 raw, 31 gzip) at `level`.
std::string ZlibDeflate(const std::string& input, int window_bits, int level) {
  z_stream stream{};
  EXPECT_EQ(deflateInit2(&stream, level, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&stream, input.size()), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
  stream.avail_in = static_cast<uInt>(input.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&stream, Z_FINISH), Z_STREAM_END);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

// `input` inflated by zlib's own inflate (window_bits as above).
std::string ZlibInflate(const std::string& input, int window_bits, size_t size) {
  z_stream stream{};
  EXPECT_EQ(inflateInit2(&stream, window_bits), Z_OK);
  std::string out(size + 1, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
  stream.avail_in = static_cast<uInt>(input.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&stream, Z_FINISH), Z_STREAM_END);
  out.resize(stream.total_out);
  inflateEnd(&stream);
  return out;
}

TEST_F(ContentCodingTest, RoundTripsTensorsAndTextInBothCodings) {
  SCOPED_TRACE(seed_);
  const std::vector<std::string> bodies = {
      "", "x", RandomTensorBytes(1), RandomTensorBytes(4 * 28 * 28), RandomJson(5000),
      // Past the decoder's first buffer (64 KiB, or 4x the input).
      RandomTensorBytes((1 << 20) / 4 + 7), std::string(3 << 20, 'a')};
  for (ContentCoding coding : {ContentCoding::kGzip, ContentCoding::kDeflate}) {
    for (const std::string& body : bodies) {
      SCOPED_TRACE(testing::Message()
                   << ContentCodingName(coding) << ", " << body.size() << " bytes");
      absl::StatusOr<std::string> encoded = EncodeContent(coding, body);
      ASSERT_TRUE(encoded.ok()) << encoded.status();
      if (body.size() > 1000) {
        EXPECT_LT(encoded->size(), body.size());
      }
      absl::StatusOr<std::string> decoded = DecodeContent(coding, *encoded, body.size());
      ASSERT_TRUE(decoded.ok()) << decoded.status();
      EXPECT_EQ(*decoded, body);
    }
  }
  absl::StatusOr<std::string> same = EncodeContent(ContentCoding::kIdentity, "abc");
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(*same, "abc");
}

TEST_F(ContentCodingTest, DecodesWhatZlibWrites) {
  SCOPED_TRACE(seed_);
  const std::string body = RandomTensorBytes(10000) + RandomJson(2000);
  struct Case {
    const char* what;
    ContentCoding coding;
    int window_bits, level;
  };
  for (const Case& c : {Case{"gzip, level 6", ContentCoding::kGzip, 31, 6},
                        Case{"gzip, level 9", ContentCoding::kGzip, 31, 9},
                        Case{"zlib (Python's zlib.compress)", ContentCoding::kDeflate, 15, 6},
                        Case{"zlib, no compression", ContentCoding::kDeflate, 15, 0},
                        Case{"raw deflate", ContentCoding::kDeflate, -15, 6},
                        Case{"raw deflate, level 1", ContentCoding::kDeflate, -15, 1}}) {
    SCOPED_TRACE(c.what);
    absl::StatusOr<std::string> decoded =
        DecodeContent(c.coding, ZlibDeflate(body, c.window_bits, c.level), body.size());
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, body);
  }
  // Two gzip members back to back (RFC 1952): the bodies one after the other.
  const std::string second = RandomJson(300);
  absl::StatusOr<std::string> both = DecodeContent(
      ContentCoding::kGzip, ZlibDeflate(body, 31, 6) + ZlibDeflate(second, 31, 1), 1 << 20);
  ASSERT_TRUE(both.ok()) << both.status();
  EXPECT_EQ(*both, body + second);
}

TEST_F(ContentCodingTest, ZlibDecodesWhatConvdWrites) {
  SCOPED_TRACE(seed_);
  const std::string body = RandomJson(20000);
  absl::StatusOr<std::string> gzip = EncodeContent(ContentCoding::kGzip, body);
  absl::StatusOr<std::string> deflate = EncodeContent(ContentCoding::kDeflate, body);
  ASSERT_TRUE(gzip.ok() && deflate.ok());
  EXPECT_EQ(ZlibInflate(*gzip, 31, body.size()), body);
  // "deflate" is the zlib format, with its header, as RFC 9110 defines it.
  EXPECT_EQ(ZlibInflate(*deflate, 15, body.size()), body);
  EXPECT_EQ(static_cast<unsigned char>((*gzip)[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>((*gzip)[1]), 0x8b);
}

TEST_F(ContentCodingTest, RefusesToInflatePastTheLimit) {
  // 64 MiB of zeros are 64 KB compressed: a decompression bomb.
  const std::string zeros(64 << 20, '\0');
  for (auto [coding, window_bits] :
       {std::pair{ContentCoding::kGzip, 31}, std::pair{ContentCoding::kDeflate, 15},
        std::pair{ContentCoding::kDeflate, -15}}) {
    const std::string bomb = ZlibDeflate(zeros, window_bits, 9);
    ASSERT_LT(bomb.size(), 100u << 10);
    absl::StatusOr<std::string> decoded = DecodeContent(coding, bomb, 1 << 20);
    ASSERT_EQ(decoded.status().code(), absl::StatusCode::kResourceExhausted) << decoded.status();
    EXPECT_NE(decoded.status().message().find("more than 1048576 bytes"), std::string::npos)
        << decoded.status();
  }
  // Exactly at the limit is fine; a byte over is not.
  const std::string body = RandomTensorBytes(1000);
  const std::string gzip = ZlibDeflate(body, 31, 6);
  EXPECT_TRUE(DecodeContent(ContentCoding::kGzip, gzip, body.size()).ok());
  EXPECT_EQ(DecodeContent(ContentCoding::kGzip, gzip, body.size() - 1).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST_F(ContentCodingTest, NamesWhatIsWrongWithDamagedBodies) {
  SCOPED_TRACE(seed_);
  const std::string body = RandomJson(3000);
  const std::string gzip = ZlibDeflate(body, 31, 6);
  const std::string zlib = ZlibDeflate(body, 15, 6);
  auto message_of = [](ContentCoding coding, const std::string& data) {
    absl::StatusOr<std::string> decoded = DecodeContent(coding, data, 1 << 20);
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument) << decoded.status();
    return std::string(decoded.status().message());
  };
  EXPECT_NE(message_of(ContentCoding::kGzip, gzip.substr(0, gzip.size() / 2)).find("truncated"),
            std::string::npos);
  EXPECT_NE(message_of(ContentCoding::kDeflate, zlib.substr(0, zlib.size() - 3)).find("truncated"),
            std::string::npos);
  // A changed byte in the trailer's CRC-32.
  std::string bad_check = gzip;
  bad_check[bad_check.size() - 6] ^= 0x55;
  EXPECT_NE(message_of(ContentCoding::kGzip, bad_check).find("gzip body is corrupt"),
            std::string::npos);
  EXPECT_NE(message_of(ContentCoding::kDeflate, zlib + "trailing").find("8 bytes after the end"),
            std::string::npos);
  EXPECT_NE(message_of(ContentCoding::kGzip, body).find("corrupt"), std::string::npos);
  // A zlib stream declared as gzip.
  EXPECT_NE(message_of(ContentCoding::kGzip, zlib).find("corrupt"), std::string::npos);
}

TEST(ParseContentEncodingTest, ReadsTheCodingsConvdDecodes) {
  EXPECT_EQ(*ParseContentEncoding(""), ContentCoding::kIdentity);
  EXPECT_EQ(*ParseContentEncoding("identity"), ContentCoding::kIdentity);
  EXPECT_EQ(*ParseContentEncoding(" GZIP "), ContentCoding::kGzip);
  EXPECT_EQ(*ParseContentEncoding("x-gzip"), ContentCoding::kGzip);
  EXPECT_EQ(*ParseContentEncoding("Deflate"), ContentCoding::kDeflate);
  for (const char* unsupported : {"br", "compress", "zstd", "gzip, deflate"}) {
    absl::StatusOr<ContentCoding> coding = ParseContentEncoding(unsupported);
    ASSERT_EQ(coding.status().code(), absl::StatusCode::kUnimplemented) << unsupported;
    EXPECT_NE(coding.status().message().find(unsupported), std::string::npos);
    EXPECT_NE(coding.status().message().find("gzip, deflate"), std::string::npos);
  }
}

TEST(PreferredResponseCodingTest, FollowsQualityValues) {
  struct Case {
    const char* accept_encoding;
    ContentCoding expected;
  };
  for (const Case& c : {
           Case{"", ContentCoding::kIdentity},
           Case{"gzip", ContentCoding::kGzip},
           Case{"deflate", ContentCoding::kDeflate},
           Case{"gzip, deflate, br", ContentCoding::kGzip},  // curl --compressed
           Case{"deflate, gzip", ContentCoding::kGzip},      // a tie: gzip
           Case{"deflate;q=1.0, gzip;q=0.5", ContentCoding::kDeflate},
           Case{"GZIP;Q=0.8", ContentCoding::kGzip},
           Case{"x-gzip", ContentCoding::kGzip},
           Case{"gzip;q=0", ContentCoding::kIdentity},
           Case{"br, zstd", ContentCoding::kIdentity},
           Case{"*", ContentCoding::kGzip},
           Case{"*;q=0.3, gzip;q=0.1", ContentCoding::kDeflate},
           Case{"*;q=0", ContentCoding::kIdentity},
           Case{"gzip;q=0.5, identity", ContentCoding::kIdentity},
           Case{"gzip;q=abc, deflate;q=0.2", ContentCoding::kDeflate},  // invalid: ignored
           Case{"gzip;q=2", ContentCoding::kIdentity},
           Case{" , ,deflate ; q=0.9 ", ContentCoding::kDeflate},
       }) {
    EXPECT_EQ(PreferredResponseCoding(c.accept_encoding), c.expected) << c.accept_encoding;
  }
}

}  // namespace
}  // namespace convd
