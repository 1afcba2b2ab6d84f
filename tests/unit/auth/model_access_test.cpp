#include "tollgate/auth/model_access.hpp"

#include <gtest/gtest.h>

namespace tollgate::auth {
namespace {

config::Config catalog_config() {
  config::Config c;
  config::Deployment a;
  a.model_name = "gpt-4o";
  a.access_groups = {"beta"};
  config::Deployment b;
  b.model_name = "claude";
  c.model_list = {a, b};
  return c;
}

Principal key_with(std::vector<std::string> models) {
  Principal p;
  p.token = "t";
  p.key.models = std::move(models);
  return p;
}

TEST(ModelAccessTest, EmptyListAllowsEverythingAndEntriesMatchByNameWildcardAndGroup) {
  const ModelCatalog catalog(catalog_config());
  EXPECT_TRUE(check_model_access(key_with({}), "anything", catalog).allowed);
  EXPECT_TRUE(check_model_access(key_with({"gpt-4o"}), "gpt-4o", catalog).allowed);
  EXPECT_FALSE(check_model_access(key_with({"gpt-4o"}), "claude", catalog).allowed);
  EXPECT_TRUE(check_model_access(key_with({"openai/*"}), "openai/gpt-4.1", catalog).allowed);
  EXPECT_FALSE(check_model_access(key_with({"openai/*"}), "anthropic/x", catalog).allowed);
  EXPECT_TRUE(check_model_access(key_with({"beta"}), "gpt-4o", catalog).allowed);  // access group
  EXPECT_FALSE(check_model_access(key_with({"beta"}), "claude", catalog).allowed);
  EXPECT_TRUE(check_model_access(key_with({"all-proxy-models"}), "claude", catalog).allowed);
}

TEST(ModelAccessTest, TeamListAppliesToo_AndAllTeamModelsDefersToIt) {
  const ModelCatalog catalog(catalog_config());
  Principal p = key_with({"gpt-4o", "claude"});
  p.team = EntityLimits{.id = "t1", .models = {"gpt-4o"}};
  EXPECT_TRUE(check_model_access(p, "gpt-4o", catalog).allowed);
  const AccessDecision denied = check_model_access(p, "claude", catalog);
  EXPECT_FALSE(denied.allowed);
  EXPECT_TRUE(denied.by_team);

  Principal inherits = key_with({"all-team-models"});
  inherits.team = EntityLimits{.id = "t1", .models = {"claude"}};
  EXPECT_TRUE(check_model_access(inherits, "claude", catalog).allowed);
  EXPECT_FALSE(check_model_access(inherits, "gpt-4o", catalog).allowed);
}

TEST(ModelAccessTest, UserListAppliesOnlyToPersonalKeys) {
  const ModelCatalog catalog(catalog_config());
  Principal personal = key_with({});
  personal.user = EntityLimits{.id = "u1", .models = {"claude"}};
  EXPECT_FALSE(check_model_access(personal, "gpt-4o", catalog).allowed);
  Principal team_key = personal;
  team_key.team = EntityLimits{.id = "t1"};
  EXPECT_TRUE(check_model_access(team_key, "gpt-4o", catalog).allowed);
}

TEST(ModelAccessTest, AliasesMapTheNameAndEitherNameMayBeListed) {
  const ModelCatalog catalog(catalog_config());
  Principal p = key_with({"my-model"});
  p.aliases = {{"my-model", "gpt-4o"}};
  const AccessDecision d = check_model_access(p, "my-model", catalog);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.model, "gpt-4o");
  Principal t = key_with({});
  t.team = EntityLimits{.id = "t1", .models = {"claude"}};
  t.team_model_aliases = {{"fast", "claude"}};
  EXPECT_EQ(check_model_access(t, "fast", catalog).model, "claude");
  EXPECT_TRUE(check_model_access(t, "fast", catalog).allowed);
}

TEST(ModelAccessTest, AnAliasNeverReachesPastTheTeamsOrUsersList) {
  const ModelCatalog catalog(catalog_config());
  // A team alias (set by a team admin) to a group the team does not have.
  Principal team_member = key_with({});
  team_member.team = EntityLimits{.id = "t1", .models = {"fast", "claude"}};
  team_member.team_model_aliases = {{"fast", "gpt-4o"}};
  const AccessDecision by_team = check_model_access(team_member, "fast", catalog);
  EXPECT_FALSE(by_team.allowed);
  EXPECT_TRUE(by_team.by_team);
  // A key alias minted by an internal user whose own list lacks the target.
  Principal personal = key_with({"cheap"});
  personal.aliases = {{"cheap", "gpt-4o"}};
  personal.user = EntityLimits{.id = "u1", .models = {"cheap", "claude"}};
  EXPECT_FALSE(check_model_access(personal, "cheap", catalog).allowed);
  personal.user->models.push_back("gpt-4o");
  EXPECT_TRUE(check_model_access(personal, "cheap", catalog).allowed);
}

TEST(ModelAccessTest, MasterKeyIsNeverDenied) {
  const ModelCatalog catalog(catalog_config());
  Principal master;
  master.master = true;
  master.key.models = {"nothing"};
  EXPECT_TRUE(check_model_access(master, "claude", catalog).allowed);
}

}  // namespace
}  // namespace tollgate::auth
