#include "tollgate/core/redacted_url.hpp"

#include <gtest/gtest.h>

namespace tollgate {
namespace {

TEST(RedactedUrl, KeepsSchemeHostPortAndPathOnly) {
  EXPECT_EQ(redacted_url("https://user:secret@example.com:8443/v1?api-key=secret2#frag"), "https://example.com:8443/v1");
  EXPECT_EQ(redacted_url("http://127.0.0.1:9/v1"), "http://127.0.0.1:9/v1");
  EXPECT_EQ(redacted_url("https://key@host"), "https://host");
  EXPECT_EQ(redacted_url("https://host/path/a@b"), "https://host/path/a@b");  // '@' in the path is not userinfo
  EXPECT_EQ(redacted_url(""), "");
}

}  // namespace
}  // namespace tollgate
