#include "tollgate/http/upstream_client.hpp"

#include <gtest/gtest.h>

namespace tollgate::http {
namespace {

TEST(UrlTest, ParsesSchemeHostPortAndPath) {
  auto u = Url::parse("https://api.openai.com/v1/");
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->host, "api.openai.com");
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->path, "/v1");
  auto p = Url::parse("http://127.0.0.1:8080");
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->tls);
  EXPECT_EQ(p->port, 8080);
  EXPECT_EQ(p->path, "");
  auto v6 = Url::parse("http://[::1]:9000/x");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 9000);
}

TEST(UrlTest, RejectsWhatIsNotAnHttpUrl) {
  for (const char* bad : {"ftp://x", "http://", "https://:443/", "http://h:0", "http://h:70000", "http://h:1x",
                          "http://user@h/", "localhost:8000"}) {
    EXPECT_FALSE(Url::parse(bad)) << bad;
  }
}

}  // namespace
}  // namespace tollgate::http
