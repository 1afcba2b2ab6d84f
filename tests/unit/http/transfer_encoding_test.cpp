// Which Transfer-Encoding values the server reads, and what it answers to the others (RFC 9112 §6).
#include <gtest/gtest.h>

#include <vector>

#include "http/server_limits.hpp"

namespace tollgate::http {
namespace {

namespace bhttp = boost::beast::http;

Request with_te(std::initializer_list<const char*> values, unsigned version = 11) {
  Request r(bhttp::verb::post, "/v1/chat/completions", version);
  for (const char* v : values) r.insert(bhttp::field::transfer_encoding, v);
  return r;
}

TEST(TransferEncodingTest, NoneAndChunkedAloneAreRead) {
  EXPECT_EQ(transfer_encoding_error(Request(bhttp::verb::post, "/", 11)), std::nullopt);
  EXPECT_EQ(transfer_encoding_error(with_te({"chunked"})), std::nullopt);
  EXPECT_EQ(transfer_encoding_error(with_te({" Chunked\t"})), std::nullopt);
}

TEST(TransferEncodingTest, ALengthThatCannotBeKnownIs400) {
  const std::vector<std::vector<const char*>> cases{{"xchunked"},         {"chunked, gzip"},       {"gzip"}, {""},
                                                    {"chunked, chunked"}, {"chunked", "chunked"}, {"gzip", "identity"}};
  for (const auto& values : cases) {
    Request r(bhttp::verb::post, "/", 11);
    for (const char* v : values) r.insert(bhttp::field::transfer_encoding, v);
    const auto e = transfer_encoding_error(r);
    ASSERT_TRUE(e) << values.front();
    EXPECT_EQ(e->status, 400u) << values.front();
    EXPECT_EQ(e->type, "invalid_request_error");
  }
  // HTTP/1.0 has no Transfer-Encoding: its framing is faulty whatever the value.
  EXPECT_EQ(transfer_encoding_error(with_te({"chunked"}, 10))->status, 400u);
}

TEST(TransferEncodingTest, ACodingBeforeChunkedIsNotImplemented) {
  const auto e = transfer_encoding_error(with_te({"gzip, chunked"}));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 501u);
  EXPECT_EQ(e->code, "501");
  EXPECT_EQ(transfer_encoding_error(with_te({"gzip", "chunked"}))->status, 501u);
}

}  // namespace
}  // namespace tollgate::http
