// The router's own rules on error classes: transport failures, the caller's faults, LiteLLM's
// names. Upstream answers are classified by their provider (tests/unit/providers/upstream_failure_test.cpp).
#include "tollgate/router/error_class.hpp"

#include <gtest/gtest.h>

namespace tollgate::router {
namespace {

TEST(ErrorClassTest, TransportFailures) {
  EXPECT_EQ(classify_errc(Errc::kUpstreamTimeout), ErrorClass::kTimeout);
  EXPECT_EQ(classify_errc(Errc::kUpstreamConnect), ErrorClass::kConnection);
  EXPECT_EQ(classify_errc(Errc::kUpstreamProtocol), ErrorClass::kServerError);
}

TEST(ErrorClassTest, CallerFaultsAndNames) {
  EXPECT_TRUE(is_client_fault(ErrorClass::kBadRequest));
  EXPECT_TRUE(is_client_fault(ErrorClass::kContextWindow));
  EXPECT_TRUE(is_client_fault(ErrorClass::kContentPolicy));
  EXPECT_FALSE(is_client_fault(ErrorClass::kRateLimit));
  EXPECT_FALSE(is_client_fault(ErrorClass::kAuthentication));
  EXPECT_EQ(exception_class_name(ErrorClass::kContextWindow), "ContextWindowExceededError");
  EXPECT_EQ(exception_class_name(ErrorClass::kConnection), "APIConnectionError");
}

}  // namespace
}  // namespace tollgate::router
