#include "support/gateway_process.hpp"

#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "support/child_process.hpp"

namespace tollgate::testing {

using namespace std::chrono_literals;

GatewayProcess::GatewayProcess(const std::string& binary, const std::string& config_file, const std::string& log_file,
                               const GatewayProcessOptions& options)
    : port_(free_port()), log_file_(log_file) {
  // By default the child runs in the log file's directory, so its default SQLite file lands there too.
  const std::string dir =
      options.working_dir.empty() ? std::filesystem::path(log_file).parent_path().string() : options.working_dir;
  std::vector<std::string> args = {binary, "--config", config_file, "--port", std::to_string(port_), "--num_workers", "2"};
  args.insert(args.end(), options.args.begin(), options.args.end());
  pid_ = spawn_process(args, log_file, options.env, dir);
  wait_until_serving(pid_, port_, "/health/liveliness", 15s, "tollgate", log_file_);
}

GatewayProcess::~GatewayProcess() { stop(); }

int GatewayProcess::stop() {
  if (pid_ <= 0) return 0;
  ::kill(pid_, SIGTERM);
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (::waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(10ms);
  }
  pid_ = -1;
  return status;
}

void GatewayProcess::kill_hard() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

}  // namespace tollgate::testing
