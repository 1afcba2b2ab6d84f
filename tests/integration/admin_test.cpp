// The admin API and its enforcement on LLM requests, end to end through the gateway, against
// SQLite and against a real PostgreSQL (same suite, parametrised).
#include <map>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "gateway_fixture.hpp"
#include <fstream>

#include "support/eventually.hpp"
#include "support/gateway_process.hpp"
#include "support/postgres_server.hpp"
#include "support/redis_server.hpp"
#include "support/temp_dir.hpp"
#include "support/build_paths.hpp"

namespace tollgate::testing {
namespace {

using Json = nlohmann::json;

// One PostgreSQL for the whole binary; each test gets a fresh database in it.
PostgresServer& postgres() {
  static PostgresServer server;
  return server;
}

// 2^-7 per output token and answers of exactly 2 tokens: every request costs 2^-6, in binary
// exactly, so budgets in whole multiples of it are exact.
constexpr double kOutputCost = 0.0078125;
constexpr double kRequestCost = 2 * kOutputCost;

// `database`: where the store is (a postgresql:// URL, or a SQLite path); empty: a fresh one.
std::string config_for(const std::string& backend, const std::string& batch_seconds = "1",
                       const std::string& database = "") {
  ConfigExtras extras;
  extras.models =
      "  - model_name: cheap\n"
      "    litellm_params: {model: openai/cheap, mock_response: \"abcdefgh\", input_cost_per_token: 0, "
      "output_cost_per_token: 0.0078125}\n"
      "    model_info: {id: cheap-1, access_groups: [\"beta\"]}\n"
      "  - model_name: other\n"
      "    litellm_params: {model: openai/other, mock_response: \"hello\"}\n";
  extras.general = ", proxy_batch_write_at: " + batch_seconds;
  if (backend == "postgres") {
    extras.general += ", database_url: \"" + (database.empty() ? postgres().create_database() : database) + "\"";
  } else if (!database.empty()) {
    extras.tollgate = ", database_path: \"" + database + "\"";
  }
  return fake_config("http://127.0.0.1:9", extras);
}

Headers bearer(const std::string& key) { return {{"authorization", "Bearer " + key}}; }

std::string chat(const std::string& model, int max_tokens = 2) {
  return Json{{"model", model}, {"max_tokens", max_tokens}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}}.dump();
}

class AdminTest : public ::testing::TestWithParam<std::string> {
 protected:
  AdminTest() : gw_(config_for(GetParam()), {}, {.clock = &clock_}) {}

  Json admin(const std::string& path, const Json& body, unsigned expect = 200) {
    HttpResponse r = gw_.post(path, body.dump());
    EXPECT_EQ(r.status, expect) << path << " " << r.body;
    return Json::parse(r.body, nullptr, false);
  }
  Json admin_get(const std::string& path, unsigned expect = 200, Headers h = auth_headers()) {
    HttpResponse r = gw_.get(path, std::move(h));
    EXPECT_EQ(r.status, expect) << path << " " << r.body;
    return Json::parse(r.body, nullptr, false);
  }
  std::string new_key(const Json& fields) { return admin("/key/generate", fields)["key"].get<std::string>(); }

