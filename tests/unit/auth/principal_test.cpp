#include "tollgate/auth/principal.hpp"

#include <gtest/gtest.h>

namespace tollgate::auth {
namespace {

TEST(PrincipalTest, HashKeyIsSha256Hex) {
  // sha256("abc")
  EXPECT_EQ(hash_key("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(PrincipalTest, LimitsAndModelMapsAreReadFromLiteLLMFields) {
  Record key;
  key.id = "tok";
  key.spend = 1.5;
  key.budget_reset_at_ms = 42;
  key.data = nlohmann::json::parse(R"({
    "rpm_limit": 10, "tpm_limit": 1000, "max_parallel_requests": 2, "max_budget": 5, "soft_budget": 4,
    "budget_duration": "1d", "models": ["a", 7], "blocked": true, "expires": "2026-11-22T00:00:00Z",
    "aliases": {"x": "a"}, "model_max_budget": {"a": 1.0, "b": {"budget_limit": 2.0}, "c": "bad"},
    "model_rpm_limit": {"a": 3}, "metadata": {"k": "v"}, "tags": ["t"]})");
  Record user;
  user.id = "u1";
  user.data = {{"user_role", "internal_user"}};
  const Principal p = make_principal(key, std::nullopt, user, std::nullopt, std::nullopt);
  EXPECT_EQ(p.key.rpm, 10);
  EXPECT_EQ(p.key.tpm, 1000);
  EXPECT_EQ(p.key.max_parallel, 2);
  EXPECT_EQ(p.key.max_budget, 5);
  EXPECT_EQ(p.key.soft_budget, 4);
  ASSERT_TRUE(p.key.budget_duration);
  EXPECT_EQ(p.key.spend, 1.5);
  EXPECT_EQ(p.key.window_ms, 42);
  EXPECT_EQ(p.key.models, (std::vector<std::string>{"a"}));
  EXPECT_TRUE(p.key.blocked);
  EXPECT_EQ(p.expires_ms, *parse_iso8601("2026-11-22T00:00:00Z"));
  EXPECT_EQ(p.aliases.at("x"), "a");
  EXPECT_EQ(p.model_max_budget.size(), 2u);
  EXPECT_EQ(p.model_max_budget.at("b"), 2.0);
  EXPECT_EQ(p.model_rpm_limit.at("a"), 3);
  EXPECT_EQ(p.role, UserRole::kInternalUser);
  EXPECT_EQ(p.user_id(), "u1");
  EXPECT_EQ(p.team_id(), "");
}

TEST(PrincipalTest, UnparsableExpiryFailsClosed) {
  Record key;
  key.id = "tok";
  key.data = {{"expires", "someday"}};
  const Principal p = make_principal(key, std::nullopt, std::nullopt, std::nullopt, std::nullopt);
  ASSERT_TRUE(p.expires_ms);
  EXPECT_EQ(*p.expires_ms, 0);
}

TEST(PrincipalTest, NegativeOrNonNumericLimitsMeanNoLimit) {
  Record r;
  r.data = {{"rpm_limit", -5}, {"tpm_limit", "100"}, {"max_budget", nullptr}};
  const EntityLimits l = limits_of(r);
  EXPECT_EQ(l.rpm, kUnlimited);
  EXPECT_EQ(l.tpm, kUnlimited);
  EXPECT_LT(l.max_budget, 0);
}

}  // namespace
}  // namespace tollgate::auth
