#include "tollgate/api/redact.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace tollgate::api {
namespace {

using Secrets = std::vector<std::string>;

TEST(RedactorTest, EveryOccurrenceOfEverySecretIsReplaced) {
  const Secrets secrets{"sk-live-0123456789", "AKIAEXAMPLEKEY01"};
  const Redactor r(secrets);
  std::string text = "bad key sk-live-0123456789 (sk-live-0123456789) for AKIAEXAMPLEKEY01";
  EXPECT_TRUE(r.redact(text));
  EXPECT_EQ(text, "bad key [redacted] ([redacted]) for [redacted]");
  std::string clean = "nothing to hide";
  EXPECT_FALSE(r.redact(clean));
  EXPECT_EQ(clean, "nothing to hide");
}

TEST(RedactorTest, PlaceholdersShorterThanTheMinimumAreNoSecrets) {
  const Secrets secrets{"none", "EMPTY", ""};
  const Redactor r(secrets);
  EXPECT_TRUE(r.empty());
  std::string text = "none of the choices were EMPTY";
  EXPECT_FALSE(r.redact(text));
  EXPECT_EQ(text, "none of the choices were EMPTY");
}

TEST(RedactorTest, JsonEscapedFormsOfASecretAreFoundToo) {
  // An AWS secret key has '/', a PEM key newlines: inside a relayed JSON body they are escaped.
  const Secrets secrets{"wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "-----BEGIN PRIVATE KEY-----\nMIIEvQ\n-----END"};
  const Redactor r(secrets);
  std::string raw = R"({"message":"signature for wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"})";
  std::string slashed = R"({"message":"signature for wJalrXUtnFEMI\/K7MDENG+bPxRfiCYEXAMPLEKEY"})";
  std::string pem = R"({"message":"key -----BEGIN PRIVATE KEY-----\nMIIEvQ\n-----END rejected"})";
  EXPECT_TRUE(r.redact(raw));
  EXPECT_TRUE(r.redact(slashed));
  EXPECT_TRUE(r.redact(pem));
  EXPECT_EQ(raw, R"({"message":"signature for [redacted]"})");
  EXPECT_EQ(slashed, R"({"message":"signature for [redacted]"})");
  EXPECT_EQ(pem, R"({"message":"key [redacted] rejected"})");
}

TEST(RedactorTest, EveryTextFieldOfAnErrorIsCovered) {
  const Secrets secrets{"sk-live-0123456789"};
  ApiError e = make_error(Errc::kUpstreamStatus, "Incorrect API key provided: sk-live-0123456789.", "sk-live-0123456789");
  e.code = "sk-live-0123456789";
  EXPECT_TRUE(Redactor(secrets).redact(e));
  EXPECT_EQ(e.message, "Incorrect API key provided: [redacted].");
  EXPECT_EQ(e.param, "[redacted]");
  EXPECT_EQ(e.code, "[redacted]");
  EXPECT_EQ(error_json(e).find("sk-live"), std::string::npos);
}

TEST(RedactorTest, ASecretContainingAnotherIsReplacedWhole) {
  const Secrets secrets{"sk-live-01234567", "sk-live-0123456789abcdef"};
  std::string text = "key sk-live-0123456789abcdef";
  Redactor(secrets).redact(text);
  EXPECT_EQ(text, "key [redacted]");
}

}  // namespace
}  // namespace tollgate::api
