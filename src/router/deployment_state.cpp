#include "tollgate/router/deployment_state.hpp"

namespace tollgate::router {
namespace {

std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

std::size_t slot_of(std::int64_t second) {
  return static_cast<std::size_t>(((second % SlidingWindow::kSeconds) + SlidingWindow::kSeconds) %
                                  SlidingWindow::kSeconds);
}

}  // namespace

void SlidingWindow::add(std::int64_t now_ms, std::int64_t n) {
  const std::int64_t second = floor_div(now_ms, 1000);
  const std::size_t slot = slot_of(second);
  if (second_[slot] != second) {
    second_[slot] = second;
    count_[slot] = 0;
  }
  count_[slot] += n;
}

void SlidingWindow::add_at(std::int64_t at_ms, std::int64_t now_ms, std::int64_t n) {
  const std::int64_t at = floor_div(at_ms, 1000);
  const std::int64_t now = floor_div(now_ms, 1000);
  if (at <= now - kSeconds || at > now) return;
  const std::size_t slot = slot_of(at);
  if (second_[slot] > at) return;  // reused by a later second (cannot happen inside the window)
  if (second_[slot] != at) {
    second_[slot] = at;
    count_[slot] = 0;
  }
  count_[slot] += n;
}

std::int64_t SlidingWindow::sum(std::int64_t now_ms) const {
  const std::int64_t second = floor_div(now_ms, 1000);
  std::int64_t total = 0;
  for (std::size_t i = 0; i < count_.size(); ++i) {
    if (second_[i] > second - kSeconds && second_[i] <= second) total += count_[i];
  }
  return total;
}

std::int64_t SlidingWindow::ms_until_at_most(std::int64_t now_ms, std::int64_t target) const {
  const std::int64_t second = floor_div(now_ms, 1000);
  std::int64_t total = sum(now_ms);
  if (total <= target) return 0;
  // Buckets leave the window oldest first: a bucket for second s counts until s + 60.
  for (std::int64_t s = second - kSeconds + 1; s <= second; ++s) {
    const std::size_t slot = slot_of(s);
    if (second_[slot] != s) continue;
    total -= count_[slot];
    if (total <= target) return (s + kSeconds) * 1000 - now_ms;
  }
  return (second + kSeconds) * 1000 - now_ms;
}

void SlidingWindow::clear() {
  count_.fill(0);
  second_.fill(0);
}

void LatencySamples::add(std::int64_t now_ms, double value) {
  samples_[next_] = {now_ms, value, true};
  next_ = (next_ + 1) % kSlots;
}

double LatencySamples::mean(std::int64_t now_ms) const {
  double total = 0;
  int n = 0;
  for (const auto& s : samples_) {
    if (!s.used || s.at_ms < now_ms - kHorizonMs) continue;
    total += s.value;
    ++n;
  }
  return n == 0 ? -1.0 : total / n;
}

}  // namespace tollgate::router
