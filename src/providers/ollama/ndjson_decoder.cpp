#include "providers/ollama/ndjson_decoder.hpp"

namespace tollgate::providers {

void NdjsonDecoder::feed(std::string_view bytes, std::vector<http::SseEvent>& out) {
  while (!failed_ && !bytes.empty()) {
    const std::size_t lf = bytes.find('\n');
    const std::string_view piece = bytes.substr(0, lf);
    if (line_.size() + piece.size() > max_line_) {
      failed_ = true;
      line_.clear();
      return;
    }
    line_.append(piece);
    if (lf == std::string_view::npos) return;
    bytes.remove_prefix(lf + 1);
    if (!line_.empty() && line_.back() == '\r') line_.pop_back();
    // Blank lines (keep-alive padding some proxies add) carry nothing.
    if (line_.find_first_not_of(" \t") != std::string::npos) {
      http::SseEvent event;
      event.data = std::move(line_);
      out.push_back(std::move(event));
    }
    line_.clear();
  }
}

}  // namespace tollgate::providers
