// multipart/form-data as curl -F writes it, and the malformed bodies that
// must be refused rather than half-read.
#include "server/http/multipart.h"

#include "gtest/gtest.h"

namespace convd {
namespace {

TEST(MultipartTest, PartsWithNamesFilenamesAndBinaryData) {
  auto boundary =
      MultipartBoundary("multipart/form-data; boundary=------------------------a1b2c3");
  ASSERT_TRUE(boundary.ok()) << boundary.status();
  EXPECT_EQ(*boundary, "------------------------a1b2c3");
  EXPECT_EQ(*MultipartBoundary(R"(multipart/form-data; boundary="x y")"), "x y");
  const std::string binary("\x89PNG\r\n\x1a\n\0\r\n-", 13);
  const std::string body =
      "--B\r\nContent-Disposition: form-data; name=\"a\"; filename=\"one.png\"\r\n"
      "Content-Type: image/png\r\n\r\n" + binary +
      "\r\n--B\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\nplain\r\n--B--\r\n";
  auto parts = ParseMultipart(body, "B");
  ASSERT_TRUE(parts.ok()) << parts.status();
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].name, "a");
  EXPECT_EQ((*parts)[0].filename, "one.png");
  EXPECT_EQ((*parts)[0].data, binary);
  EXPECT_EQ((*parts)[1].name, "b");
  EXPECT_EQ((*parts)[1].filename, "");
  EXPECT_EQ((*parts)[1].data, "plain");
}

TEST(MultipartTest, MalformedBodiesAreRefused) {
  EXPECT_FALSE(MultipartBoundary("image/png").ok());
  EXPECT_FALSE(MultipartBoundary("multipart/form-data").ok());
  const struct {
    std::string body, message;
  } cases[] = {
      {"no boundary here", "no boundary line"},
      {"--Bjunk", "malformed boundary line"},
      {"--B\r\nContent-Disposition: form-data; name=\"a\"\r\n", "headers do not end"},
      {"--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\ndata without end",
       "not closed by a boundary"},
  };
  for (const auto& c : cases) {
    auto parts = ParseMultipart(c.body, "B");
    ASSERT_FALSE(parts.ok()) << c.body;
    EXPECT_NE(parts.status().message().find(c.message), std::string::npos) << parts.status();
  }
}

}  // namespace
}  // namespace convd
