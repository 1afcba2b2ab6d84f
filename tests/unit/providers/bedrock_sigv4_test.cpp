// SigV4 anchored to AWS's published Signature Version 4 test suite (credentials AKIDEXAMPLE /
// wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20150830T123600Z, us-east-1, service "service"):
// the expected signatures are AWS's, not computed by this code.
#include "providers/bedrock/sigv4.hpp"

#include <map>

#include <gtest/gtest.h>

#include "providers/bedrock/bedrock_provider.hpp"

namespace tollgate::providers::bedrock {
namespace {

const AwsCredentials kExample{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};

SigV4Result sign_suite(std::string_view method, std::string_view path) {
  SigV4Input in;
  in.method = method;
  in.path = path;
  in.headers = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}};
  in.region = "us-east-1";
  in.service = "service";
  in.amz_date = "20150830T123600Z";
  return sigv4_sign(in, kExample);
}

TEST(SigV4Test, GetVanilla) {
  const SigV4Result r = sign_suite("GET", "/");
  EXPECT_EQ(r.canonical_request,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(r.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            "SignedHeaders=host;x-amz-date, "
            "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST(SigV4Test, PostVanilla) {
  const SigV4Result r = sign_suite("POST", "/");
  EXPECT_EQ(r.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
            "553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87");
  EXPECT_EQ(r.signature, "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
}

TEST(SigV4Test, GetUtf8PathIsEncoded) {
  // get-utf8: the path "/ሴ" is signed as /%E1%88%B4.
  const SigV4Result r = sign_suite("GET", "/\xE1\x88\xB4");
  EXPECT_EQ(r.signature, "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85");
}

TEST(SigV4Test, GetSpaceInPathIsEncoded) {
  const SigV4Result r = sign_suite("GET", "/example space/");
  EXPECT_EQ(r.signature, "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741");
}

TEST(SigV4Test, HeaderValuesAreTrimmedAndNamesSorted) {
  SigV4Input in;
  in.method = "POST";
  in.path = "/";
  in.headers = {{"X-Amz-Date", "20150830T123600Z"}, {"My-Header1", "  a   b   c  "}, {"Host", "example.amazonaws.com"}};
  in.region = "us-east-1";
  in.service = "service";
  in.amz_date = "20150830T123600Z";
  const SigV4Result r = sigv4_sign(in, kExample);
  EXPECT_EQ(r.signed_headers, "host;my-header1;x-amz-date");
  EXPECT_NE(r.canonical_request.find("\nmy-header1:a b c\n"), std::string::npos) << r.canonical_request;
}

TEST(SigV4Test, WirePathIsEncodedAgainForNonS3Services) {
  // Bedrock's model ids carry ':' percent-encoded on the wire; the canonical URI encodes the '%'.
  const SigV4Result r = sign_suite("POST", "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse");
  EXPECT_TRUE(r.canonical_request.starts_with("POST\n/model/anthropic.claude-3-5-sonnet-20240620-v1%253A0/converse\n\n"))
      << r.canonical_request;
}

TEST(SigV4Test, AmzDateIsUtcBasicFormat) {
  EXPECT_EQ(amz_date(std::chrono::system_clock::from_time_t(1440938160)), "20150830T123600Z");
}

TEST(SigV4Test, BedrockRequestSignsTheHeadersItSends) {
  http::UpstreamRequest req;
  req.url = *http::Url::parse("https://bedrock-runtime.us-west-2.amazonaws.com");
  req.target = bedrock_target("", "anthropic.claude-3-5-sonnet-20240620-v1:0", false);
  req.body = R"({"messages":[]})";
  req.headers.emplace_back("content-type", "application/json");
  sign_bedrock_request(req, {"AKID", "secret", "token"}, "us-west-2", std::chrono::system_clock::from_time_t(1440938160));
  EXPECT_EQ(req.target, "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse");
  std::map<std::string, std::string> headers(req.headers.begin(), req.headers.end());
  EXPECT_EQ(headers["x-amz-date"], "20150830T123600Z");
  EXPECT_EQ(headers["x-amz-security-token"], "token");
  EXPECT_EQ(headers["x-amz-content-sha256"], sha256_hex(req.body));
  const std::string& auth = headers["authorization"];
  EXPECT_TRUE(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKID/20150830/us-west-2/bedrock/aws4_request, "
                               "SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token, "
                               "Signature="))
      << auth;

  // The same request re-signed independently (as the fake provider verifies) gives the same signature.
  SigV4Input in;
  in.method = "POST";
  in.path = req.target;
  in.headers = {{"content-type", "application/json"},
                {"host", "bedrock-runtime.us-west-2.amazonaws.com"},
                {"x-amz-content-sha256", headers["x-amz-content-sha256"]},
                {"x-amz-date", "20150830T123600Z"},
                {"x-amz-security-token", "token"}};
  in.payload = req.body;
  in.region = "us-west-2";
  in.service = "bedrock";
  in.amz_date = "20150830T123600Z";
  EXPECT_EQ(sigv4_sign(in, {"AKID", "secret", "token"}).authorization, auth);
  EXPECT_NE(sigv4_sign(in, {"AKID", "wrong", "token"}).authorization, auth);
}

}  // namespace
}  // namespace tollgate::providers::bedrock
