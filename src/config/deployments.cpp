#include "config/deployments.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <limits>
#include <map>
#include <utility>

#include "config/provider_env.hpp"

namespace tollgate::config::detail {
namespace {

struct ProviderBase {
  std::string_view provider;
  std::string_view api_base;
};

// Every provider is spoken to as OpenAI-compatible for now; these are their OpenAI-style roots.
constexpr std::array<ProviderBase, 16> kDefaultApiBases{{
    {"openai", "https://api.openai.com/v1"},
    {"anthropic", "https://api.anthropic.com/v1"},
    {"groq", "https://api.groq.com/openai/v1"},
    {"mistral", "https://api.mistral.ai/v1"},
    {"deepseek", "https://api.deepseek.com/v1"},
    {"together_ai", "https://api.together.xyz/v1"},
    {"fireworks_ai", "https://api.fireworks.ai/inference/v1"},
    {"openrouter", "https://openrouter.ai/api/v1"},
    {"xai", "https://api.x.ai/v1"},
    {"perplexity", "https://api.perplexity.ai"},
    {"lm_studio", "http://localhost:1234/v1"},
    {"text-completion-openai", "https://api.openai.com/v1"},
    {"ollama", "http://localhost:11434"},  // Ollama's native API (/api/chat), no /v1
    {"ollama_chat", "http://localhost:11434"},
    {"gemini", "https://generativelanguage.googleapis.com/v1beta"},
    {"vertex_ai", "https://us-central1-aiplatform.googleapis.com"},  // the adapter picks the host of vertex_location
}};

const Json kNull = nullptr;
constexpr std::int64_t kMaxInt64 = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kMaxInt = std::numeric_limits<int>::max();

constexpr std::array<std::string_view, 3> kEntryKeys{"model_name", "litellm_params", "model_info"};

std::string hex16(std::uint64_t h) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

// Hash of what identifies a deployment, without its secret: the id shows up in response headers
// and logs, so it must not vary with (or hint at) the api_key.
std::uint64_t identity_hash(const Deployment& d) {
  Json params = d.litellm_params;
  params.erase("api_key");
  params.erase("aws_secret_access_key");
  params.erase("aws_session_token");
  Json basis = {{"model_name", d.model_name}, {"litellm_params", std::move(params)}};
  // `replace` keeps invalid UTF-8 from throwing; valid text hashes the same either way.
  return fnv1a64(basis.dump(-1, ' ', false, Json::error_handler_t::replace));
}

void split_model(const std::string& model, const std::optional<std::string>& custom_provider, Deployment& d,
                 const std::string& path, LoadContext& ctx) {
  // LiteLLM's `custom_llm_provider` names the provider and leaves `model` whole.
  if (custom_provider && !custom_provider->empty()) {
    d.provider = *custom_provider;
    d.model = model;
    return;
  }
  auto slash = model.find('/');
  if (slash == std::string::npos) {
    d.provider = "openai";
    d.model = model;
    return;
  }
  d.provider = model.substr(0, slash);
  d.model = model.substr(slash + 1);
  if (d.provider.empty() || d.model.empty()) ctx.error(path, "expected 'provider/model', got '" + model + "'");
}

void read_model_info(const Section& entry, LoadContext& ctx, Deployment& d) {
  const Json* info = entry.get("model_info");
  Section s(info ? *info : kNull, entry.path_of("model_info"), ctx);
  if (!s.ok()) return;
  d.model_info = *info;
  if (const Json* id = s.get("id")) {
    if (id->is_string() && !id->get_ref<const std::string&>().empty()) {
      d.id = id->get<std::string>();
    } else if (id->is_number_integer()) {
      d.id = id->dump();
    } else {
      ctx.error(s.path_of("id"), "expected a non-empty string, got " + describe(*id));
    }
  }
  d.max_input_tokens = s.integer("max_input_tokens", 1, kMaxInt64);
  // LiteLLM's model_info spells the output limit `max_output_tokens`, and older entries `max_tokens`.
  d.max_output_tokens = s.integer("max_output_tokens", 1, kMaxInt64);
  if (!d.max_output_tokens) d.max_output_tokens = s.integer("max_tokens", 1, kMaxInt64);
  d.base_model = s.string("base_model").value_or("");
  d.access_groups = s.string_list("access_groups").value_or(std::vector<std::string>{});
}

// The router's per-deployment inputs. Both spellings of a pair are validated even when one wins,
// so a typo in the losing one is still reported.
void read_router_fields(const Section& p, const Section& info, Deployment& d) {
  d.weight = p.number_above("weight", 0);
  d.rpm = p.integer("rpm", 0, kMaxInt64);
  d.tpm = p.integer("tpm", 0, kMaxInt64);
  if (auto n = p.integer("order", 1, kMaxInt)) d.order = static_cast<int>(*n);
  d.tags = p.string_list("tags").value_or(std::vector<std::string>{});
  if (auto n = p.integer("max_parallel_requests", 1, kMaxInt)) d.max_parallel_requests = static_cast<int>(*n);
  d.cooldown_time = p.seconds_or_zero("cooldown_time");
  auto num_retries = p.integer("num_retries", 0, kMaxInt);
  auto max_retries = p.integer("max_retries", 0, kMaxInt);
  if (auto n = num_retries ? num_retries : max_retries) d.num_retries = static_cast<int>(*n);
  for (auto [key, field] : {std::pair{"input_cost_per_token", &Deployment::input_cost_per_token},
                            std::pair{"output_cost_per_token", &Deployment::output_cost_per_token},
                            std::pair{"cache_read_input_token_cost", &Deployment::cache_read_input_token_cost},
                            std::pair{"cache_creation_input_token_cost", &Deployment::cache_creation_input_token_cost}}) {
    auto from_params = p.number_at_least(key, 0);
    auto from_info = info.number_at_least(key, 0);
    d.*field = from_params ? from_params : from_info;
  }
}

// drop_params and additional_drop_params are validated here and left in litellm_params in one
// shape (a bool; a list of names) for the provider adapters, which read them per request.
void read_drop_params(const Section& p, Deployment& d) {
  if (auto drop = p.boolean("drop_params")) {
    d.litellm_params["drop_params"] = *drop;
  } else {
    d.litellm_params.erase("drop_params");
  }
  if (auto names = p.string_list("additional_drop_params", true)) {
    d.litellm_params["additional_drop_params"] = *names;
  } else {
    d.litellm_params.erase("additional_drop_params");
  }
}

// bedrock/: AWS credentials and region from the environment when litellm_params has none (as
// boto3 reads them), and the regional endpoint as the default api_base.
void read_bedrock_params(const Section& p, LoadContext& ctx, Deployment& d, bool base_given) {
  const std::array<std::pair<const char*, std::array<const char*, 2>>, 4> kFromEnv{{
      {"aws_access_key_id", {"AWS_ACCESS_KEY_ID", nullptr}},
      {"aws_secret_access_key", {"AWS_SECRET_ACCESS_KEY", nullptr}},
      {"aws_session_token", {"AWS_SESSION_TOKEN", nullptr}},
      {"aws_region_name", {"AWS_REGION", "AWS_DEFAULT_REGION"}},
  }};
  for (const auto& [key, vars] : kFromEnv) {
    if (!p.string(key).value_or("").empty()) continue;
    for (const char* var : vars) {
      if (var == nullptr) continue;
      if (auto value = ctx.env(var); value && !value->empty()) {
        d.litellm_params[key] = *value;
        break;
      }
    }
  }
  if (d.mock_response) return;
  auto has = [&d](const char* key) {
    auto it = d.litellm_params.find(key);
    return it != d.litellm_params.end() && it->is_string() && !it->get_ref<const std::string&>().empty();
  };
  if (!has("aws_access_key_id") || !has("aws_secret_access_key")) {
    ctx.error(p.path_of("aws_access_key_id"),
              "required for provider 'bedrock' with aws_secret_access_key (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)");
  }
  const std::string region = has("aws_region_name") ? d.litellm_params["aws_region_name"].get<std::string>() : "";
  if (!region.empty() && !std::all_of(region.begin(), region.end(), [](unsigned char c) {
        return std::islower(c) || std::isdigit(c) || c == '-';
      })) {
    ctx.error(p.path_of("aws_region_name"), "not an AWS region: '" + region + "'");
  } else if (!base_given && region.empty()) {
    ctx.error(p.path_of("aws_region_name"), "required for provider 'bedrock' without api_base (or AWS_REGION)");
  } else if (!base_given) {
    d.api_base = "https://bedrock-runtime." + region + ".amazonaws.com";
  }
}

void read_litellm_params(const Section& p, LoadContext& ctx, Deployment& d) {
  if (auto model = p.required_string("model")) {
    split_model(*model, p.string("custom_llm_provider"), d, p.path_of("model"), ctx);
  }
  d.mock_response = p.string("mock_response");
  if (auto base = p.string("api_base")) {
    if (auto url = normalize_http_url(*base)) {
      d.api_base = std::move(*url);
    } else {
      ctx.error(p.path_of("api_base"), "not a URL: '" + *base + "'");
    }
  }
  d.api_key = p.string("api_key").value_or("");
  // No api_key at all: the provider's own variable, as LiteLLM reads it (GROQ_API_KEY, ...).
  if (p.get("api_key") == nullptr && !ctx.is_unset(p.path_of("api_key"))) {
    d.api_key = provider_api_key_from_env(d.provider, ctx).value_or("");
  }
  read_drop_params(p, d);
  d.organization = p.string("organization").value_or("");
  d.api_version = p.string("api_version").value_or("");
  // LiteLLM's default for azure/ deployments, read once per load as every variable is.
  if (d.api_version.empty() && d.provider == "azure") d.api_version = ctx.env("AZURE_API_VERSION").value_or("");
  d.timeout = p.seconds("timeout");
  d.stream_timeout = p.seconds("stream_timeout");

  bool base_given = p.get("api_base") != nullptr || ctx.is_unset(p.path_of("api_base"));
  if (d.provider == "bedrock") {
    read_bedrock_params(p, ctx, d, base_given);
  } else if (!base_given && !d.provider.empty()) {
    d.api_base = std::string(default_api_base(d.provider));
    if (auto from_env = provider_api_base_from_env(d.provider, ctx)) {
      if (auto url = normalize_http_url(*from_env)) {
        d.api_base = std::move(*url);
      } else {
        ctx.error(p.path_of("api_base"), "not a URL: the provider's api_base environment variable");
      }
    }
    // A mocked deployment never calls out, so it needs no endpoint.
    if (d.api_base.empty() && !d.mock_response) {
      ctx.error(p.path_of("api_base"), "required for provider '" + d.provider + "' (it has no default)");
    }
  }
}

// nullopt when the entry is invalid (errors reported) or disabled (warning reported).
std::optional<Deployment> read_deployment(const Json& entry, std::size_t index, LoadContext& ctx) {
  const std::string path = "model_list[" + std::to_string(index) + "]";
  const std::size_t errors_before = ctx.errors().size();
  if (!entry.is_object()) {
    ctx.error(path, "expected a map, got " + describe(entry));
    return std::nullopt;
  }
  Section e(entry, path, ctx);
  e.check_keys(kEntryKeys);

  Deployment d;
  d.model_name = e.required_string("model_name").value_or("");
  const Json* params = e.get("litellm_params");
  if (params == nullptr && !ctx.is_unset(e.path_of("litellm_params"))) ctx.error(e.path_of("litellm_params"), "required");
  Section p(params ? *params : kNull, e.path_of("litellm_params"), ctx);

  // LiteLLM's usual pattern: a deployment per provider, each keyed from the environment. Whoever
  // has not set a key has not signed up for that provider: skip it instead of refusing to start.
  bool disabled = false;
  if (auto var = ctx.take_unset(p.path_of("api_key"))) {
    ctx.warn(p.path_of("api_key"),
             "environment variable " + *var + " is not set; deployment '" + d.model_name + "' disabled");
    disabled = true;
  } else if (const Json* key = p.get("api_key");
             key && key->is_string() && key->get_ref<const std::string&>().empty() && ctx.is_from_env(p.path_of("api_key"))) {
    // `OPENAI_API_KEY=` (compose and env files make empty values easily) means not signed up, too.
    ctx.warn(p.path_of("api_key"), "environment variable is empty; deployment '" + d.model_name + "' disabled");
    disabled = true;
  }
  if (p.ok()) {
    d.litellm_params = *params;
    read_litellm_params(p, ctx, d);
  }
  read_model_info(e, ctx, d);
  if (p.ok()) {
    const Json* info = e.get("model_info");
    // model_info errors were reported by read_model_info; a non-map one reads as empty here.
    read_router_fields(p, Section(info && info->is_object() ? *info : kNull, e.path_of("model_info"), ctx), d);
  }
  // A disabled deployment's other variables (api_base beside the key, typically) do not matter.
  if (disabled) ctx.drop_unset_under(path);
  if (disabled || ctx.errors().size() != errors_before) return std::nullopt;
  return d;
}

}  // namespace

std::string_view default_api_base(std::string_view provider) {
  for (const auto& entry : kDefaultApiBases) {
    if (entry.provider == provider) return entry.api_base;
  }
  return {};
}

std::optional<std::string> normalize_http_url(std::string_view url) {
  auto lower_starts = [&](std::string_view prefix) {
    if (url.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(url[i])) != prefix[i]) return false;
    }
    return true;
  };
  std::size_t scheme_len = lower_starts("https://") ? 8 : lower_starts("http://") ? 7 : 0;
  if (scheme_len == 0) return std::nullopt;
  if (std::any_of(url.begin(), url.end(), [](unsigned char c) { return c <= ' ' || c == 0x7f; })) return std::nullopt;

  std::string_view rest = url.substr(scheme_len);
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (auto at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') return std::nullopt;
    if (!after.empty()) port = after.substr(1);
    if (after.size() == 1) return std::nullopt;
  } else if (auto colon = authority.find(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (port.empty()) return std::nullopt;
  }
  if (host.empty()) return std::nullopt;
  if (!port.empty()) {
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c); }))
      return std::nullopt;
    if (std::stoi(std::string(port)) > 65535) return std::nullopt;
  }
  std::string out(url);
  while (out.size() > scheme_len && out.back() == '/') out.pop_back();
  return out;
}

