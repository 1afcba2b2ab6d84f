#pragma once
// Time across modules: monotonic time for deadlines and latency, wall time for logs, budgets and
// records, and `Clock`, the seam through which the components that decide on time read it.
//
// Pure cores (router, limiter, attempt plan, alert rules) take `now` as a value. The components
// that call them take a `const Clock&`: app::App owns a SystemClock (or is handed a test's clock)
// and gives it to the request path (key expiry, admin timestamps, limits and budget windows) and
// to the Alerter. Tests move a ManualClock past an expiry or a window instead of sleeping.
//
// Thread safety: every member may be called from any thread, ManualClock::advance included.
#include <atomic>
#include <chrono>
#include <cstdint>

namespace tollgate {

using SteadyTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;

/// The system's wall time as unix milliseconds: what budgets, windows and stored rows are stamped with.
inline std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// Where a component reads the time from.
class Clock {
 public:
  virtual ~Clock() = default;
  /// Monotonic time: deadlines, latency, cache ages.
  virtual SteadyTime steady_now() const = 0;
  /// Wall time as unix milliseconds: expiries, budget windows, rate windows.
  virtual std::int64_t unix_ms() const = 0;
};

/// The system's clocks.
class SystemClock final : public Clock {
 public:
  SteadyTime steady_now() const override { return std::chrono::steady_clock::now(); }
  std::int64_t unix_ms() const override { return unix_ms_now(); }
};

/// A clock that moves only when told to (tests). It starts at the system's present, so that the
/// times it gives look like today's, and advance() moves its steady and wall time together.
class ManualClock final : public Clock {
 public:
  ManualClock() : steady_start_(std::chrono::steady_clock::now()), unix_start_ms_(unix_ms_now()) {}

  SteadyTime steady_now() const override { return steady_start_ + elapsed(); }
  std::int64_t unix_ms() const override {
    return unix_start_ms_ + std::chrono::duration_cast<std::chrono::milliseconds>(elapsed()).count();
  }
  /// Moves the time forward by `d` (not back: `d` below zero is ignored, steady time never falls).
  void advance(std::chrono::steady_clock::duration d) {
    if (d.count() > 0) elapsed_.fetch_add(d.count());
  }

 private:
  std::chrono::steady_clock::duration elapsed() const {
    return std::chrono::steady_clock::duration(elapsed_.load());
  }

  const SteadyTime steady_start_;
  const std::int64_t unix_start_ms_;
  std::atomic<std::chrono::steady_clock::rep> elapsed_{0};
};

}  // namespace tollgate
