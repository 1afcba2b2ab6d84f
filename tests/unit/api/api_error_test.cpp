#include "tollgate/api/api_error.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace tollgate::api {
namespace {

TEST(ApiErrorTest, StatusAndTypeFollowTheCompatTable) {
  struct Case {
    Errc errc;
    unsigned status;
    const char* type;
  };
  for (const Case& c : {Case{Errc::kUnauthorized, 401, "auth_error"}, Case{Errc::kInvalidJson, 400, "invalid_request_error"},
                        Case{Errc::kUnknownModel, 400, "invalid_request_error"},
                        Case{Errc::kBodyTooLarge, 413, "invalid_request_error"},
                        Case{Errc::kUpstreamTimeout, 408, "timeout_error"},
                        Case{Errc::kUpstreamConnect, 502, "api_connection_error"},
                        Case{Errc::kNotFound, 404, "not_found_error"}, Case{Errc::kInternal, 500, "internal_server_error"}}) {
    ApiError e = make_error(c.errc, "m");
    EXPECT_EQ(e.status, c.status);
    EXPECT_EQ(e.type, c.type);
    EXPECT_EQ(e.code, std::to_string(c.status)) << "code is the status as a string";
  }
}

TEST(ApiErrorTest, JsonHasOpenAiShapeWithStringCodeAndNullParam) {
  auto j = nlohmann::json::parse(error_json(make_error(Errc::kUnauthorized, "bad key")));
  EXPECT_EQ(j["error"]["message"], "bad key");
  EXPECT_EQ(j["error"]["type"], "auth_error");
  EXPECT_TRUE(j["error"]["param"].is_null());
  EXPECT_EQ(j["error"]["code"], "401");
  EXPECT_EQ(nlohmann::json::parse(error_json(make_error(Errc::kUnknownModel, "x", "model")))["error"]["param"], "model");
}

TEST(ApiErrorTest, InvalidUtf8InAMessageDoesNotThrow) {
  EXPECT_NO_THROW(error_json(make_error(Errc::kUpstreamStatus, std::string("bad \xFF byte"))));
}

}  // namespace
}  // namespace tollgate::api
