// Each provider adapter's request translator (Provider::build_request) on a client's OpenAI-format
// body, after api::parse_request as the proxy calls it; and the Anthropic adapter's Messages API
// passthrough (build_messages_passthrough) on a /v1/messages body.
// Input: [provider][options: bits 0-1 endpoint, bit 2 want stream usage, bit 3 the client's model
// goes upstream (a wildcard group), bit 4 Messages passthrough][body].
#include <string>

#include "fuzz/fuzz_providers.hpp"
#include "fuzz/fuzz_support.hpp"
#include "tollgate/api/json_read.hpp"
#include "tollgate/api/json_scan.hpp"

namespace api = tollgate::api;

namespace {

// An upstream request: a JSON body, and header values that cannot split the request.
void check_upstream(const tollgate::http::UpstreamRequest& r) {
  TOLLGATE_FUZZ_CHECK(api::is_valid_json(r.body));
  TOLLGATE_FUZZ_CHECK(!r.target.empty() && r.target.front() == '/');
  for (char c : r.target) TOLLGATE_FUZZ_CHECK(static_cast<unsigned char>(c) > 0x20 && c != 0x7f);
  for (const auto& [name, value] : r.headers) {
    TOLLGATE_FUZZ_CHECK(name.find_first_of("\r\n:") == std::string::npos);
    TOLLGATE_FUZZ_CHECK(value.find_first_of("\r\n") == std::string::npos);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  tollgate::fuzz::Input in(data, size);
  const auto& p = tollgate::fuzz::pick_provider(in.byte());
  const std::uint8_t options = in.byte();
  const std::string body(in.rest());

  if (options & 0x10) {
    const tollgate::http::HeaderList client_headers{{"anthropic-version", "2023-06-01"}};
    auto r = p.provider->build_messages_passthrough(p.deployment, p.base, body, p.deployment.model, client_headers);
    if (r && *r) check_upstream(**r);
    if (r && !*r) TOLLGATE_FUZZ_CHECK(api::is_valid_json(api::error_json(r->error())));
    return 0;
  }

  const auto endpoint = static_cast<api::Endpoint>((options & 3) % 3);
  auto parsed = api::parse_request(body, endpoint);
  if (!parsed) return 0;
  const std::string model = (options & 8) ? parsed->fields.model : p.deployment.model;
  auto r = p.provider->build_request(p.deployment, p.base, endpoint, *parsed, model, (options & 4) != 0);
  if (!r) {
    TOLLGATE_FUZZ_CHECK(r.error().status >= 400 && r.error().status < 600);
    TOLLGATE_FUZZ_CHECK(api::is_valid_json(api::error_json(r.error())));
    return 0;
  }
  check_upstream(*r);
  return 0;
}
