// api::scan_json / api::is_valid_json (every client body is validated by it before anything else
// reads it) checked against api::read_json, the DOM reader, as the specification: both accept the
// same documents (grammar, UTF-8, paired surrogates, depth, duplicate names), and every top-level
// member the scanner records is the member the DOM holds.
// Input: [options: bit 0 allow duplicates][JSON text].
#include <string>

#include "fuzz/fuzz_support.hpp"
#include "tollgate/api/json_read.hpp"
#include "tollgate/api/json_scan.hpp"

namespace api = tollgate::api;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  tollgate::fuzz::Input in(data, size);
  const bool reject_duplicates = (in.byte() & 1) == 0;
  const std::string_view text = in.rest();

  api::ScannedObject top;
  api::ScanError error;
  bool is_object = false;
  const bool scanned = api::scan_json(text, top, is_object, error, {.reject_duplicates = reject_duplicates});
  TOLLGATE_FUZZ_CHECK(scanned == api::is_valid_json(text, {.reject_duplicates = reject_duplicates}));
  const nlohmann::json dom = api::read_json(text, nullptr, {.reject_duplicates = reject_duplicates});
  TOLLGATE_FUZZ_CHECK(scanned == !dom.is_discarded());
  if (!scanned) {
    TOLLGATE_FUZZ_CHECK(!error.what.empty() && error.offset <= text.size());
    return 0;
  }
  TOLLGATE_FUZZ_CHECK(is_object == dom.is_object());
  if (!is_object) return 0;

  // Moved, as parse_request's result is: the keys it views must stay valid.
  const api::ScannedObject moved = std::move(top);
  if (reject_duplicates) TOLLGATE_FUZZ_CHECK(moved.members.size() == dom.size());
  for (const api::JsonMember& m : moved.members) {
    TOLLGATE_FUZZ_CHECK(m.begin < m.end && m.end <= text.size() && text[m.begin] == '"');
    TOLLGATE_FUZZ_CHECK(m.value.data() >= text.data() && m.value.data() + m.value.size() == text.data() + m.end);
    const std::string key(m.key);
    TOLLGATE_FUZZ_CHECK(dom.contains(key));
    TOLLGATE_FUZZ_CHECK(moved.find(m.key) != nullptr);
    const nlohmann::json value = api::read_json(m.value, nullptr, {.reject_duplicates = reject_duplicates});
    TOLLGATE_FUZZ_CHECK(!value.is_discarded());
    // With duplicates allowed the DOM keeps the last copy, as does find() of the last one.
    if (reject_duplicates) TOLLGATE_FUZZ_CHECK(value == dom[key]);
  }
  return 0;
}
