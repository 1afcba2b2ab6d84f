#pragma once
// Sans-IO Server-Sent Events decoder (WHATWG event-stream rules): feed it bytes as they arrive
// from the network, in any split, and it yields complete events. Lines may end in LF, CRLF or CR
// (a CR at the end of one read and an LF at the start of the next count as one line end).
// Comment lines (":...") are ignored; multi-line data is joined with "\n"; an event is dispatched
// on a blank line and only if it carried data.
//
// Thread safety: none; one decoder per stream.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace tollgate::http {

struct SseEvent {
  std::string event;  // "event:" field, empty when absent
  std::string data;   // "data:" lines joined with '\n'
  std::string id;     // "id:" field, empty when absent
};

/// Splits a streamed response body into events, fed in any split. SSE here; vendors with other
/// framings (NDJSON lines, AWS eventstream frames) bring their own (Provider::make_stream_decoder),
/// yielding the same SseEvent: `event` names the event type when the framing has one, `data` is
/// its payload.
class StreamDecoder {
 public:
  virtual ~StreamDecoder() = default;
  /// Appends every event completed by `bytes` to `out`.
  virtual void feed(std::string_view bytes, std::vector<SseEvent>& out) = 0;
  /// The stream is malformed or an event is oversized; nothing more is decoded.
  virtual bool failed() const = 0;
  /// Bytes of an incomplete event held back; a stream that ends with this non-zero ended mid-event.
  virtual std::size_t pending_bytes() const = 0;
};

class SseDecoder final : public StreamDecoder {
 public:
  void feed(std::string_view bytes, std::vector<SseEvent>& out) override;

  std::size_t pending_bytes() const override { return line_.size() + (has_data_ ? current_.data.size() + 1 : 0); }

  /// Largest line, and largest data of one event, accepted; more puts the decoder in error
  /// (protects memory: at most about twice this is held back).
  void set_max_line(std::size_t n) { max_line_ = n; }
  bool failed() const override { return failed_; }

 private:
  void on_line(std::string_view line, std::vector<SseEvent>& out);
  void fail();  // into the error state, dropping what was held back

  std::string line_;           // partial line carried across feeds
  SseEvent current_;
  bool has_data_ = false;
  bool skip_lf_ = false;       // previous feed ended on CR
  bool failed_ = false;
  std::size_t max_line_ = 16u << 20;
};

}  // namespace tollgate::http
