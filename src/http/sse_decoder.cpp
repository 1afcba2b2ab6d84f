#include "tollgate/http/sse_decoder.hpp"

#include <cstring>

namespace tollgate::http {

void SseDecoder::feed(std::string_view bytes, std::vector<SseEvent>& out) {
  if (failed_) return;
  std::size_t i = 0;
  if (skip_lf_ && !bytes.empty()) {
    if (bytes[0] == '\n') i = 1;
    skip_lf_ = false;
  }
  while (i < bytes.size()) {
    // Find the next line terminator.
    std::size_t j = i;
    while (j < bytes.size() && bytes[j] != '\n' && bytes[j] != '\r') ++j;
    if (j == bytes.size()) {
      line_.append(bytes.substr(i));
      if (line_.size() > max_line_) fail();
      return;
    }
    if (line_.empty()) {
      on_line(bytes.substr(i, j - i), out);
    } else {
      line_.append(bytes.substr(i, j - i));
      on_line(line_, out);
      line_.clear();
    }
    if (failed_) return;
    if (bytes[j] == '\r') {
      if (j + 1 < bytes.size()) {
        if (bytes[j + 1] == '\n') ++j;
      } else {
        skip_lf_ = true;
      }
    }
    i = j + 1;
  }
}

void SseDecoder::fail() {
  failed_ = true;
  line_.clear();
  current_ = SseEvent{};
  has_data_ = false;
}

void SseDecoder::on_line(std::string_view line, std::vector<SseEvent>& out) {
  // The limits hold however the network cut the stream: a long line that arrived in one read
  // fails as one carried across reads does, and data lines without a blank line between them
  // cannot grow one event past the limit either.
  if (line.size() > max_line_) {
    fail();
    return;
  }
  if (line.empty()) {
    if (has_data_) out.push_back(std::move(current_));
    current_ = SseEvent{};
    has_data_ = false;
    return;
  }
  if (line.front() == ':') return;  // comment / keep-alive
  std::string_view field = line;
  std::string_view value;
  if (auto colon = line.find(':'); colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if ((has_data_ ? current_.data.size() + 1 : 0) + value.size() > max_line_) {
      fail();
      return;
    }
    if (has_data_) current_.data.push_back('\n');
    current_.data.append(value);
    has_data_ = true;
  } else if (field == "event") {
    current_.event.assign(value);
  } else if (field == "id") {
    current_.id.assign(value);
  }
  // "retry" and unknown fields are ignored, as the spec says.
}

}  // namespace tollgate::http
