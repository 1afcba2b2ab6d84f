#pragma once
// Shared by the provider adapter tests: vendor transcripts under tests/data/<vendor>/, and an
// upstream SSE text run through a StreamTranslator.
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/child_process.hpp"
#include "tollgate/http/sse_decoder.hpp"
#include "tollgate/providers/provider.hpp"
#include "support/build_paths.hpp"

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

/// The data payloads of client-bound SSE text, one per event; bytes left over fail the test.
inline std::vector<std::string> payloads(std::string_view sse) {
  http::SseDecoder d;
  std::vector<http::SseEvent> events;
  d.feed(sse, events);
  EXPECT_EQ(d.pending_bytes(), 0u);
  std::vector<std::string> out;
  for (auto& e : events) out.push_back(std::move(e.data));
  return out;
}

/// `out` carries the chunks of `expected` (one JSON payload or [DONE] per line), compared as JSON.
inline void expect_chunk_lines(const std::string& out, const std::string& expected) {
  std::istringstream lines(expected);
  std::vector<std::string> want;
  for (std::string line; std::getline(lines, line);) want.push_back(line);
  const std::vector<std::string> got = payloads(out);
  ASSERT_EQ(got.size(), want.size()) << out;
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (want[i] == "[DONE]") {
      EXPECT_EQ(got[i], "[DONE]");
    } else {
      EXPECT_EQ(nlohmann::json::parse(got[i]), nlohmann::json::parse(want[i])) << "chunk " << i;
    }
  }
}

}  // namespace tollgate::providers
