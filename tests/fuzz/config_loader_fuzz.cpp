// The config loader (config::load_config_text): YAML text with os.environ/ references resolved
// through an injected environment. It must never throw, and a config comes back exactly when
// there are no errors. Input: the YAML text.
#include <optional>
#include <string>

#include "fuzz/fuzz_support.hpp"
#include "tollgate/config/loader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view yaml(reinterpret_cast<const char*>(data), size);
  // A fixed environment: names starting with SET_ (and the provider keys seeds use) resolve.
  const tollgate::config::EnvLookup env = [](const std::string& name) -> std::optional<std::string> {
    if (name.starts_with("SET_") || name == "OPENAI_API_KEY" || name == "LITELLM_MASTER_KEY") return "sk-fuzz-value";
    return std::nullopt;
  };
  const tollgate::config::LoadResult r = tollgate::config::load_config_text(yaml, env, "fuzz.yaml");
  TOLLGATE_FUZZ_CHECK(r.config.has_value() == r.errors.empty());
  for (const auto& p : r.errors) TOLLGATE_FUZZ_CHECK(!p.to_string().empty());
  for (const auto& p : r.warnings) TOLLGATE_FUZZ_CHECK(!p.to_string().empty());
  return 0;
}
