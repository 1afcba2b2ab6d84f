#include "tollgate/limits/local_state.hpp"

namespace tollgate::limits {
namespace {

// One replica's limits: the shared LocalLimitState answers at once, without suspending.
class LocalLimiter final : public Limiter {
 public:
  explicit LocalLimiter(std::shared_ptr<LocalLimitState> state) : state_(std::move(state)) {}

  asio::awaitable<Result<Admission>> admit(const std::vector<Scope>& scopes, const Demand& demand,
                                           std::int64_t now_ms) override {
    Result<Admission> r = state_->admit(scopes, demand, now_ms);
    co_return r;
  }

  void settle(Ticket ticket, std::int64_t tokens, double cost, std::int64_t now_ms) override {
    state_->settle(ticket, tokens, cost, now_ms);
  }

 private:
  std::shared_ptr<LocalLimitState> state_;
};

}  // namespace

std::unique_ptr<Limiter> make_local_limiter(std::shared_ptr<LocalLimitState> state) {
  return std::make_unique<LocalLimiter>(std::move(state));
}

}  // namespace tollgate::limits
