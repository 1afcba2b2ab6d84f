#include "tollgate/api/json_scan.hpp"

#include <gtest/gtest.h>

#include <string>

#include "tollgate/api/json_read.hpp"

namespace tollgate::api {
namespace {

ScannedObject scan_ok(std::string_view text) {
  ScannedObject out;
  ScanError error;
  bool is_object = false;
  EXPECT_TRUE(scan_json(text, out, is_object, error)) << error.what << " at " << error.offset;
  EXPECT_TRUE(is_object);
  return out;
}

TEST(JsonScanTest, RecordsTopLevelMembersWithRawValues) {
  const std::string body = R"({"model":"gpt-4o", "stream" : true,"messages":[{"role":"user","content":"a}\"b"}],"n":2})";
  ScannedObject top = scan_ok(body);
  ASSERT_EQ(top.members.size(), 4u);
  EXPECT_EQ(top.members[0].key, "model");
  EXPECT_EQ(top.members[0].value, "\"gpt-4o\"");
  EXPECT_EQ(top.members[1].value, "true");
  EXPECT_EQ(top.members[2].value, R"([{"role":"user","content":"a}\"b"}])");
  EXPECT_EQ(top.find("n")->value, "2");
  EXPECT_EQ(body.substr(top.members[3].begin, top.members[3].end - top.members[3].begin), R"("n":2)");
  EXPECT_EQ(top.find("absent"), nullptr);
}

TEST(JsonScanTest, NonObjectTopLevelIsValidButNotAnObject) {
  ScannedObject out;
  ScanError error;
  bool is_object = true;
  EXPECT_TRUE(scan_json("[1,2,3]", out, is_object, error));
  EXPECT_FALSE(is_object);
  EXPECT_TRUE(out.members.empty());
}

struct BadCase {
  const char* text;
  const char* what;
};

class JsonScanRejectTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(JsonScanRejectTest, RejectsWithReason) {
  ScannedObject out;
  ScanError error;
  bool is_object = false;
  EXPECT_FALSE(scan_json(GetParam().text, out, is_object, error)) << GetParam().text;
  EXPECT_NE(error.what.find(GetParam().what), std::string::npos) << error.what;
  EXPECT_FALSE(is_valid_json(GetParam().text));
}

INSTANTIATE_TEST_SUITE_P(
    Malformed, JsonScanRejectTest,
    ::testing::Values(BadCase{R"({"a":1,)", "expected a string key"}, BadCase{R"({"a" 1})", "expected ':'"},
                      BadCase{R"({"a":tru})", "invalid literal"}, BadCase{R"({"a":01})", "expected ',' or '}'"},
                      BadCase{R"({"a":1.})", "invalid number"}, BadCase{R"({"a":"x)", "unterminated string"},
                      BadCase{"{\"a\":\"\\q\"}", "invalid escape"}, BadCase{"{\"a\":\"\\u12G4\"}", "invalid \\u escape"},
                      BadCase{"{\"a\":\"x\ny\"}", "control character"}, BadCase{R"({"a":1} x)", "trailing characters"},
                      BadCase{"", "unexpected end of input"}, BadCase{R"([1,2)", "unexpected end of input in array"},
                      // Too large for a double: the DOM reader refuses it, so the scanner must (fuzz finding).
                      BadCase{"7e880", "number out of range"}, BadCase{R"({"t":-1.8e308})", "number out of range"},
                      BadCase{R"({"t":0.00001e+314})", "number out of range"}));

TEST(JsonScanTest, NumbersAtTheEdgeOfADoubleAgreeWithTheDomReader) {
  const std::string long_integer(309, '9');     // 1e309 - 1: beyond the largest double
  const std::string long_in_range(308, '9');    // below it
  for (const std::string& text : {std::string("1.7976931348623157e308"), std::string("1e-999"), std::string("-4e-400"),
                                 std::string("0e99999"), std::string("1000e-10"), std::string("1e308"),
                                 std::string("[1e309]"), std::string("0.0000000001e318"), long_integer, long_in_range}) {
    EXPECT_EQ(is_valid_json(text), !tollgate::api::read_json(text).is_discarded()) << text;
  }
  EXPECT_TRUE(is_valid_json("1e-999"));
  EXPECT_FALSE(is_valid_json(long_integer));
  EXPECT_TRUE(is_valid_json(long_in_range));
}

TEST(JsonScanTest, AcceptsValidUtf8AndRejectsInvalidSequences) {
  EXPECT_TRUE(is_valid_json("{\"t\":\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"}"));
  EXPECT_FALSE(is_valid_json("{\"t\":\"\xC3\"}"));              // truncated 2-byte sequence
  EXPECT_FALSE(is_valid_json("{\"t\":\"\xC0\xAF\"}"));          // overlong
  EXPECT_FALSE(is_valid_json("{\"t\":\"\xED\xA0\x80\"}"));      // UTF-16 surrogate
  EXPECT_FALSE(is_valid_json("{\"t\":\"\xF4\x90\x80\x80\"}"));  // above U+10FFFF
  EXPECT_FALSE(is_valid_json("{\"t\":\"\xFF\"}"));
}

TEST(JsonScanTest, RejectsNestingDeeperThanTheLimit) {
  std::string deep(600, '[');
  deep += std::string(600, ']');
  EXPECT_FALSE(is_valid_json(deep));
  std::string fine(100, '[');
  fine += std::string(100, ']');
  EXPECT_TRUE(is_valid_json(fine));
}

TEST(JsonScanTest, FastPathSeesSpecialBytesAtEveryAlignment) {
  for (std::size_t pos = 0; pos < 24; ++pos) {
    std::string text(32, 'a');
    std::string bad = text;
    bad[pos] = '\x01';  // a control character must be rejected wherever it sits
    EXPECT_FALSE(is_valid_json("\"" + bad + "\"")) << pos;
    bad[pos] = '\xFF';
    EXPECT_FALSE(is_valid_json("\"" + bad + "\"")) << pos;
    std::string quoted = text;
    quoted.insert(pos, "\\\"");  // an escaped quote does not end the string
    ScannedObject top;
    ScanError error;
    bool is_object = false;
    const std::string doc = "{\"k\":\"" + quoted + "\",\"n\":1}";  // the scan's views point into it
    ASSERT_TRUE(scan_json(doc, top, is_object, error)) << pos << error.what;
    EXPECT_EQ(top.find("k")->value, "\"" + quoted + "\"");
    EXPECT_EQ(top.find("n")->value, "1");
    std::string multibyte = text;
    multibyte.replace(pos, 2, "\xC3\xA9");
    EXPECT_TRUE(is_valid_json("\"" + multibyte + "\"")) << pos;
  }
}

TEST(JsonScanTest, HandlesLargeStringValues) {
  std::string body = R"({"model":"m","messages":[{"role":"user","content":")";
  body += std::string(300000, 'x');
  body += R"("}]})";
  ScannedObject top = scan_ok(body);
  EXPECT_EQ(top.find("messages")->value.size(), body.size() - 25);
}

}  // namespace
}  // namespace tollgate::api