  ManualClock clock_;  // the gateway's time: tests move it past expiries and budget windows
  Gateway gw_;
};

TEST_P(AdminTest, KeyLifecycleGenerateUseUpdateBlockDelete) {
  const Json created = admin("/key/generate", {{"key_alias", "ci"}, {"models", {"cheap"}}, {"metadata", {{"team", "x"}}}});
  const std::string key = created["key"];
  EXPECT_TRUE(key.starts_with("sk-"));
  EXPECT_EQ(created["token"].get<std::string>().size(), 64u);
  EXPECT_EQ(created["key_name"], "sk-..." + key.substr(key.size() - 4));
  EXPECT_EQ(created["key_alias"], "ci");
  EXPECT_TRUE(created["expires"].is_null());

  HttpResponse ok = gw_.post("/v1/chat/completions", chat("cheap"), bearer(key));
  ASSERT_EQ(ok.status, 200u) << ok.body;
  EXPECT_EQ(ok.header("x-litellm-response-cost"), "0.015625");

  const Json info = admin_get("/key/info?key=" + key);
  EXPECT_EQ(info["key"], key);
  EXPECT_EQ(info["info"]["key_alias"], "ci");
  EXPECT_EQ(info["info"]["models"], Json::array({"cheap"}));

  admin("/key/update", {{"key", key}, {"key_alias", "renamed"}, {"max_budget", 10}});
  EXPECT_EQ(admin_get("/key/info?key=" + key)["info"]["max_budget"], 10);

  admin("/key/block", {{"key", key}});
  HttpResponse blocked = gw_.post("/v1/chat/completions", chat("cheap"), bearer(key));
  EXPECT_EQ(blocked.status, 401u);
  EXPECT_NE(blocked.body.find("blocked"), std::string::npos);
  admin("/key/unblock", {{"key", key}});
  EXPECT_EQ(gw_.post("/v1/chat/completions", chat("cheap"), bearer(key)).status, 200u);

  const Json deleted = admin("/key/delete", {{"keys", {key}}});
  EXPECT_EQ(deleted["deleted_keys"], Json::array({key}));
  EXPECT_EQ(gw_.post("/v1/chat/completions", chat("cheap"), bearer(key)).status, 401u);
  admin_get("/key/info?key=" + key, 404);
}

TEST_P(AdminTest, UnknownExpiredAndMissingKeysAreRejected) {
  EXPECT_EQ(gw_.post("/v1/chat/completions", chat("cheap"), bearer("sk-not-a-key")).status, 401u);
  EXPECT_EQ(gw_.post("/v1/chat/completions", chat("cheap"), Headers{}).status, 401u);
  const std::string expiring = new_key({{"duration", "1s"}});
  EXPECT_EQ(gw_.post("/v1/chat/completions", chat("cheap"), bearer(expiring)).status, 200u);
  clock_.advance(std::chrono::milliseconds(1100));
  HttpResponse expired = gw_.post("/v1/chat/completions", chat("cheap"), bearer(expiring));
  EXPECT_EQ(expired.status, 401u);
  EXPECT_NE(expired.body.find("Expired Key"), std::string::npos);
}

TEST_P(AdminTest, ValidationErrorsName400Fields) {
  const Json e = admin("/key/generate", {{"max_budget", "lots"}}, 400);
  EXPECT_EQ(e["error"]["param"], "max_budget");
  EXPECT_EQ(e["error"]["code"], "400");
  EXPECT_EQ(admin("/team/new", {{"rpm_limit", -1}}, 400)["error"]["param"], "rpm_limit");
  EXPECT_EQ(admin("/key/generate", {{"team_id", "no-such-team"}}, 400)["error"]["param"], "team_id");
  const std::string dup = new_key({{"key", "sk-my-own-key-1"}});
  EXPECT_EQ(dup, "sk-my-own-key-1");
  admin("/key/generate", {{"key", "sk-my-own-key-1"}}, 400);
}

TEST_P(AdminTest, ModelAccessByKeyListAccessGroupAndModelsEndpoint) {
  const std::string key = new_key({{"models", {"cheap"}}});
  HttpResponse denied = gw_.post("/v1/chat/completions", chat("other"), bearer(key));
  EXPECT_EQ(denied.status, 401u);
  const Json err = Json::parse(denied.body);
  EXPECT_EQ(err["error"]["type"], "key_model_access_denied");
  EXPECT_EQ(err["error"]["code"], "403");
  EXPECT_EQ(err["error"]["param"], "model");
  EXPECT_NE(err["error"]["message"].get<std::string>().find("key not allowed to access model"), std::string::npos);

  const Json models = admin_get("/v1/models", 200, bearer(key));
  ASSERT_EQ(models["data"].size(), 1u);
  EXPECT_EQ(models["data"][0]["id"], "cheap");

  const std::string grouped = new_key({{"models", {"beta"}}});
  EXPECT_EQ(gw_.post("/v1/chat/completions", chat("cheap"), bearer(grouped)).status, 200u);
  EXPECT_EQ(gw_.post("/v1/chat/completions", chat("other"), bearer(grouped)).status, 401u);

  const std::string aliased = new_key({{"models", {"mine"}}, {"aliases", {{"mine", "cheap"}}}});
  HttpResponse via_alias = gw_.post("/v1/chat/completions", chat("mine"), bearer(aliased));
  EXPECT_EQ(via_alias.status, 200u) << via_alias.body;
  EXPECT_EQ(via_alias.header("x-litellm-model-group"), "cheap");
}

TEST_P(AdminTest, TeamModelsAndTeamBlockApplyToTeamKeys) {
  admin("/team/new", {{"team_id", "t1"}, {"models", {"cheap"}}});
  const std::string key = new_key({{"team_id", "t1"}});
  EXPECT_EQ(gw_.post("/v1/chat/completions", chat("cheap"), bearer(key)).status, 200u);
  HttpResponse denied = gw_.post("/v1/chat/completions", chat("other"), bearer(key));
  EXPECT_EQ(denied.status, 401u);
  EXPECT_EQ(Json::parse(denied.body)["error"]["type"], "team_model_access_denied");
  admin("/team/block", {{"team_id", "t1"}});
  EXPECT_EQ(gw_.post("/v1/chat/completions", chat("cheap"), bearer(key)).status, 401u);
  const Json info = admin_get("/team/info?team_id=t1");
  EXPECT_EQ(info["team_id"], "t1");
  EXPECT_EQ(info["team_info"]["blocked"], true);
  ASSERT_EQ(info["keys"].size(), 1u);
}

TEST_P(AdminTest, AuthorizationMatrix) {
  admin("/team/new", {{"team_id", "eng"}});
  admin("/team/new", {{"team_id", "ops"}});
  const Json alice = admin("/user/new", {{"user_id", "alice"}, {"user_role", "internal_user"}});
  const std::string alice_key = alice["key"];
  const Json viewer = admin("/user/new", {{"user_id", "vic"}, {"user_role", "proxy_admin_viewer"}});
  const std::string viewer_key = viewer["key"];
  admin("/user/new", {{"user_id", "bob"}, {"user_role", "internal_user"}, {"auto_create_key", false}});
  admin("/team/member_add", {{"team_id", "eng"}, {"member", {{"user_id", "bob"}, {"role", "admin"}}}});
  const std::string bob_team_key = new_key({{"user_id", "bob"}, {"team_id", "eng"}});
  const Json admin_user = admin("/user/new", {{"user_id", "root"}, {"user_role", "proxy_admin"}});
  const std::string root_key = admin_user["key"];

  // An internal user mints keys for themselves only, and reads only their own.
  HttpResponse own = gw_.post("/key/generate", Json{{"key_alias", "mine"}}.dump(), bearer(alice_key));
  ASSERT_EQ(own.status, 200u) << own.body;
  EXPECT_EQ(Json::parse(own.body)["user_id"], "alice");
  EXPECT_EQ(gw_.post("/key/generate", Json{{"user_id", "bob"}}.dump(), bearer(alice_key)).status, 403u);
  EXPECT_EQ(gw_.get("/key/info?key=" + bob_team_key, bearer(alice_key)).status, 403u);
  EXPECT_EQ(gw_.post("/team/new", Json{{"team_id", "x"}}.dump(), bearer(alice_key)).status, 403u);
  EXPECT_EQ(gw_.post("/user/new", Json{{"user_id", "y"}}.dump(), bearer(alice_key)).status, 403u);
  EXPECT_EQ(gw_.get("/user/info?user_id=alice", bearer(alice_key)).status, 200u);
  EXPECT_EQ(gw_.get("/user/info?user_id=bob", bearer(alice_key)).status, 403u);
  // An internal user may not raise their own key's budget.
  EXPECT_EQ(gw_.post("/key/update", Json{{"key", alice_key}, {"max_budget", 1000}}.dump(), bearer(alice_key)).status, 403u);

  // A viewer reads everything and changes nothing.
  EXPECT_EQ(gw_.get("/key/info?key=" + bob_team_key, bearer(viewer_key)).status, 200u);
  EXPECT_EQ(gw_.get("/team/list", bearer(viewer_key)).status, 200u);
  EXPECT_EQ(gw_.post("/key/generate", Json::object().dump(), bearer(viewer_key)).status, 403u);
  EXPECT_EQ(gw_.post("/key/delete", Json{{"keys", {bob_team_key}}}.dump(), bearer(viewer_key)).status, 403u);

  // A team admin manages their team's members and keys, not another team's.
  EXPECT_EQ(gw_.post("/team/member_add", Json{{"team_id", "eng"}, {"member", {{"user_id", "alice"}}}}.dump(),
                     bearer(bob_team_key)).status, 200u);
  EXPECT_EQ(gw_.post("/team/member_add", Json{{"team_id", "ops"}, {"member", {{"user_id", "alice"}}}}.dump(),
                     bearer(bob_team_key)).status, 403u);
  EXPECT_EQ(gw_.post("/key/generate", Json{{"team_id", "eng"}}.dump(), bearer(bob_team_key)).status, 200u);
  EXPECT_EQ(gw_.post("/key/generate", Json{{"team_id", "ops"}}.dump(), bearer(bob_team_key)).status, 403u);
  EXPECT_EQ(gw_.post("/team/update", Json{{"team_id", "eng"}, {"max_budget", 5}}.dump(), bearer(bob_team_key)).status, 403u);

  // A key without a user or role may read its own info only.
  const std::string plain = new_key(Json::object());
  EXPECT_EQ(gw_.get("/key/info", bearer(plain)).status, 200u);
  EXPECT_EQ(gw_.get("/key/list", bearer(plain)).status, 403u);
  EXPECT_EQ(gw_.post("/key/generate", Json::object().dump(), bearer(plain)).status, 403u);

  // A proxy_admin user may do what the master key does.
  EXPECT_EQ(gw_.post("/team/new", Json{{"team_id", "made-by-root"}}.dump(), bearer(root_key)).status, 200u);
  EXPECT_EQ(gw_.post("/organization/new", Json{{"organization_alias", "acme"}}.dump(), bearer(root_key)).status, 200u);
}

// Issue 15: a key never carries more rights than its creator. The cast: a team `eng` (models:
// cheap; in organization org-b) with bob as its admin and carol, dave, root, vic as members; a
// team `ops` with dave (an internal_user_viewer) as its admin; alice, an internal user of org-a
// allowed `cheap` only. Each has a key: their team key, or alice's personal one.
struct Cast {
  std::string bob;    // internal_user, admin of eng
  std::string carol;  // internal_user, member of eng (and of ops)
  std::string root;   // proxy_admin, member of eng
  std::string vic;    // proxy_admin_viewer, member of eng
  std::string dave;   // internal_user_viewer, admin of ops
  std::string alice;  // internal_user, no team, org-a, models [cheap]
};

class KeyRightsTest : public AdminTest {
 protected:
  Cast cast() {
    admin("/organization/new", {{"organization_id", "org-a"}});
    admin("/organization/new", {{"organization_id", "org-b"}});
    auto member = [](const char* user, const char* role) { return Json{{"user_id", user}, {"role", role}}; };
    admin("/team/new", {{"team_id", "eng"},
                        {"models", {"cheap"}},
                        {"organization_id", "org-b"},
                        {"members_with_roles", {member("bob", "admin"), member("carol", "user"), member("root", "user"),
                                                member("vic", "user"), member("dave", "user")}}});
    admin("/team/new", {{"team_id", "ops"}, {"members_with_roles", {member("dave", "admin"), member("carol", "user")}}});
    for (const auto& [user, role] : std::vector<std::pair<std::string, std::string>>{
             {"bob", "internal_user"}, {"carol", "internal_user"}, {"root", "proxy_admin"},
             {"vic", "proxy_admin_viewer"}, {"dave", "internal_user_viewer"}}) {
      admin("/user/new", {{"user_id", user}, {"user_role", role}, {"auto_create_key", false}});
    }
    Cast c;
    c.alice = admin("/user/new", {{"user_id", "alice"}, {"user_role", "internal_user"}, {"models", {"cheap"}},
                                  {"organization_id", "org-a"}})["key"].get<std::string>();
    c.bob = new_key({{"user_id", "bob"}, {"team_id", "eng"}});
    c.carol = new_key({{"user_id", "carol"}, {"team_id", "eng"}});
    c.root = new_key({{"user_id", "root"}, {"team_id", "eng"}, {"key_alias", "root-in-eng"}});
    c.vic = new_key({{"user_id", "vic"}, {"team_id", "eng"}});
    c.dave = new_key({{"user_id", "dave"}, {"team_id", "ops"}});
    return c;
  }
  HttpResponse as(const std::string& key, const std::string& path, const Json& body) {
    return gw_.post(path, body.dump(), bearer(key));
  }
  // A LiteLLM-shaped 403 naming `param`, whose message contains `says`.
  static void expect_forbidden(const HttpResponse& r, const std::string& param, const std::string& says = "") {
    ASSERT_EQ(r.status, 403u) << r.body;
    const Json body = r.json();
    ASSERT_TRUE(body.is_object() && body.contains("error")) << r.body;
    const Json& e = body["error"];
    EXPECT_EQ(e.value("type", ""), "permission_error") << r.body;
    EXPECT_EQ(e.value("code", ""), "403") << r.body;
    EXPECT_EQ(e["param"], param) << r.body;
    EXPECT_NE(e.value("message", "").find(says), std::string::npos) << r.body;
  }
};

TEST_P(KeyRightsTest, TeamAdminCannotMintAKeyForAHigherRoleUser) {
  const Cast c = cast();
  // The attack: a key of eng for root would act as proxy_admin (user list, new admins, budgets).
  expect_forbidden(as(c.bob, "/key/generate", {{"team_id", "eng"}, {"user_id", "root"}}), "user_id", "proxy_admin");
  expect_forbidden(as(c.bob, "/key/generate", {{"team_id", "eng"}, {"user_id", "vic"}}), "user_id", "proxy_admin_viewer");
  EXPECT_EQ(admin_get("/key/list?team_id=eng")["total_count"], 4);  // nothing was minted

  // Within their rights: no user, themselves, a member whose role is within theirs.
  EXPECT_EQ(as(c.bob, "/key/generate", {{"team_id", "eng"}}).status, 200u);
  EXPECT_EQ(as(c.bob, "/key/generate", {{"team_id", "eng"}, {"user_id", "bob"}}).status, 200u);
  const HttpResponse for_carol = as(c.bob, "/key/generate", {{"team_id", "eng"}, {"user_id", "carol"}});
  ASSERT_EQ(for_carol.status, 200u) << for_carol.body;
  EXPECT_EQ(gw_.post("/v1/chat/completions", chat("cheap"), bearer(for_carol.json()["key"].get<std::string>())).status, 200u);
  EXPECT_EQ(as(c.bob, "/key/generate", {{"team_id", "eng"}, {"user_id", "dave"}}).status, 200u);

  // Only for members of the team, and only for users that exist (else the key would take the role
  // the user is given later).
  expect_forbidden(as(c.bob, "/key/generate", {{"team_id", "eng"}, {"user_id", "alice"}}), "user_id", "not a member");
  admin("/team/member_add", {{"team_id", "eng"}, {"member", {{"user_id", "ghost"}}}});
  EXPECT_EQ(as(c.bob, "/key/generate", {{"team_id", "eng"}, {"user_id", "ghost"}}).json()["error"]["param"], "user_id");

  // A team admin whose own role is internal_user_viewer cannot mint an internal_user's key.
  expect_forbidden(as(c.dave, "/key/generate", {{"team_id", "ops"}, {"user_id", "carol"}}), "user_id", "internal_user");
  EXPECT_EQ(as(c.dave, "/key/generate", {{"team_id", "ops"}}).status, 200u);

  // The master key and a proxy_admin are above every role.
  EXPECT_EQ(admin("/key/generate", {{"team_id", "eng"}, {"user_id", "root"}})["user_id"], "root");
  const std::string root_personal = new_key({{"user_id", "root"}});
  EXPECT_EQ(as(root_personal, "/key/generate", {{"user_id", "vic"}}).status, 200u);
}

TEST_P(KeyRightsTest, TeamAdminCannotTakeOverOrChangeAHigherRoleUsersKey) {
  const Cast c = cast();
  // Regenerate would hand bob a working key with root's role.
  expect_forbidden(as(c.bob, "/key/regenerate", {{"key", c.root}}), "user_id", "proxy_admin");
  expect_forbidden(as(c.bob, "/key/regenerate", {{"key", c.vic}}), "user_id", "proxy_admin_viewer");
  expect_forbidden(as(c.bob, "/key/update", {{"key", c.root}, {"max_budget", 0}}), "user_id");
  expect_forbidden(as(c.bob, "/key/block", {{"key", c.root}}), "user_id");
  expect_forbidden(as(c.bob, "/key/unblock", {{"key", c.root}}), "user_id");
  expect_forbidden(as(c.bob, "/key/delete", {{"keys", {c.root}}}), "user_id");
  expect_forbidden(as(c.bob, "/key/delete", {{"key_aliases", {"root-in-eng"}}}), "user_id");
  // root's key is untouched and still acts as proxy_admin.
  EXPECT_EQ(gw_.get("/user/list", bearer(c.root)).status, 200u);
  const Json info = admin_get("/key/info?key=" + c.root)["info"];
  EXPECT_FALSE(info.contains("max_budget"));
  EXPECT_NE(info.value("blocked", false), true);

  // Keys of users within bob's role: every action works.
  const HttpResponse fresh = as(c.bob, "/key/regenerate", {{"key", c.carol}});
  ASSERT_EQ(fresh.status, 200u) << fresh.body;
  const std::string carol = fresh.json()["key"].get<std::string>();
  EXPECT_EQ(gw_.post("/v1/chat/completions", chat("cheap"), bearer(carol)).status, 200u);
  EXPECT_EQ(as(c.bob, "/key/update", {{"key", carol}, {"max_budget", 5}}).status, 200u);
  EXPECT_EQ(as(c.bob, "/key/block", {{"key", carol}}).status, 200u);
  EXPECT_EQ(as(c.bob, "/key/unblock", {{"key", carol}}).status, 200u);
  EXPECT_EQ(as(c.bob, "/key/delete", {{"keys", {carol}}}).status, 200u);

  // The internal_user_viewer admin of ops may not touch an internal user's key in ops.
  const std::string carol_ops = new_key({{"user_id", "carol"}, {"team_id", "ops"}});
  expect_forbidden(as(c.dave, "/key/regenerate", {{"key", carol_ops}}), "user_id", "internal_user");
}

TEST_P(KeyRightsTest, NoOneButAdminsSetsUserRoles) {
  const Cast c = cast();
  EXPECT_EQ(as(c.bob, "/user/new", {{"user_id", "mallory"}, {"user_role", "proxy_admin"}}).status, 403u);
  EXPECT_EQ(as(c.bob, "/user/update", {{"user_id", "bob"}, {"user_role", "proxy_admin"}}).status, 403u);
  EXPECT_EQ(as(c.alice, "/user/update", {{"user_id", "alice"}, {"user_role", "proxy_admin"}}).status, 403u);
  EXPECT_EQ(as(c.bob, "/team/update", {{"team_id", "eng"}, {"members_with_roles", Json::array()}}).status, 403u);
  // Team roles are admin or user; nothing a team admin adds makes anyone a proxy_admin.
  EXPECT_EQ(as(c.bob, "/team/member_add", {{"team_id", "eng"}, {"member", {{"user_id", "alice"}, {"role", "proxy_admin"}}}})
                .status,
            400u);
  EXPECT_EQ(admin_get("/user/info?user_id=bob")["user_info"]["user_role"], "internal_user");
}

TEST_P(KeyRightsTest, AliasesMayOnlyTargetGroupsTheKeyAndItsCreatorMayUse) {
  const Cast c = cast();
  // The attack: alice may use `cheap` only; an alias would reach `other` under another name.
  expect_forbidden(as(c.alice, "/key/generate", {{"models", {"mine"}}, {"aliases", {{"mine", "other"}}}}), "aliases",
                   "'other'");
  expect_forbidden(as(c.alice, "/key/generate", {{"aliases", {{"mine", "other"}}}}), "aliases", "'other'");
  // A key's own models may name the alias rather than its target.
  const HttpResponse named = as(c.alice, "/key/generate", {{"models", {"mine"}}, {"aliases", {{"mine", "cheap"}}}});
  ASSERT_EQ(named.status, 200u) << named.body;
  EXPECT_EQ(gw_.post("/v1/chat/completions", chat("mine"), bearer(named.json()["key"].get<std::string>())).status, 200u);
  const HttpResponse ok = as(c.alice, "/key/generate", {{"aliases", {{"mine", "cheap"}}}});
  ASSERT_EQ(ok.status, 200u) << ok.body;
  HttpResponse via_alias = gw_.post("/v1/chat/completions", chat("mine"), bearer(ok.json()["key"].get<std::string>()));
  EXPECT_EQ(via_alias.status, 200u) << via_alias.body;
  EXPECT_EQ(via_alias.header("x-litellm-model-group"), "cheap");

  // A team admin's team keys: the team allows `cheap` only.
  expect_forbidden(as(c.bob, "/key/generate", {{"team_id", "eng"}, {"aliases", {{"x", "other"}}}}), "aliases", "'other'");
  expect_forbidden(as(c.bob, "/key/update", {{"key", c.carol}, {"aliases", {{"x", "other"}}}}), "aliases", "'other'");
  EXPECT_EQ(as(c.bob, "/key/update", {{"key", c.carol}, {"aliases", {{"x", "cheap"}}}}).status, 200u);
  EXPECT_EQ(as(c.bob, "/key/generate", {{"team_id", "eng"}, {"aliases", {{"y", "cheap"}}}}).status, 200u);

  // The key's own models bound its aliases too (ops allows every group).
  expect_forbidden(as(c.dave, "/key/generate", {{"team_id", "ops"}, {"models", {"cheap"}}, {"aliases", {{"x", "other"}}}}),
                   "aliases", "which this key may not use");
  EXPECT_EQ(as(c.dave, "/key/generate", {{"team_id", "ops"}, {"models", {"x"}}, {"aliases", {{"x", "other"}}}}).status,
            200u);

  // Team model_aliases reach every member's key: only groups in the team's models.
  expect_forbidden(as(c.bob, "/team/update", {{"team_id", "eng"}, {"model_aliases", {{"fast", "other"}}}}),
                   "model_aliases", "'other'");
  EXPECT_FALSE(admin_get("/team/info?team_id=eng")["team_info"].contains("model_aliases"));
  EXPECT_EQ(as(c.bob, "/team/update", {{"team_id", "eng"}, {"model_aliases", {{"fast", "cheap"}}}}).status, 200u);
  // Through an access group: a team allowed `beta` may alias to its member group `cheap`.
  admin("/team/update", {{"team_id", "ops"}, {"models", {"beta"}}});
  EXPECT_EQ(as(c.dave, "/team/update", {{"team_id", "ops"}, {"model_aliases", {{"fast", "cheap"}}}}).status, 200u);
  expect_forbidden(as(c.dave, "/team/update", {{"team_id", "ops"}, {"model_aliases", {{"fast", "gpt-fake"}}}}),
                   "model_aliases", "'gpt-fake'");

  // A proxy admin decides for themselves.
  EXPECT_EQ(admin("/team/update", {{"team_id", "eng"}, {"model_aliases", {{"fast", "other"}}}})["model_aliases"]["fast"],
            "other");
}

TEST_P(KeyRightsTest, OrganizationIdOnlyOfAnOrganizationTheCallerBelongsTo) {
  const Cast c = cast();
  // The attack: alice (org-a) charges org-b.
  expect_forbidden(as(c.alice, "/key/generate", {{"organization_id", "org-b"}}), "organization_id", "org-b");
  EXPECT_EQ(admin_get("/key/list?organization_id=org-b")["total_count"], 0);
  // Her own organization, by her user.
  EXPECT_EQ(as(c.alice, "/key/generate", {{"organization_id", "org-a"}}).status, 200u);
  // Carol belongs to org-b through her team eng, not to org-a.
  EXPECT_EQ(as(c.carol, "/key/generate", {{"team_id", "eng"}, {"organization_id", "org-b"}}).status, 200u);
  expect_forbidden(as(c.carol, "/key/generate", {{"organization_id", "org-a"}}), "organization_id", "org-a");
  // A team admin changing a team key's organization.
  expect_forbidden(as(c.bob, "/key/update", {{"key", c.carol}, {"organization_id", "org-a"}}), "organization_id");
  EXPECT_EQ(as(c.bob, "/key/update", {{"key", c.carol}, {"organization_id", "org-b"}}).status, 200u);
  EXPECT_EQ(as(c.bob, "/team/update", {{"team_id", "eng"}, {"organization_id", "org-a"}}).status, 403u);
  // Admins may charge any organization.
  EXPECT_EQ(admin("/key/generate", {{"organization_id", "org-b"}, {"user_id", "alice"}})["organization_id"], "org-b");
}

TEST_P(AdminTest, EveryEntityHasNewInfoUpdateListDelete) {
  const Json org = admin("/organization/new", {{"organization_alias", "acme"}, {"max_budget", 100}});
  const std::string org_id = org["organization_id"];
  EXPECT_EQ(admin_get("/organization/info?organization_id=" + org_id)["organization_alias"], "acme");
  admin("/organization/update", {{"organization_id", org_id}, {"organization_alias", "acme2"}});
  EXPECT_EQ(admin_get("/organization/list").size(), 1u);

  const Json budget = admin("/budget/new", {{"budget_id", "small"}, {"max_budget", kRequestCost}});
  EXPECT_EQ(budget["budget_id"], "small");
  admin("/customer/new", {{"user_id", "cust-1"}, {"budget_id", "small"}});
  admin("/end_user/new", {{"user_id", "cust-2"}, {"max_budget", 5}});
  EXPECT_EQ(admin_get("/customer/list").size(), 2u);
  EXPECT_EQ(admin_get("/end_user/info?end_user_id=cust-2")["max_budget"], 5);

  admin("/team/new", {{"team_id", "t"}, {"team_alias", "T"}, {"members_with_roles", {{{"user_id", "u1"}, {"role", "admin"}}}}});
  admin("/user/new", {{"user_id", "u1"}, {"auto_create_key", false}});
  const Json user = admin_get("/user/info?user_id=u1");
  ASSERT_EQ(user["teams"].size(), 1u);
  EXPECT_EQ(user["teams"][0]["role"], "admin");
  admin("/team/member_delete", {{"team_id", "t"}, {"user_id", "u1"}});
  EXPECT_EQ(admin_get("/user/info?user_id=u1")["teams"].size(), 0u);
  EXPECT_EQ(admin_get("/user/list")["users"].size(), 1u);

  admin("/team/delete", {{"team_ids", {"t"}}});
  admin_get("/team/info?team_id=t", 404);
  admin("/organization/delete", {{"organization_ids", {org_id}}});
  admin("/customer/delete", {{"user_ids", {"cust-1", "cust-2"}}});
  admin("/budget/delete", {{"budget_ids", {"small"}}});
  admin("/user/delete", {{"user_ids", {"u1"}}});
  EXPECT_EQ(admin_get("/customer/list").size(), 0u);
  admin("/team/delete", {{"team_ids", {"t"}}}, 404);
}

// Sends `n` requests at once (from `n` threads) and counts the statuses.
std::map<unsigned, int> burst(const Gateway& gw, int n, const std::string& body, const Headers& h) {
  std::vector<std::thread> threads;
  std::mutex mu;
  std::map<unsigned, int> counts;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&] {
      const unsigned status = gw.post("/v1/chat/completions", body, h).status;
      std::lock_guard lock(mu);
      ++counts[status];
    });
  }
  for (auto& t : threads) t.join();
  return counts;
}

