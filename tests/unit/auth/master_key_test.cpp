#include "tollgate/auth/master_key.hpp"

#include <gtest/gtest.h>

namespace tollgate::auth {
namespace {

TEST(MasterKeyTest, MatchesOnlyTheExactKey) {
  MasterKey k("sk-master");
  EXPECT_TRUE(k.required());
  EXPECT_TRUE(k.matches("sk-master"));
  EXPECT_FALSE(k.matches("sk-maste"));
  EXPECT_FALSE(k.matches("sk-master "));
  EXPECT_FALSE(k.matches(""));
}

TEST(MasterKeyTest, EmptyKeyDisablesAuth) {
  MasterKey k("");
  EXPECT_FALSE(k.required());
  EXPECT_TRUE(k.matches("anything"));
}

TEST(PresentedKeyTest, BearerThenLiteLlmHeaderThenXApiKey) {
  EXPECT_EQ(presented_key("Bearer sk-a", "sk-b", "sk-c"), "sk-a");
  EXPECT_EQ(presented_key("", "sk-b", "sk-c"), "sk-b");
  EXPECT_EQ(presented_key("", "Bearer sk-b", ""), "sk-b");
  EXPECT_EQ(presented_key("", "", "sk-c"), "sk-c");
  EXPECT_EQ(presented_key("Basic abc", "", ""), "");
}

}  // namespace
}  // namespace tollgate::auth
