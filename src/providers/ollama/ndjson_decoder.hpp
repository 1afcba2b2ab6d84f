#pragma once
// Sans-IO newline-delimited JSON (NDJSON, `application/x-ndjson`) decoder: Ollama's stream
// framing. Fed bytes in any split, it yields one SseEvent per non-blank line, the line (without
// its LF or CRLF) in `data`. It does not parse the JSON: the translator does.
//
// Thread safety: none; one decoder per stream.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "tollgate/http/sse_decoder.hpp"

namespace tollgate::providers {

class NdjsonDecoder final : public http::StreamDecoder {
 public:
  void feed(std::string_view bytes, std::vector<http::SseEvent>& out) override;
  bool failed() const override { return failed_; }
  std::size_t pending_bytes() const override { return line_.size(); }

  /// Largest line accepted; a longer one puts the decoder in error (protects memory).
  void set_max_line(std::size_t n) { max_line_ = n; }

 private:
  std::string line_;  // partial line carried across feeds
  bool failed_ = false;
  std::size_t max_line_ = 16u << 20;
};

}  // namespace tollgate::providers