TEST_P(AdminTest, ConcurrentRequestsCannotOvershootAKeyBudget) {
  // A budget for exactly 50 requests; reservations equal the real cost, so exactly 50 pass.
  const std::string key = new_key({{"max_budget", 50 * kRequestCost}});
  auto counts = burst(gw_, 200, chat("cheap"), bearer(key));
  EXPECT_EQ(counts[200], 50);
  EXPECT_EQ(counts[400], 150);
  HttpResponse over = gw_.post("/v1/chat/completions", chat("cheap"), bearer(key));
  EXPECT_EQ(over.status, 400u);
  const Json err = Json::parse(over.body)["error"];
  EXPECT_EQ(err["type"], "budget_exceeded");
  EXPECT_TRUE(err["message"].get<std::string>().starts_with("Budget has been exceeded! Current cost: 0.78125, Max budget: 0.78125"))
      << err["message"];
  // The spend reaches the database in the next batch write.
  ASSERT_TRUE(eventually([&] { return admin_get("/key/info?key=" + key)["info"]["spend"] == 50 * kRequestCost; },
                         std::chrono::seconds(5)));
}

TEST_P(AdminTest, RpmLimitAdmitsExactlyTheLimitWithRetryAfter) {
  const std::string key = new_key({{"rpm_limit", 10}});
  auto counts = burst(gw_, 30, chat("cheap"), bearer(key));
  EXPECT_EQ(counts[200], 10);
  EXPECT_EQ(counts[429], 20);
  HttpResponse limited = gw_.post("/v1/chat/completions", chat("cheap"), bearer(key));
  EXPECT_EQ(limited.status, 429u);
  EXPECT_FALSE(limited.header("retry-after").empty());
  const std::string metrics = gw_.get("/metrics", {}).body;
  EXPECT_NE(metrics.find("tollgate_control_rejections_total{reason=\"rate_limit\"} 21"), std::string::npos);
}

