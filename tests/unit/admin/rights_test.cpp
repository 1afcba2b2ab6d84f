#include "admin/rights.hpp"

#include <gtest/gtest.h>

namespace tollgate::admin {
namespace {

using R = auth::UserRole;

TEST(RoleOrderTest, ProxyAdminIsAboveEveryRoleAndOnlyItselfIsAboveIt) {
  for (R r : {R::kNone, R::kInternalUserViewer, R::kInternalUser, R::kProxyAdminViewer, R::kProxyAdmin}) {
    EXPECT_TRUE(role_within(r, R::kProxyAdmin)) << role_name(r);
    EXPECT_TRUE(role_within(r, r)) << role_name(r);
    EXPECT_TRUE(role_within(R::kNone, r)) << role_name(r);
    if (r != R::kProxyAdmin) {
      EXPECT_FALSE(role_within(R::kProxyAdmin, r)) << role_name(r);
    }
  }
}

TEST(RoleOrderTest, ViewerOfAllAndInternalUserAreNotComparable) {
  EXPECT_FALSE(role_within(R::kProxyAdminViewer, R::kInternalUser));  // a viewer key reads everything
  EXPECT_FALSE(role_within(R::kInternalUser, R::kProxyAdminViewer));  // an internal user mints keys
  EXPECT_TRUE(role_within(R::kInternalUserViewer, R::kInternalUser));
  EXPECT_TRUE(role_within(R::kInternalUserViewer, R::kProxyAdminViewer));
  EXPECT_FALSE(role_within(R::kInternalUser, R::kInternalUserViewer));
  EXPECT_FALSE(role_within(R::kInternalUserViewer, R::kNone));
}

TEST(RoleOrderTest, RolesHaveLiteLLMNames) {
  for (R r : {R::kInternalUserViewer, R::kInternalUser, R::kProxyAdminViewer, R::kProxyAdmin}) {
    EXPECT_EQ(auth::parse_user_role(role_name(r)), r);
  }
  EXPECT_EQ(role_name(R::kNone), "none");
}

}  // namespace
}  // namespace tollgate::admin
