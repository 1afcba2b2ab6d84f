// The admin API's body reading and validation (admin::parse_body, admin::validate_fields) for each
// entity's field table, then the validated object serialized as the store writes it.
// Input: [entity: key, team, user, organization, end user, budget][body].
#include <array>
#include <span>
#include <string>

#include "admin/fields.hpp"
#include "fuzz/fuzz_support.hpp"
#include "tollgate/api/json_scan.hpp"

namespace admin = tollgate::admin;
namespace api = tollgate::api;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::array<std::span<const admin::FieldSpec>, 6> kEntities{
      admin::key_fields(),          admin::team_fields(),     admin::user_fields(),
      admin::organization_fields(), admin::end_user_fields(), admin::budget_fields()};
  tollgate::fuzz::Input in(data, size);
  const auto spec = kEntities[in.byte() % kEntities.size()];
  const std::string_view body = in.rest();

  auto parsed = admin::parse_body(body);
  if (!parsed) {
    TOLLGATE_FUZZ_CHECK(parsed.error().status == 400);
    TOLLGATE_FUZZ_CHECK(api::is_valid_json(api::error_json(parsed.error())));
    return 0;
  }
  TOLLGATE_FUZZ_CHECK(parsed->is_object());
  auto valid = admin::validate_fields(*parsed, spec);
  if (!valid) {
    TOLLGATE_FUZZ_CHECK(valid.error().status == 400 && valid.error().param);
    TOLLGATE_FUZZ_CHECK(api::is_valid_json(api::error_json(valid.error())));
    return 0;
  }
  // Owned names never survive validation; everything else is stored as JSON text.
  for (const char* owned : {"spend", "token", "created_at", "expires", "model_spend"}) {
    TOLLGATE_FUZZ_CHECK(!valid->contains(owned));
  }
  const std::string stored = valid->dump();
  TOLLGATE_FUZZ_CHECK(api::is_valid_json(stored));
  for (const auto& [name, value] : valid->items()) TOLLGATE_FUZZ_CHECK(api::is_valid_json(value.dump()));
  return 0;
}
