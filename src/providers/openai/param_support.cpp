#include "providers/openai/param_support.hpp"

#include <array>

namespace tollgate::providers {
namespace {

struct Rejected {
  std::string_view provider;
  std::string_view model_prefix;  // "" = every model of the provider
  std::string_view param;
  bool unless_one = false;        // rejected only when the value is not 1 (`n`)
};

// From each vendor's chat-completions reference:
//   groq: "logprobs, logit_bias, top_logprobs are not supported"; "n: only 1 is supported".
//   mistral: no logit_bias, logprobs or top_logprobs in its chat API (extra fields are a 422).
//   deepseek-reasoner: logprobs and top_logprobs "will trigger an error" (temperature, top_p and
//     the penalties are accepted and ignored, so they are not here).
//   perplexity (Sonar): no tools or tool_choice.
//   xai reasoning models (grok-3-mini, grok-4): presence_penalty, frequency_penalty and stop
//     "are not supported by reasoning models" and return an error.
constexpr std::array<Rejected, 17> kRejected{{
    {"groq", "", "logprobs"},
    {"groq", "", "top_logprobs"},
    {"groq", "", "logit_bias"},
    {"groq", "", "n", true},
    {"mistral", "", "logprobs"},
    {"mistral", "", "top_logprobs"},
    {"mistral", "", "logit_bias"},
    {"deepseek", "deepseek-reasoner", "logprobs"},
    {"deepseek", "deepseek-reasoner", "top_logprobs"},
    {"perplexity", "", "tools"},
    {"perplexity", "", "tool_choice"},
    {"xai", "grok-3-mini", "presence_penalty"},
    {"xai", "grok-3-mini", "frequency_penalty"},
    {"xai", "grok-3-mini", "stop"},
    {"xai", "grok-4", "presence_penalty"},
    {"xai", "grok-4", "frequency_penalty"},
    {"xai", "grok-4", "stop"},
}};

bool present(const api::ScannedObject& top, std::string_view name, bool unless_one) {
  const api::JsonMember* m = top.find(name);
  if (!m || m->value == "null") return false;
  return !unless_one || m->value != "1";
}

}  // namespace

std::vector<std::string_view> rejected_params(std::string_view provider, std::string_view model,
                                              const api::ScannedObject& top) {
  std::vector<std::string_view> out;
  for (const Rejected& r : kRejected) {
    if (r.provider != provider || !model.starts_with(r.model_prefix)) continue;
    if (present(top, r.param, r.unless_one)) out.push_back(r.param);
  }
  return out;
}

api::ApiError unsupported_params_error(std::string_view provider, std::string_view model,
                                       const std::vector<std::string_view>& params) {
  std::string names;
  for (std::string_view p : params) {
    if (!names.empty()) names += ", ";
    names += "'" + std::string(p) + "'";
  }
  return api::make_error(Errc::kInvalidRequest,
                         "UnsupportedParamsError: " + std::string(provider) + " does not support parameters: [" + names +
                             "], for model=" + std::string(model) +
                             ". To drop these, set `drop_params: true` under litellm_settings (every deployment) or "
                             "in this deployment's litellm_params.",
                         params.empty() ? std::string() : std::string(params.front()));
}

}  // namespace tollgate::providers