TEST_P(AdminTest, RateLimitHeadersAndKeySpendAreReported) {
  const std::string key = new_key({{"rpm_limit", 100}, {"tpm_limit", 100000}, {"max_budget", 1}});
  HttpResponse r = gw_.post("/v1/chat/completions", chat("cheap"), bearer(key));
  ASSERT_EQ(r.status, 200u);
  EXPECT_EQ(r.header("x-ratelimit-limit-requests"), "100");
  EXPECT_EQ(r.header("x-ratelimit-remaining-requests"), "99");
  EXPECT_EQ(r.header("x-ratelimit-limit-tokens"), "100000");
  EXPECT_EQ(r.header("x-litellm-key-spend"), "0");  // the spend before this request
  HttpResponse second = gw_.post("/v1/chat/completions", chat("cheap"), bearer(key));
  EXPECT_EQ(second.header("x-litellm-key-spend"), "0.015625");
  EXPECT_EQ(second.header("x-ratelimit-remaining-requests"), "98");
}

TEST_P(AdminTest, TeamAndEndUserBudgetsApply) {
  admin("/team/new", {{"team_id", "t"}, {"max_budget", 2 * kRequestCost}});
  const std::string a = new_key({{"team_id", "t"}});
  const std::string b = new_key({{"team_id", "t"}});
  EXPECT_EQ(gw_.post("/v1/chat/completions", chat("cheap"), bearer(a)).status, 200u);
  EXPECT_EQ(gw_.post("/v1/chat/completions", chat("cheap"), bearer(b)).status, 200u);
  EXPECT_EQ(gw_.post("/v1/chat/completions", chat("cheap"), bearer(a)).status, 400u);  // the team's budget is spent

  admin("/customer/new", {{"user_id", "c1"}, {"max_budget", kRequestCost}});
  const std::string k = new_key(Json::object());
  const std::string as_customer =
      Json{{"model", "cheap"}, {"max_tokens", 2}, {"user", "c1"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}}.dump();
  EXPECT_EQ(gw_.post("/v1/chat/completions", as_customer, bearer(k)).status, 200u);
  EXPECT_EQ(gw_.post("/v1/chat/completions", as_customer, bearer(k)).status, 400u);
  EXPECT_EQ(gw_.post("/v1/chat/completions", chat("cheap"), bearer(k)).status, 200u);  // without the end user
}

