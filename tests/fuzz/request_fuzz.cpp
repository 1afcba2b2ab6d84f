// api::parse_request and api::build_upstream_body: what a client's OpenAI-format body becomes on
// its way to an OpenAI-compatible upstream. Input: [options: bits 0-1 endpoint, bit 2 ask upstream
// for stream usage, bit 3 the client's model name goes upstream (a wildcard group)][body].
#include <string>

#include "fuzz/fuzz_support.hpp"
#include "tollgate/api/json_read.hpp"
#include "tollgate/api/json_scan.hpp"
#include "tollgate/api/request.hpp"

namespace api = tollgate::api;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  tollgate::fuzz::Input in(data, size);
  const std::uint8_t options = in.byte();
  const auto endpoint = static_cast<api::Endpoint>((options & 3) % 3);
  const std::string body(in.rest());

  auto result = api::parse_request(body, endpoint);
  if (!result) {
    // An error names a parameter or is about the whole body; it serializes to a JSON error body.
    TOLLGATE_FUZZ_CHECK(result.error().status == 400);
    TOLLGATE_FUZZ_CHECK(api::is_valid_json(api::error_json(result.error())));
    return 0;
  }
  // The handler keeps the parsed request by value: moved out of the result.
  const api::ParsedRequest parsed = std::move(*result);
  TOLLGATE_FUZZ_CHECK(!parsed.fields.model.empty());
  TOLLGATE_FUZZ_CHECK(parsed.fields.prompt_bytes <= body.size());
  if (parsed.fields.num_retries) TOLLGATE_FUZZ_CHECK(*parsed.fields.num_retries >= 0 && *parsed.fields.num_retries <= api::kMaxRequestRetries);
  if (parsed.fields.timeout_seconds) TOLLGATE_FUZZ_CHECK(*parsed.fields.timeout_seconds > 0);
  if (parsed.fields.max_tokens) TOLLGATE_FUZZ_CHECK(*parsed.fields.max_tokens > 0);

  const std::string model = (options & 8) ? parsed.fields.model : std::string("upstream-model");
  const bool force_usage = (options & 4) != 0;
  const std::string upstream = api::build_upstream_body(parsed, {.model = model, .force_include_usage = force_usage});
  // What goes upstream is one JSON object, without repeated names, with the deployment's model,
  // none of the gateway's own fields, and usage asked for when the gateway wants it.
  const nlohmann::json out = api::read_json(upstream);
  TOLLGATE_FUZZ_CHECK(out.is_object());
  TOLLGATE_FUZZ_CHECK(out.contains("model") && out["model"] == model);
  for (const auto& [key, value] : out.items()) TOLLGATE_FUZZ_CHECK(!api::is_gateway_only_field(key));
  if (force_usage) {
    const auto so = out.find("stream_options");
    TOLLGATE_FUZZ_CHECK(so != out.end() && so->is_object() && so->value("include_usage", false));
  }
  // And the gateway reads it back as the same request.
  auto again = api::parse_request(upstream, endpoint);
  TOLLGATE_FUZZ_CHECK(again && again->fields.model == model && again->fields.stream == parsed.fields.stream);
  return 0;
}