std::uint64_t fnv1a64(std::string_view data, std::uint64_t seed) {
  std::uint64_t h = seed;
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::set<std::string, std::less<>> declared_groups(const Json& list) {
  std::set<std::string, std::less<>> out;
  if (!list.is_array()) return out;
  for (const Json& entry : list) {
    if (!entry.is_object()) continue;
    auto name = entry.find("model_name");
    if (name != entry.end() && name->is_string()) out.insert(name->get<std::string>());
  }
  return out;
}

void read_model_list(const Json& list, LoadContext& ctx, std::vector<Deployment>& out) {
  if (list.is_null()) return;
  if (!list.is_array()) {
    ctx.error("model_list", "expected a list, got " + describe(list));
    return;
  }
  std::map<std::string, std::string> owner_of_id;  // id -> path of the deployment that has it
  const std::size_t first = out.size();
  for (std::size_t i = 0; i < list.size(); ++i) {
    auto d = read_deployment(list[i], i, ctx);
    if (!d) continue;
    const std::string path = "model_list[" + std::to_string(i) + "]";
    if (!d->id.empty()) {
      auto [it, inserted] = owner_of_id.emplace(d->id, path);
      if (!inserted) {
        ctx.error(path + ".model_info.id", "duplicate id '" + d->id + "' (also used by " + it->second + ")");
        continue;
      }
    }
    out.push_back(std::move(*d));
  }
  // Generated ids go second so they steer around every explicit id. Deployments identical but for
  // their api_key (two accounts behind one group) hash alike; re-hashing keeps them apart.
  for (std::size_t i = first; i < out.size(); ++i) {
    Deployment& d = out[i];
    if (!d.id.empty()) continue;
    std::uint64_t h = identity_hash(d);
    while (owner_of_id.count(hex16(h)) != 0) h = fnv1a64("#", h);
    d.id = hex16(h);
    owner_of_id.emplace(d.id, "");
  }
}

}  // namespace tollgate::config::detail
