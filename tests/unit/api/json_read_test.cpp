// The depth-bounded reader and the scanner's hostile-input rules: nesting, repeated names,
// surrogate escapes (docs/security.md).
#include "tollgate/api/json_read.hpp"

#include <gtest/gtest.h>

#include <string>

#include "tollgate/api/json_scan.hpp"
#include "tollgate/api/request.hpp"

namespace tollgate::api {
namespace {

std::string nested(char open, char close, int depth) { return std::string(depth, open) + std::string(depth, close); }

ScanError scan_error(std::string_view text, ScanOptions options = {}) {
  ScannedObject out;
  ScanError error;
  bool is_object = false;
  EXPECT_FALSE(scan_json(text, out, is_object, error, options)) << text.substr(0, 80);
  return error;
}

TEST(JsonReadTest, ADeepDocumentIsRefusedWithoutRecursion) {
  JsonReadError error;
  EXPECT_TRUE(read_json(nested('[', ']', 100'000), &error).is_discarded());
  EXPECT_EQ(error.what, "nesting too deep");
  EXPECT_TRUE(read_json(R"({"a":)" + std::string(100'000, '{'), &error).is_discarded());
  EXPECT_FALSE(read_json(nested('[', ']', kMaxJsonDepth)).is_discarded()) << "the bound itself is accepted";
  EXPECT_TRUE(read_json(nested('[', ']', kMaxJsonDepth + 1)).is_discarded());
}

TEST(JsonReadTest, RepeatedNamesAreRefusedUnlessLenient) {
  JsonReadError error;
  EXPECT_TRUE(read_json(R"({"a":{"b":1,"b":2}})", &error).is_discarded());
  EXPECT_EQ(error.duplicate, "b");
  EXPECT_EQ(error.member, "a");
  const ApiError api = invalid_body_error(error);
  EXPECT_EQ(api.status, 400u);
  EXPECT_EQ(api.param, "a");
  EXPECT_NE(api.message.find("Duplicate member 'b' inside 'a'"), std::string::npos) << api.message;
  const nlohmann::json lenient = read_json_lenient(R"({"b":1,"b":2})");
  ASSERT_TRUE(lenient.is_object());
  EXPECT_EQ(lenient["b"], 2) << "the last copy, as the upstream's clients read it";
  EXPECT_TRUE(read_ordered_json(R"({"x":1,"x":1})").is_discarded());
}

TEST(JsonReadTest, LargeOrderedObjectsKeepOrderAndCatchRepeatsInLinearTime) {
  std::string body = "{";
  for (int i = 0; i < 100'000; ++i) body += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  body += "\"k5\":0}";
  JsonReadError error;
  EXPECT_TRUE(read_ordered_json(body, &error).is_discarded());
  EXPECT_EQ(error.duplicate, "k5");
  body.replace(body.rfind("\"k5\""), 4, "\"z\"");
  const nlohmann::ordered_json ok = read_ordered_json(body);
  ASSERT_TRUE(ok.is_object());
  EXPECT_EQ(ok.size(), 100'001u);
  EXPECT_EQ(ok.begin().key(), "k0");
  EXPECT_EQ(ok["k99999"], 99'999);
  EXPECT_EQ(ok.items().begin().value(), 0);
  const nlohmann::ordered_json last_wins = read_ordered_json_lenient(R"({"a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13,"n":14,"o":15,"p":16,"q":17,"a":99})");
  EXPECT_EQ(last_wins["a"], 99);
  EXPECT_EQ(last_wins.size(), 17u);
}

TEST(JsonReadTest, ReadsWhatNlohmannReads) {
  const std::string text = R"({"s":"\u00e9\ud83d\ude00","n":-1.5e3,"u":18446744073709551615,"a":[true,null,{}]})";
  EXPECT_EQ(read_json(text), nlohmann::json::parse(text));
  EXPECT_EQ(read_ordered_json(text).dump(), nlohmann::ordered_json::parse(text).dump());
  EXPECT_TRUE(read_json(R"({"a":1} x)").is_discarded());
  EXPECT_TRUE(read_json(R"("\udc00")").is_discarded()) << "lone surrogate";
  EXPECT_TRUE(read_json("").is_discarded());
  using namespace std::string_view_literals;
  EXPECT_TRUE(read_json("{\"a\":1}\0{\"b\":2}"sv).is_discarded()) << "found by json_scan_fuzz";
}

TEST(JsonScanHostileTest, RepeatedNamesAtAnyDepthWithEscapesDecoded) {
  ScanError e = scan_error(R"({"max_tokens":1,"max_tokens":5000})");
  EXPECT_EQ(e.duplicate, "max_tokens");
  EXPECT_EQ(e.member, "max_tokens");
  e = scan_error(R"({"max_tokens":1,"max\u005ftokens":5000})");
  EXPECT_EQ(e.duplicate, "max_tokens");
  e = scan_error(R"({"stream_options":{"include_usage":true,"include_usage":false}})");
  EXPECT_EQ(e.duplicate, "include_usage");
  EXPECT_EQ(e.member, "stream_options");
  e = scan_error(R"({"m":[{"a":1},{"b":1,"b":2}]})");
  EXPECT_EQ(e.duplicate, "b");
  // Sibling objects may reuse names; lenient scanning (upstream answers) accepts repeats.
  ScannedObject ok;
  ScanError none;
  bool is_object = false;
  EXPECT_TRUE(scan_json(R"({"m":[{"a":1},{"a":2}],"o":{"a":{"a":1}}})", ok, is_object, none)) << none.what;
  EXPECT_TRUE(scan_json(R"({"a":1,"a":2})", ok, is_object, none, ScanOptions{.reject_duplicates = false}));
}

TEST(JsonScanHostileTest, ManyMembersAreCheckedInLinearTime) {
  std::string body = "{";
  for (int i = 0; i < 100'000; ++i) body += "\"k" + std::to_string(i) + "\":0,";
  body += "\"k99999\":1}";
  const ScanError e = scan_error(body);
  EXPECT_EQ(e.duplicate, "k99999");
  body.replace(body.rfind("k99999"), 6, "kLAST!");
  ScannedObject out;
  ScanError error;
  bool is_object = false;
  EXPECT_TRUE(scan_json(body, out, is_object, error)) << error.what;
  EXPECT_EQ(out.members.size(), 100'001u);
}

TEST(JsonScanHostileTest, SurrogatesMustBePaired) {
  EXPECT_EQ(scan_error(R"({"model":"demo\udc00"})").what, "lone surrogate in \\u escape");
  EXPECT_EQ(scan_error(R"({"model":"demo\udc00"})").member, "model");
  EXPECT_EQ(scan_error(R"({"model":"\ud800"})").what, "lone surrogate in \\u escape");
  EXPECT_EQ(scan_error(R"({"model":"\ud800\u0041"})").what, "lone surrogate in \\u escape");
  EXPECT_EQ(scan_error(R"({"model":"\ud800\n"})").what, "lone surrogate in \\u escape");
  EXPECT_TRUE(is_valid_json(R"({"model":"\ud83d\ude00\uD83D\uDE00"})"));
}

TEST(JsonScanHostileTest, EscapedKeysAreFoundByTheirDecodedName) {
  ScannedObject out;
  ScanError error;
  bool is_object = false;
  const std::string body = R"({"mod\u0065l":"m","stre\u0061m":true,"x\"y":1})";
  ASSERT_TRUE(scan_json(body, out, is_object, error)) << error.what;
  ASSERT_NE(out.find("model"), nullptr);
  EXPECT_EQ(out.find("model")->value, "\"m\"");
  ASSERT_NE(out.find("stream"), nullptr);
  ASSERT_NE(out.find("x\"y"), nullptr);
  ScannedObject moved = std::move(out);
  EXPECT_NE(moved.find("model"), nullptr) << "keys survive a move";
}

TEST(RequestHostileTest, ParseRequestNamesTheField) {
  auto dup = parse_request(R"({"model":"m","messages":[],"max_tokens":1,"max_tokens":2})", Endpoint::kChatCompletions);
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().status, 400u);
  EXPECT_EQ(dup.error().param, "max_tokens");
  auto lone = parse_request(R"({"model":"demo\udc00","messages":[]})", Endpoint::kChatCompletions);
  ASSERT_FALSE(lone);
  EXPECT_EQ(lone.error().status, 400u);
  EXPECT_EQ(lone.error().param, "model");
  auto escaped = parse_request(R"({"mod\u0065l":"m","messages":[],"stre\u0061m":true})", Endpoint::kChatCompletions);
  ASSERT_TRUE(escaped) << escaped.error().message;
  EXPECT_EQ(escaped->fields.model, "m");
  EXPECT_TRUE(escaped->fields.stream) << "the gateway reads the member the upstream will read";
}

}  // namespace
}  // namespace tollgate::api
