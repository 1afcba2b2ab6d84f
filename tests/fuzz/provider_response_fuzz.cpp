// Each provider adapter on a whole upstream answer: Provider::translate_response (then, for an
// Anthropic-SDK client, frontend::chat_response_to_message, and classify_translated_error on its
// error) on a success, and classify_error on an error status, as UpstreamCall::attempt calls them;
// the Anthropic adapter's messages_usage on a passed-through Messages answer.
// Input: [provider][options: bits 0-1 endpoint, bit 2 Anthropic-SDK client, bits 3-6 status,
// bit 7 header lines][retry-after\nratelimit-reset\nerror-type\n, when bit 7][body].
#include <array>
#include <string>

#include "fuzz/fuzz_providers.hpp"
#include "fuzz/fuzz_support.hpp"
#include "frontend/anthropic/messages_translate.hpp"
#include "tollgate/api/json_scan.hpp"

namespace api = tollgate::api;

namespace {

constexpr std::array<unsigned, 16> kStatuses{200, 200, 200, 400, 401, 403, 404, 408,
                                             413, 422, 429, 500, 503, 529, 418, 599};

std::string_view take_line(std::string_view& rest) {
  const std::size_t nl = rest.find('\n');
  const std::string_view line = rest.substr(0, nl);
  rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
  return line;
}

void check_error(const api::ApiError& e) {
  TOLLGATE_FUZZ_CHECK(e.status >= 400 && e.status < 600);
  TOLLGATE_FUZZ_CHECK(api::is_valid_json(api::error_json(e)));
  TOLLGATE_FUZZ_CHECK(api::is_valid_json(tollgate::frontend::anthropic_error_json(e)));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  tollgate::fuzz::Input in(data, size);
  const auto& p = tollgate::fuzz::pick_provider(in.byte());
  const std::uint8_t options = in.byte();
  const auto endpoint = static_cast<api::Endpoint>((options & 3) % 3);
  const bool anthropic_client = (options & 4) != 0;
  const unsigned status = kStatuses[(options >> 3) & 15];
  std::string_view rest = in.rest();
  std::string_view retry_after, reset, error_type;
  if (options & 0x80) {
    retry_after = take_line(rest);
    reset = take_line(rest);
    error_type = take_line(rest);
  }
  const std::string body(rest);

  if (status >= 400) {
    // The three lines stand for every vendor's retry headers and Bedrock's exception header.
    const tollgate::providers::HeaderLookup header = [&](std::string_view name) {
      if (name == "retry-after" || name == "retry-after-ms") return std::string(retry_after);
      if (name.starts_with("x-ratelimit-reset") || name.ends_with("-reset")) return std::string(reset);
      if (name == "x-amzn-errortype") return std::string(error_type);
      if (name.starts_with("anthropic-ratelimit-")) return std::string("0");  // every limit exhausted
      return std::string();
    };
    const auto failure = p.provider->classify_error(status, body, header, 1'700'000'000);
    if (failure.retry_after) TOLLGATE_FUZZ_CHECK(failure.retry_after->count() >= 0);
    check_error(failure.error);
    return 0;
  }
  const tollgate::api::Usage passthrough_usage = p.provider->messages_usage(body);
  (void)passthrough_usage;

  tollgate::api::Usage usage;
  auto translated = p.provider->translate_response(endpoint, body, usage);
  if (translated && anthropic_client && endpoint == api::Endpoint::kChatCompletions) {
    translated = tollgate::frontend::chat_response_to_message(*translated);
  }
  if (!translated) {
    check_error(translated.error());
    // A refusal inside a 200 (Gemini's blocked prompt) is classified by its provider.
    check_error(p.provider->classify_translated_error(translated.error()).error);
    return 0;
  }
  // The client receives one JSON object.
  api::ScannedObject top;
  api::ScanError error;
  bool is_object = false;
  TOLLGATE_FUZZ_CHECK(api::scan_json(*translated, top, is_object, error, {.reject_duplicates = false}) && is_object);
  return 0;
}
