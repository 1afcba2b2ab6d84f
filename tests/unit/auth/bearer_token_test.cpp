#include <gtest/gtest.h>

#include "tollgate/auth/master_key.hpp"

namespace tollgate::auth {
namespace {

TEST(BearerTokenTest, TheSchemeIsCaseInsensitive) {
  // RFC 9110 §11.1: auth-scheme is case-insensitive.
  for (const char* value : {"Bearer sk-a", "bearer sk-a", "BEARER sk-a", "bEaReR sk-a", "Bearer   sk-a  ", "Bearer\tsk-a"}) {
    EXPECT_EQ(bearer_token(value), std::optional<std::string_view>("sk-a")) << value;
  }
}

TEST(BearerTokenTest, OtherSchemesAndNoSeparatorAreNotBearer) {
  EXPECT_EQ(bearer_token("Basic sk-a"), std::nullopt);
  EXPECT_EQ(bearer_token("Bearersk-a"), std::nullopt);
  EXPECT_EQ(bearer_token("Bearer"), std::nullopt);
  EXPECT_EQ(bearer_token(""), std::nullopt);
  EXPECT_EQ(bearer_token("Bearer "), std::optional<std::string_view>(""));
}

TEST(BearerTokenTest, PresentedKeyTakesAnyCaseInEitherHeader) {
  EXPECT_EQ(presented_key("BEARER sk-a", "sk-b", "sk-c"), "sk-a");
  EXPECT_EQ(presented_key("bearer sk-a", "", ""), "sk-a");
  EXPECT_EQ(presented_key("", "BEARER sk-b", ""), "sk-b");
  EXPECT_EQ(presented_key("", "bearer sk-b", ""), "sk-b");
  // A Bearer header without a token leaves the other headers to speak.
  EXPECT_EQ(presented_key("Bearer ", "sk-b", ""), "sk-b");
}

}  // namespace
}  // namespace tollgate::auth
