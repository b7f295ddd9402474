#include "client/server_url.h"

#include "gtest/gtest.h"

namespace convd::client {
namespace {

TEST(ServerUrlTest, SchemeAndPortDefaults) {
  struct Case {
    const char* text;
    Protocol protocol;
    const char* host;
    int port;
  };
  for (const Case& c : {Case{"localhost", Protocol::kGrpc, "localhost", 8001},
                        Case{"localhost:9001", Protocol::kGrpc, "localhost", 9001},
                        Case{"grpc://10.0.0.5", Protocol::kGrpc, "10.0.0.5", 8001},
                        Case{"http://127.0.0.1", Protocol::kHttp, "127.0.0.1", 8000},
                        Case{"http://127.0.0.1:18000/", Protocol::kHttp, "127.0.0.1", 18000},
                        Case{"http://[::1]:8080", Protocol::kHttp, "::1", 8080},
                        Case{"[::1]", Protocol::kGrpc, "::1", 8001}}) {
    auto url = ParseServerUrl(c.text);
    ASSERT_TRUE(url.ok()) << c.text << ": " << url.status();
    EXPECT_EQ(url->protocol, c.protocol) << c.text;
    EXPECT_EQ(url->host, c.host) << c.text;
    EXPECT_EQ(url->port, c.port) << c.text;
  }
  EXPECT_EQ(ParseServerUrl("http://[::1]:8080")->Authority(), "[::1]:8080");
  EXPECT_EQ(ParseServerUrl("localhost")->ToString(), "grpc://localhost:8001");
}

TEST(ServerUrlTest, LoopbackIsLocalhostAnd127And1) {
  EXPECT_TRUE(ParseServerUrl("localhost")->IsLoopback());
  EXPECT_TRUE(ParseServerUrl("127.0.0.2:80")->IsLoopback());
  EXPECT_TRUE(ParseServerUrl("http://[::1]")->IsLoopback());
  EXPECT_FALSE(ParseServerUrl("10.1.2.3")->IsLoopback());
  EXPECT_FALSE(ParseServerUrl("convd.example")->IsLoopback());
}

TEST(ServerUrlTest, BadUrlsNameTheProblem) {
  struct Case {
    const char* text;
    const char* why;
  };
  for (const Case& c : {Case{"ftp://host", "unknown scheme"}, Case{"host:", "empty port"},
                        Case{"host:http", "port must be a number"},
                        Case{"host:70000", "port must be a number"}, Case{":8001", "no host"},
                        Case{"http://host/v2", "path"}, Case{"[::1", "unclosed"}}) {
    auto url = ParseServerUrl(c.text);
    ASSERT_FALSE(url.ok()) << c.text;
    EXPECT_EQ(url.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(url.status().message().find(c.why), std::string::npos) << url.status();
  }
}

}  // namespace
}  // namespace convd::client