TEST_P(AdminTest, PerModelLimitsOfAKeyApplyToThatModelOnly) {
  const std::string key = new_key({{"model_rpm_limit", {{"cheap", 1}}}, {"model_max_budget", {{"other", 0}}}});
  EXPECT_EQ(gw_.post("/v1/chat/completions", chat("cheap"), bearer(key)).status, 200u);
  EXPECT_EQ(gw_.post("/v1/chat/completions", chat("cheap"), bearer(key)).status, 429u);  // cheap: 1 per minute
  EXPECT_EQ(gw_.post("/v1/chat/completions", chat("other"), bearer(key)).status, 400u);  // other: no budget at all
  const std::string spent = new_key({{"model_max_budget", {{"cheap", kRequestCost}}}});
  EXPECT_EQ(gw_.post("/v1/chat/completions", chat("cheap"), bearer(spent)).status, 200u);
  EXPECT_EQ(gw_.post("/v1/chat/completions", chat("cheap"), bearer(spent)).status, 400u);
  EXPECT_EQ(gw_.post("/v1/chat/completions", chat("other"), bearer(spent)).status, 200u);
  // The per-model spend reaches the key's info.
  ASSERT_TRUE(eventually([&] {
    return admin_get("/key/info?key=" + spent)["info"]["model_spend"].value("cheap", 0.0) == kRequestCost;
  }, std::chrono::seconds(5)));
}

