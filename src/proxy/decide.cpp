// The decide stage (decide.hpp).
#include "proxy/decide.hpp"

#include "tollgate/api/echoed_text.hpp"

namespace tollgate::proxy {

api::ApiResult<router::Target> decide(const router::Router& router, std::string_view model,
                                      std::string_view requested) {
  if (std::optional<router::Target> target = router.resolve(model)) return std::move(*target);
  std::string known;
  const auto names = router.listed_models();
  for (std::size_t i = 0; i < names.size() && i < 20; ++i) known += (i ? ", " : "") + names[i];
  return api::make_error(Errc::kUnknownModel,
                         "Invalid model name passed in model=" + api::capped_name(requested) +
                             ". Call `/v1/models` to view available models for your key." +
                             (known.empty() ? "" : " Available: " + known + "."),
                         "model");
}

}  // namespace tollgate::proxy
