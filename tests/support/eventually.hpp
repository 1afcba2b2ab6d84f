#pragma once
// Polls a condition another thread will make true, briefly, instead of sleeping a fixed time.
// `every` is the pause between polls: longer for conditions that cost a request to a server.
#include <chrono>
#include <functional>
#include <thread>

namespace tollgate::testing {

inline bool eventually(const std::function<bool()>& condition,
                       std::chrono::milliseconds limit = std::chrono::seconds(5),
                       std::chrono::milliseconds every = std::chrono::milliseconds(2)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(every);
  }
  return condition();
}

}  // namespace tollgate::testing