TEST_P(AdminTest, UserAndOrganizationLimitsCoverAllTheirKeys) {
  admin("/user/new", {{"user_id", "u"}, {"rpm_limit", 2}, {"auto_create_key", false}});
  const std::string k1 = new_key({{"user_id", "u"}});
  const std::string k2 = new_key({{"user_id", "u"}});
  EXPECT_EQ(gw_.post("/v1/chat/completions", chat("cheap"), bearer(k1)).status, 200u);
  EXPECT_EQ(gw_.post("/v1/chat/completions", chat("cheap"), bearer(k2)).status, 200u);
  EXPECT_EQ(gw_.post("/v1/chat/completions", chat("cheap"), bearer(k1)).status, 429u);  // the user's 2 per minute

  const Json org = admin("/organization/new", {{"max_budget", kRequestCost}});
  admin("/team/new", {{"team_id", "in-org"}, {"organization_id", org["organization_id"]}});
  const std::string team_key = new_key({{"team_id", "in-org"}});
  EXPECT_EQ(gw_.post("/v1/chat/completions", chat("cheap"), bearer(team_key)).status, 200u);
  HttpResponse over = gw_.post("/v1/chat/completions", chat("cheap"), bearer(team_key));
  EXPECT_EQ(over.status, 400u);
  EXPECT_NE(over.body.find("org budget"), std::string::npos) << over.body;
}

