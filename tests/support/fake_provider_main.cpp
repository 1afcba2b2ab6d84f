// tollgate-fake-provider: the fake OpenAI upstream as a process, for end-to-end tests and benchmarks.
//
//   tollgate-fake-provider [--host H] [--port P] [--tls-cert F --tls-key F] [--require-key K] [--record]
//
// Prints `listening on port N` once ready and serves until SIGTERM or SIGINT. Requests are not kept
// (nobody can read them from outside) unless --record is given.

#include <charconv>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <iostream>
#include <string>
#include <string_view>

#include "support/fake_provider.hpp"

namespace {

int usage(const char* argv0) {
  std::cerr << "usage: " << argv0 << " [--host H] [--port P] [--tls-cert F --tls-key F] [--require-key K] [--record]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  tollgate::testing::FakeProviderOptions options;
  options.record_requests = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--record") {
      options.record_requests = true;
    } else if (arg == "--host" && has_value) {
      options.host = argv[++i];
    } else if (arg == "--port" && has_value) {
      const std::string_view text = argv[++i];
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), options.port);
      if (ec != std::errc{} || end != text.data() + text.size()) return usage(argv[0]);
    } else if (arg == "--tls-cert" && has_value) {
      options.tls_cert_file = argv[++i];
    } else if (arg == "--tls-key" && has_value) {
      options.tls_key_file = argv[++i];
    } else if (arg == "--require-key" && has_value) {
      options.require_api_key = argv[++i];
    } else {
      return usage(argv[0]);
    }
  }
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) return usage(argv[0]);

  // Block the signals before the server thread starts so that only sigwait below receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  try {
    tollgate::testing::FakeProvider provider(options);
    provider.start();
    std::cout << "listening on port " << provider.port() << std::endl;
    int received = 0;
    sigwait(&signals, &received);
    provider.stop();
  } catch (const std::exception& e) {
    std::cerr << "tollgate-fake-provider: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
