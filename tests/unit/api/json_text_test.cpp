#include "tollgate/api/json_text.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace tollgate::api {
namespace {

TEST(AppendJsonStringTest, EscapesQuotesBackslashesAndControls) {
  std::string out;
  append_json_string(out, "a\"b\\c\nd\x7f\xc3\xa9");
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\u000ad\x7f\xc3\xa9\"");
  EXPECT_EQ(nlohmann::json::parse(out), "a\"b\\c\nd\x7f\xc3\xa9");
}

}  // namespace
}  // namespace tollgate::api