TEST_P(AdminTest, SoftBudgetAlertsOnceAndNeverRefuses) {
  const std::string key = new_key({{"soft_budget", kRequestCost}, {"max_budget", 100 * kRequestCost}});
  for (int i = 0; i < 4; ++i) EXPECT_EQ(gw_.post("/v1/chat/completions", chat("cheap"), bearer(key)).status, 200u);
  // From the second request on the key's spend is at the soft budget: one alert for the window.
  const std::string metrics = gw_.get("/metrics", {}).body;
  EXPECT_NE(metrics.find("tollgate_soft_budget_alerts_total{entity=\"key\"} 1"), std::string::npos);
}

TEST_P(AdminTest, QueuedSpendIsWrittenAtShutdown) {
  // A batch interval far longer than the test: only the shutdown write can store the spend.
  TempDir dir("tollgate-spend");
  const std::string database = GetParam() == "postgres" ? postgres().create_database() : dir.file("spend.db");
  std::string key;
  {
    Gateway gw(config_for(GetParam(), "3600", database));
    HttpResponse made = gw.post("/key/generate", "{}");
    ASSERT_EQ(made.status, 200u);
    key = Json::parse(made.body)["key"];
    for (int i = 0; i < 3; ++i) ASSERT_EQ(gw.post("/v1/chat/completions", chat("cheap"), bearer(key)).status, 200u);
  }
  Gateway again(config_for(GetParam(), "3600", database));
  HttpResponse info = again.get("/key/info?key=" + key);
  ASSERT_EQ(info.status, 200u) << info.body;
  EXPECT_EQ(Json::parse(info.body)["info"]["spend"], 3 * kRequestCost);
}

TEST_P(AdminTest, BudgetWindowResetsSpend) {
  const std::string key = new_key({{"max_budget", kRequestCost}, {"budget_duration", "2s"}});
  EXPECT_EQ(gw_.post("/v1/chat/completions", chat("cheap"), bearer(key)).status, 200u);
  EXPECT_EQ(gw_.post("/v1/chat/completions", chat("cheap"), bearer(key)).status, 400u);
  clock_.advance(std::chrono::milliseconds(2100));
  EXPECT_EQ(gw_.post("/v1/chat/completions", chat("cheap"), bearer(key)).status, 200u);  // a new window
}

// Stopping the database is a PostgreSQL matter (SQLite is a file in the process).
class PostgresAdminTest : public AdminTest {};

TEST_P(PostgresAdminTest, DatabaseOutageKeepsKnownKeysWorkingAndLosesNoSpend) {
  const std::string key = new_key({{"max_budget", 100}});
  ASSERT_EQ(gw_.post("/v1/chat/completions", chat("cheap"), bearer(key)).status, 200u);  // now cached
  postgres().stop();
  // Known key: served from the cache, spend queued. Unknown key: a clear 503. Admin: 503.
  for (int i = 0; i < 20; ++i) ASSERT_EQ(gw_.post("/v1/chat/completions", chat("cheap"), bearer(key)).status, 200u);
  HttpResponse unknown = gw_.post("/v1/chat/completions", chat("cheap"), bearer("sk-never-seen-before"));
  EXPECT_EQ(unknown.status, 503u);
  EXPECT_EQ(Json::parse(unknown.body)["error"]["type"], "service_unavailable");
  EXPECT_EQ(gw_.post("/key/generate", "{}").status, 503u);
  EXPECT_TRUE(eventually([&] { return admin_get("/health/readiness", 200, {})["db"] == "disconnected"; },
                         std::chrono::seconds(5)));
  postgres().start();
  // Back without a restart: new keys work, and the spend made during the outage is written.
  ASSERT_TRUE(eventually([&] { return gw_.post("/key/generate", "{}").status == 200; }, std::chrono::seconds(10)));
  ASSERT_TRUE(eventually([&] { return admin_get("/key/info?key=" + key)["info"]["spend"] == 21 * kRequestCost; },
                         std::chrono::seconds(10)));
}

