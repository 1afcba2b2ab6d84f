#include "support/fake_webhook.hpp"

namespace tollgate::testing {

FakeWebhook::FakeWebhook() : FakeHttpServer({}, [this](const FakeRequest& request) { return plan(request); }) { start(); }

FakeWebhook::~FakeWebhook() { stop(); }

std::string FakeWebhook::url(const std::string& path) const { return root_url() + path; }

void FakeWebhook::script(std::vector<unsigned> statuses) {
  std::lock_guard lock(mu_);
  script_.assign(statuses.begin(), statuses.end());
}

void FakeWebhook::set_delay(std::chrono::milliseconds delay) {
  std::lock_guard lock(mu_);
  delay_ = delay;
}

FakeExchange FakeWebhook::plan(const FakeRequest& /*request*/) {
  FakeExchange ex;
  {
    std::lock_guard lock(mu_);
    if (!script_.empty()) {
      ex.reply.status = script_.front();
      script_.pop_front();
    }
    ex.controls.delay_headers_ms = static_cast<int>(delay_.count());
  }
  ex.reply.content_type = "text/plain";
  ex.reply.body = ex.reply.status < 300 ? "ok" : "error";
  return ex;
}

}  // namespace tollgate::testing
