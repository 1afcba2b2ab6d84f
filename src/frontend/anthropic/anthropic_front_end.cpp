// The Anthropic Messages front end (front_end.hpp; the translators: messages_translate.hpp).
#include <fmt/format.h>

#include "frontend/anthropic/messages_translate.hpp"
#include "tollgate/frontend/front_end.hpp"

namespace tollgate::frontend {
namespace {

class MessagesRenderer final : public StreamRenderer {
 public:
  void render(std::string_view openai_sse, std::string& out) override { writer_.translate(openai_sse, out); }

 private:
  MessagesStreamWriter writer_;
};

class AnthropicFrontEnd final : public FrontEnd {
 public:
  api::ApiResult<Inbound> parse(std::string_view path, std::string_view body) const override {
    if (path == "/messages/count_tokens") {
      // An estimate, answered here: no provider is called.
      auto count = count_message_tokens(body);
      if (!count) return count.error();
      return Inbound{.local_answer = fmt::format("{{\"input_tokens\":{}}}", count->input_tokens),
                     .model = std::move(count->model)};
    }
    // POST /v1/messages is routed as the chat request it translates to.
    auto chat = messages_request_to_chat(body);
    if (!chat) return chat.error();
    return Inbound{.translated = std::move(*chat)};
  }
  std::string error_body(const api::ApiError& error) const override { return anthropic_error_json(error); }
  api::ApiResult<std::string> render(std::string&& openai_body) const override {
    return chat_response_to_message(openai_body);
  }
  std::unique_ptr<StreamRenderer> stream_renderer() const override { return std::make_unique<MessagesRenderer>(); }
  void append_stream_error(std::string& out, const api::ApiError& error, bool vendor_relayed) const override {
    if (vendor_relayed) return;
    out += "event: error\ndata: ";
    out += anthropic_error_json(error);
    out += "\n\n";
  }
  std::optional<api::ApiResult<http::UpstreamRequest>> native_request(const providers::Provider& provider,
                                                                      const config::Deployment& deployment,
                                                                      const http::Url& base,
                                                                      std::string_view upstream_model,
                                                                      const http::Request& client) const override {
    http::HeaderList client_headers;
    for (const char* name : {"anthropic-version", "anthropic-beta"}) {
      if (auto value = client[name]; !value.empty()) client_headers.emplace_back(name, std::string(value));
    }
    return provider.build_messages_passthrough(deployment, base, client.body(), upstream_model, client_headers);
  }
  api::Usage native_usage(const providers::Provider& provider, std::string_view body) const override {
    return provider.messages_usage(body);
  }
};

}  // namespace

const FrontEnd& anthropic() {
  static const AnthropicFrontEnd front_end;
  return front_end;
}

}  // namespace tollgate::frontend
