// The pure stages of the request path: model access, the decide stage, the max_tokens bound.
#include <gtest/gtest.h>

#include "proxy/admission.hpp"
#include "proxy/decide.hpp"

namespace tollgate::proxy {
namespace {

config::Config two_groups() {
  config::Config c;
  for (const char* group : {"alpha", "beta"}) {
    config::Deployment d;
    d.model_name = group;
    d.id = std::string(group) + "-1";
    d.provider = "openai";
    d.model = "unknown-model";
    d.mock_response = "ok";
    d.max_output_tokens = 1000;
    d.max_input_tokens = 8000;
    c.model_list.push_back(d);
  }
  c.router.model_group_alias["a"] = {.model = "alpha"};
  return c;
}

TEST(StagesTest, DecideResolvesTheAllowedNameOrNamesTheModelsThereAre) {
  const config::Config c = two_groups();
  const router::Router router(c);
  auto alpha = decide(router, "alpha", "alpha");
  ASSERT_TRUE(alpha);
  EXPECT_EQ(alpha->name, "alpha");
  EXPECT_EQ(decide(router, "a", "a")->name, "alpha") << "an alias answers as its group";
  auto unknown = decide(router, "gamma", "gamma");
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().status, 400u);
  EXPECT_NE(unknown.error().message.find("model=gamma"), std::string::npos);
  EXPECT_NE(unknown.error().message.find("Available: alpha, beta"), std::string::npos);
}

TEST(StagesTest, AccessRefusesModelsOutsideTheKeysList) {
  const config::Config c = two_groups();
  const auth::ModelCatalog catalog(c);
  auth::Principal open;
  EXPECT_EQ(*check_access(open, "alpha", catalog), "alpha") << "no model list: every model";
  auth::Principal limited;
  limited.token = "t";
  limited.key.models = {"beta"};
  EXPECT_EQ(*check_access(limited, "beta", catalog), "beta");
  auto denied = check_access(limited, "alpha", catalog);
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().status, 401u);
  EXPECT_NE(denied.error().message.find("can only access models=[\"beta\"]"), std::string::npos);
}

TEST(StagesTest, MaxTokensAboveEveryDeploymentsLimitIsRefusedBeforeAdmission) {
  const config::Config c = two_groups();
  const router::Router router(c);
  const spend::PriceBook prices(c);
  const router::Target alpha = *router.resolve("alpha");
  api::RequestFields fields;
  EXPECT_FALSE(check_max_tokens(prices, alpha, fields)) << "no max_tokens, nothing to check";
  fields.max_tokens = 1000;
  EXPECT_FALSE(check_max_tokens(prices, alpha, fields));
  fields.max_tokens = 1001;
  auto too_many = check_max_tokens(prices, alpha, fields);
  ASSERT_TRUE(too_many);
  EXPECT_EQ(too_many->param, "max_tokens");
  EXPECT_NE(too_many->message.find("at most 1000"), std::string::npos);
}

}  // namespace
}  // namespace tollgate::proxy