TEST_P(PostgresAdminTest, DatabaseDownAtStartIsNotFatalAndRecoversWithoutRestart) {
  const std::string url = postgres().create_database();
  postgres().stop();
  ConfigExtras extras;
  extras.general = ", database_url: \"" + url + "\"";
  Gateway late(fake_config("http://127.0.0.1:9", extras));  // starts although migrations cannot run yet
  EXPECT_EQ(late.post("/v1/chat/completions", chat("gpt-fake"), bearer("sk-unknown-yet")).status, 503u);
  EXPECT_EQ(late.post("/key/generate", "{}").status, 503u);
  postgres().start();
  // The first successful connection migrates; keys work from then on, no restart.
  std::string key;
  ASSERT_TRUE(eventually([&] {
    HttpResponse r = late.post("/key/generate", "{}");
    if (r.status == 200) key = Json::parse(r.body)["key"];
    return r.status == 200;
  }, std::chrono::seconds(10)));
  EXPECT_EQ(late.get("/v1/models", bearer(key)).status, 200u);
}

INSTANTIATE_TEST_SUITE_P(Postgres, PostgresAdminTest, ::testing::Values("postgres"),
                         [](const auto& p) { return p.param; });
INSTANTIATE_TEST_SUITE_P(Stores, AdminTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& p) { return p.param; });
INSTANTIATE_TEST_SUITE_P(Stores, KeyRightsTest, ::testing::Values("sqlite", "postgres"),
                         [](const auto& p) { return p.param; });

// Two gateway processes (the real binary) sharing PostgreSQL and Redis: limits and budgets hold
// across both, and a key revoked on one is refused by the other.
class TwoReplicasTest : public ::testing::Test {
 protected:
  TwoReplicasTest() {
    fake_.start();
    const std::string path = dir_.file("config.yaml");
    std::ofstream(path) << "model_list:\n"
                        << "  - model_name: cheap\n"
                        << "    litellm_params: {model: openai/cheap, mock_response: \"abcdefgh\", input_cost_per_token: 0, "
                           "output_cost_per_token: 0.0078125}\n"
                        << "  - model_name: slow\n"
                        << "    litellm_params: {model: openai/slow, api_key: k, api_base: \""
                        << fake_deployment_base(fake_.port(), "slow", "delay_headers_ms=400") << "\"}\n"
                        << "router_settings: {redis_host: 127.0.0.1, redis_port: " << redis_.port() << "}\n"
                        << "general_settings: {master_key: " << kMasterKey << ", proxy_batch_write_at: 1, database_url: \""
                        << postgres().create_database() << "\"}\n"
                        << "tollgate_settings: {access_log: \"off\", log_level: warn}\n";
    one_ = std::make_unique<GatewayProcess>(TOLLGATE_BINARY, path, dir_.file("one.log"));
    two_ = std::make_unique<GatewayProcess>(TOLLGATE_BINARY, path, dir_.file("two.log"));
  }
  std::string new_key(const Json& fields) {
    HttpResponse r = http_request(one_->port(), "POST", "/key/generate", fields.dump(), auth_headers());
    EXPECT_EQ(r.status, 200u) << r.body;
    return Json::parse(r.body)["key"];
  }
  // `n` requests at once, alternating between the replicas.
  std::map<unsigned, int> burst(int n, const std::string& key, const std::string& model = "cheap") {
    std::vector<std::thread> threads;
    std::mutex mu;
    std::map<unsigned, int> counts;
    for (int i = 0; i < n; ++i) {
      const std::uint16_t port = i % 2 == 0 ? one_->port() : two_->port();
      threads.emplace_back([&, port] {
        const unsigned status = http_request(port, "POST", "/v1/chat/completions", chat(model), bearer(key)).status;
        std::lock_guard lock(mu);
        ++counts[status];
      });
    }
    for (auto& t : threads) t.join();
    return counts;
  }

  TempDir dir_;
  RedisServer redis_;
  FakeProvider fake_;
  std::unique_ptr<GatewayProcess> one_;
  std::unique_ptr<GatewayProcess> two_;
};

TEST_F(TwoReplicasTest, BudgetHoldsAcrossReplicas) {
  const std::string key = new_key({{"max_budget", 50 * kRequestCost}});
  auto counts = burst(200, key);
  EXPECT_EQ(counts[200], 50);
  EXPECT_EQ(counts[400], 150);
}

TEST_F(TwoReplicasTest, RpmAndParallelLimitsHoldAcrossReplicas) {
  const std::string key = new_key({{"rpm_limit", 20}});
  auto counts = burst(60, key);
  EXPECT_EQ(counts[200], 20);
  EXPECT_EQ(counts[429], 40);

  // 30 requests that each take 400 ms upstream, started together: 5 slots in all.
  const std::string parallel = new_key({{"max_parallel_requests", 5}});
  counts = burst(30, parallel, "slow");
  EXPECT_EQ(counts[200], 5);
  EXPECT_EQ(counts[429], 25);
  // Slots come back when the requests end.
  EXPECT_EQ(http_request(one_->port(), "POST", "/v1/chat/completions", chat("slow"), bearer(parallel)).status, 200u);
}

TEST_F(TwoReplicasTest, KeyRevokedOnOneReplicaIsRefusedByTheOtherWithinASecond) {
  const std::string key = new_key(Json::object());
  ASSERT_EQ(http_request(two_->port(), "POST", "/v1/chat/completions", chat("cheap"), bearer(key)).status, 200u);
  HttpResponse del = http_request(one_->port(), "POST", "/key/delete", Json{{"keys", {key}}}.dump(), auth_headers());
  ASSERT_EQ(del.status, 200u) << del.body;
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(eventually(
      [&] { return http_request(two_->port(), "POST", "/v1/chat/completions", chat("cheap"), bearer(key)).status == 401; },
      std::chrono::seconds(5)));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
}

}  // namespace
}  // namespace tollgate::testing
