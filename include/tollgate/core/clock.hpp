#pragma once
// Time points used across modules: monotonic time for deadlines and latency, wall time for logs
// and records. (An injectable Clock interface arrives with the first module whose decisions
// depend on time, the router's cooldowns, so that its tests can run on a fake clock.)
#include <chrono>
#include <cstdint>

namespace tollgate {

using SteadyTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;

/// Wall time as unix milliseconds: what budgets, windows and stored rows are stamped with.
inline std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace tollgate
