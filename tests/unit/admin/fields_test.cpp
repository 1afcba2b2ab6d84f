#include "admin/fields.hpp"

#include <gtest/gtest.h>

#include "tollgate/admin/admin_api.hpp"

namespace tollgate::admin {
namespace {

using Json = nlohmann::json;

api::ApiError error_of(const Json& body) {
  auto r = validate_fields(body, key_fields());
  EXPECT_FALSE(r);
  return r ? api::ApiError{} : r.error();
}

TEST(AdminFieldsTest, EachBadFieldIsA400NamingIt) {
  for (const auto& [field, value] : std::vector<std::pair<std::string, Json>>{
           {"max_budget", -1}, {"max_budget", "10"}, {"rpm_limit", 1.5}, {"tpm_limit", -3},
           {"duration", "forever"}, {"budget_duration", "1y"}, {"models", "gpt-4o"}, {"models", Json::array({1})},
           {"metadata", "x"}, {"blocked", "yes"}, {"key", "pk-123456"}, {"aliases", Json{{"a", 1}}},
           {"model_max_budget", Json{{"m", -1}}}, {"model_rpm_limit", Json{{"m", "x"}}}}) {
    const api::ApiError e = error_of(Json{{field, value}});
    EXPECT_EQ(e.status, 400u) << field;
    EXPECT_EQ(e.param, field) << field << " " << value;
    EXPECT_NE(e.message.find(field), std::string::npos) << e.message;
  }
}

TEST(AdminFieldsTest, ValidFieldsPassAndOwnedNamesAreDropped) {
  const Json body = {{"max_budget", 10.5}, {"rpm_limit", 100}, {"duration", "30d"}, {"models", {"a", "b"}},
                     {"model_max_budget", {{"a", {{"budget_limit", 1}}}}}, {"key_alias", nullptr},
                     {"spend", 1000}, {"token", "x"}, {"send_invite_email", true}};
  auto r = validate_fields(body, key_fields());
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->contains("spend"));
  EXPECT_FALSE(r->contains("token"));
  EXPECT_TRUE(r->contains("send_invite_email"));  // LiteLLM extras are kept
  EXPECT_TRUE((*r)["key_alias"].is_null());
}

TEST(AdminFieldsTest, TeamMembersAndUserRolesAreChecked) {
  EXPECT_TRUE(validate_fields(Json{{"members_with_roles", {{{"user_id", "u"}, {"role", "admin"}}}}}, team_fields()));
  auto bad_role = validate_fields(Json{{"members_with_roles", {{{"user_id", "u"}, {"role", "owner"}}}}}, team_fields());
  ASSERT_FALSE(bad_role);
  EXPECT_EQ(bad_role.error().param, "members_with_roles");
  auto bad_user_role = validate_fields(Json{{"user_role", "root"}}, user_fields());
  ASSERT_FALSE(bad_user_role);
  EXPECT_EQ(bad_user_role.error().param, "user_role");
}

TEST(AdminFieldsTest, BodyMustBeAJsonObject) {
  EXPECT_TRUE(parse_body(""));
  EXPECT_EQ(parse_body("[1]").error().status, 400u);
  EXPECT_EQ(parse_body("{").error().status, 400u);
}

TEST(AdminFieldsTest, QueryParamsArePercentDecoded) {
  EXPECT_EQ(query_param("key=sk-a%2Bb&x=1", "key"), "sk-a+b");
  EXPECT_EQ(query_param("a=1&team_id=my+team", "team_id"), "my team");
  EXPECT_EQ(query_param("a=1", "b"), "");
  EXPECT_EQ(query_param("k=%zz", "k"), "%zz");
}

}  // namespace
}  // namespace tollgate::admin
