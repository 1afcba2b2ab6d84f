// The Anthropic front end (POST /v1/messages, /v1/messages/count_tokens): the client's Messages
// request translated to an OpenAI chat request (frontend::messages_request_to_chat), which the
// proxy then reads with api::parse_request; and, on the way back, an OpenAI answer translated to
// an Anthropic message (chat_response_to_message) or stream (MessagesStreamWriter).
// Input: [mode: 0-1 request, 2 response, 3 stream (bits 2-7 split seed)][body].
#include <string>
#include <vector>

#include "fuzz/fuzz_support.hpp"
#include "frontend/anthropic/messages_translate.hpp"
#include "tollgate/api/json_read.hpp"
#include "tollgate/api/json_scan.hpp"
#include "tollgate/api/request.hpp"

namespace api = tollgate::api;
namespace frontend = tollgate::frontend;

namespace {

void check_error(const api::ApiError& e) {
  TOLLGATE_FUZZ_CHECK(e.status >= 400 && e.status < 600);
  TOLLGATE_FUZZ_CHECK(api::is_valid_json(frontend::anthropic_error_json(e)));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  tollgate::fuzz::Input in(data, size);
  const std::uint8_t mode = in.byte();
  const std::string body(in.rest());

  switch (mode & 3) {
    case 0:
    case 1: {
      auto chat = frontend::messages_request_to_chat(body);
      auto count = frontend::count_message_tokens(body);
      if (!chat) {
        check_error(chat.error());
        return 0;
      }
      if (count) TOLLGATE_FUZZ_CHECK(count->input_tokens > 0 && !count->model.empty());
      // The translation is a client body like any other: the gateway must accept what it made.
      auto parsed = api::parse_request(*chat, api::Endpoint::kChatCompletions);
      if (!parsed) {
        std::fprintf(stderr, "translated request refused: %s\n%s\n", parsed.error().message.c_str(), chat->c_str());
        TOLLGATE_FUZZ_CHECK(false);
      }
      return 0;
    }
    case 2: {
      auto message = frontend::chat_response_to_message(body);
      if (!message) {
        check_error(message.error());
        return 0;
      }
      TOLLGATE_FUZZ_CHECK(api::read_json(*message).is_object());
      return 0;
    }
    default: {
      frontend::MessagesStreamWriter writer;
      std::string out;
      for (std::string_view piece : tollgate::fuzz::split(body, mode >> 2)) writer.translate(piece, out);
      tollgate::http::SseDecoder d;
      std::vector<tollgate::http::SseEvent> events;
      d.feed(out, events);
      TOLLGATE_FUZZ_CHECK(!d.failed() && d.pending_bytes() == 0);
      for (const auto& e : events) TOLLGATE_FUZZ_CHECK(api::is_valid_json(e.data, {.reject_duplicates = false}));
      return 0;
    }
  }
}
