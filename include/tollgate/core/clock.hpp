#pragma once
// Time points used across modules: monotonic time for deadlines and latency, wall time for logs
// and records. (An injectable Clock interface arrives with the first module whose decisions
// depend on time, the router's cooldowns, so that its tests can run on a fake clock.)
#include <chrono>

namespace tollgate {

using SteadyTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;

}  // namespace tollgate
