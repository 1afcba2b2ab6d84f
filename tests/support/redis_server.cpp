#include "support/redis_server.hpp"

#include "support/child_process.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <stdexcept>
#include <system_error>
#include <thread>

#include <hiredis/hiredis.h>

namespace tollgate::testing {
namespace {

constexpr const char* kBinary = "redis-server";
constexpr auto kStartLimit = std::chrono::seconds(10);

struct ContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

ContextPtr connect_blocking(std::uint16_t port) {
  const timeval timeout{1, 0};
  ContextPtr c(redisConnectWithTimeout("127.0.0.1", port, timeout));
  if (!c || c->err != 0) return nullptr;
  redisSetTimeout(c.get(), timeout);
  return c;
}

ReplyPtr run(redisContext* c, const std::vector<std::string>& argv) {
  std::vector<const char*> ptrs;
  std::vector<std::size_t> lens;
  for (const auto& a : argv) {
    ptrs.push_back(a.data());
    lens.push_back(a.size());
  }
  return ReplyPtr(static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(argv.size()), ptrs.data(), lens.data())));
}

}  // namespace

RedisServer::RedisServer(RedisServerOptions options) : options_(std::move(options)) {
  port_ = free_port();
  start();
}

RedisServer::~RedisServer() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

void RedisServer::start() {
  if (pid_ > 0) return;
  const std::string binary = find_on_path(kBinary);
  if (binary.empty()) {
    throw std::runtime_error(
        "redis-server not found on PATH: the Redis tests need a real server; install it with "
        "`scripts/install-deps --test` (Debian package redis-server)");
  }
  const std::string log_file = dir_.file("redis.log");
  std::vector<std::string> args = {binary,       "--port",    std::to_string(port_), "--bind",   "127.0.0.1",
                                   "--save",     "",          "--appendonly",        "no",       "--dir",
                                   dir_.path(),  "--logfile", log_file,              "--daemonize", "no"};
  if (!options_.password.empty()) {
    args.emplace_back("--requirepass");
    args.push_back(options_.password);
  }
  const pid_t pid = spawn_process(args);
  pid_ = pid;

  const auto deadline = std::chrono::steady_clock::now() + kStartLimit;
  while (!answers_ping()) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("redis-server exited at start-up on port " + std::to_string(port_) + ":\n" +
                               read_text_file(log_file));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("redis-server did not answer PING on port " + std::to_string(port_) + ":\n" +
                               read_text_file(log_file));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void RedisServer::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

bool RedisServer::answers_ping() const {
  ContextPtr c = connect_blocking(port_);
  if (!c) return false;
  // Any reply counts, NOAUTH included: the server is up.
  const ReplyPtr reply = run(c.get(), {"PING"});
  return reply != nullptr;
}

std::string RedisServer::command(const std::vector<std::string>& argv) const {
  ContextPtr c = connect_blocking(port_);
  if (!c) throw std::runtime_error("cannot connect to redis-server on port " + std::to_string(port_));
  if (!options_.password.empty()) {
    const ReplyPtr auth = run(c.get(), {"AUTH", options_.password});
    if (!auth || auth->type == REDIS_REPLY_ERROR) throw std::runtime_error("AUTH failed");
  }
  const ReplyPtr reply = run(c.get(), argv);
  if (!reply) throw std::runtime_error("no reply: " + std::string(c->errstr));
  if (reply->type == REDIS_REPLY_INTEGER) return std::to_string(reply->integer);
  if (reply->str != nullptr) return std::string(reply->str, reply->len);
  return {};
}

}  // namespace tollgate::testing
