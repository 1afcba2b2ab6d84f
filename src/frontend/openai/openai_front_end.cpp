// The OpenAI front end: the gateway's internal dialect, so requests and answers pass unchanged.
#include "tollgate/api/api_error.hpp"
#include "tollgate/api/sse.hpp"
#include "tollgate/frontend/front_end.hpp"

namespace tollgate::frontend {
namespace {

class OpenAiFrontEnd final : public FrontEnd {
 public:
  api::ApiResult<Inbound> parse(std::string_view /*path*/, std::string_view /*body*/) const override {
    return Inbound{};  // the client's body is the internal request
  }
  std::string error_body(const api::ApiError& error) const override { return api::error_json(error); }
  api::ApiResult<std::string> render(std::string&& openai_body) const override { return std::move(openai_body); }
  std::unique_ptr<StreamRenderer> stream_renderer() const override { return nullptr; }
  void append_stream_error(std::string& out, const api::ApiError& error, bool /*vendor_relayed*/) const override {
    api::append_sse_data(out, api::error_json(error));
  }
};

}  // namespace

const FrontEnd& openai() {
  static const OpenAiFrontEnd front_end;
  return front_end;
}

}  // namespace tollgate::frontend
