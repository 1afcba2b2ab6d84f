#pragma once
// What the router knows about one deployment at run time: in-flight requests, its cooldown,
// requests/tokens/failures over a sliding minute, and recent latencies. One DeploymentState per
// deployment, shared by every worker thread of the process; with Redis configured the shared
// layer (shared_state.hpp) adds what the other replicas report into the `remote_*` fields.
//
// Time is passed in as unix milliseconds on every call (no clock inside), so the rules are unit-
// tested on a fake clock and the numbers mean the same thing on every replica.
//
// Thread safety: the atomics are read without a lock on the hot path; everything else is guarded
// by `mu`.
#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>

#include "tollgate/config/config.hpp"

namespace tollgate::router {

/// Counts over the last 60 seconds in one-second buckets: the sum slides a second at a time,
/// never resetting everything at a minute boundary. Not thread-safe.
class SlidingWindow {
 public:
  static constexpr std::int64_t kSeconds = 60;
  void add(std::int64_t now_ms, std::int64_t n);
  /// Adds to the bucket of an earlier moment `at_ms` while it is still in the window at `now_ms`
  /// (a correction to what was counted then); nothing once it has left.
  void add_at(std::int64_t at_ms, std::int64_t now_ms, std::int64_t n);
  std::int64_t sum(std::int64_t now_ms) const;
  /// Milliseconds from `now_ms` until the sum is at most `target` (0 when it already is).
  std::int64_t ms_until_at_most(std::int64_t now_ms, std::int64_t target) const;
  void clear();

 private:
  std::array<std::int64_t, kSeconds> count_{};
  std::array<std::int64_t, kSeconds> second_{};  // the unix second each bucket currently holds
};

/// The last few samples of a latency, newest wins the slot; samples older than the horizon are
/// ignored, so the average follows the deployment as it changes (it slides, unlike a list that
/// only ever grows). Not thread-safe.
class LatencySamples {
 public:
  static constexpr std::size_t kSlots = 20;
  static constexpr std::int64_t kHorizonMs = 5 * 60 * 1000;
  void add(std::int64_t now_ms, double value);
  /// Mean of the samples inside the horizon; negative when there are none.
  double mean(std::int64_t now_ms) const;

 private:
  struct Sample {
    std::int64_t at_ms = 0;
    double value = 0;
    bool used = false;
  };
  std::array<Sample, kSlots> samples_{};
  std::size_t next_ = 0;
};

struct DeploymentState {
  std::atomic<std::int64_t> cooldown_until_ms{0};  // unix ms; the deployment is skipped before it
  std::atomic<std::int32_t> in_flight{0};           // this replica's requests now running on it
  // Filled by the shared layer from the other replicas (0 without Redis).
  std::atomic<std::int32_t> remote_in_flight{0};
  std::atomic<std::int64_t> remote_requests{0};     // requests in the sliding minute
  std::atomic<std::int64_t> remote_tokens{0};       // tokens in the sliding minute
  // Claimed here since the shared layer last pushed them to Redis.
  std::atomic<std::int64_t> unsynced_requests{0};
  std::atomic<std::int64_t> unsynced_tokens{0};

  mutable std::mutex mu;
  SlidingWindow requests;        // claimed before each call (this replica)
  SlidingWindow tokens;          // estimate claimed before the call, corrected by real usage
  SlidingWindow attempts;        // finished attempts, for the failure-rate rule
  SlidingWindow failures;        // failures that count towards cooldowns (not the caller's fault)
  std::array<SlidingWindow, config::kErrorClassCount> failures_by_class;
  LatencySamples latency_per_token;  // seconds per output token, non-stream calls
  LatencySamples time_to_first_token;  // seconds, streams
};

}  // namespace tollgate::router
