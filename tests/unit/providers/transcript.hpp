#pragma once
// Shared by the provider adapter tests: vendor transcripts under tests/data/<vendor>/, and an
// upstream SSE text run through a StreamTranslator.
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "support/child_process.hpp"
#include "tollgate/http/sse_decoder.hpp"
#include "tollgate/providers/provider.hpp"

namespace tollgate::providers {

/// tests/data/<vendor>/<name>; a missing or empty file fails the test.
inline std::string transcript(std::string_view vendor, std::string_view name) {
  const std::string path = std::string(TOLLGATE_SOURCE_DIR) + "/tests/data/" + std::string(vendor) + "/" + std::string(name);
  std::string text = testing::read_text_file(path);
  EXPECT_FALSE(text.empty()) << "missing transcript " << path;
  return text;
}

/// The client-bound bytes a translator makes of `upstream` (SSE text); a translator error fails the test.
inline std::string relay(StreamTranslator& t, std::string_view upstream) {
  http::SseDecoder d;
  std::vector<http::SseEvent> events;
  d.feed(upstream, events);
  std::string out;
  for (const auto& e : events) {
    auto err = t.on_event(e, out);
    EXPECT_FALSE(err) << err->message;
  }
  return out;
}

}  // namespace tollgate::providers
