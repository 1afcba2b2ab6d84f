#pragma once
// An asynchronous Redis client that runs on one io_context: hiredis's async context driven by
// Asio (the socket is watched with a non-owning posix::stream_descriptor), commands awaited from
// coroutines. Used for state shared between gateway instances (router cooldowns, usage, limits).
//
// Pipelining: commands issued in the same loop iteration go out in one write; replies are matched
// in order by hiredis. Many coroutines may await commands on one connection at once.
//
// Failure behaviour: Redis is an optimisation, never a reason to hang a request.
//  - While not connected, command() and eval() fail at once with Errc::kRedisUnavailable.
//  - A lost connection (EOF, reset, failed AUTH/SELECT) fails every pending command with
//    kRedisUnavailable and reconnects with backoff (100 ms doubling to 2 s), forever, until stop().
//  - No timer per command: one periodic check (every 100 ms at most) looks at the oldest pending
//    command; once it is older than `command_timeout` the connection is declared dead as above.
//    A connection attempt (connect + AUTH/SELECT/PING) has max(command_timeout, 1 s).
//  - An error *reply* (`-ERR ...`, `-WRONGTYPE ...`) is a reply of type kError, not a failure.
//  - Loss is logged once per outage (warn), recovery once (info); never per command.
//
// Thread safety: none. A RedisConnection belongs to one io_context run by one thread (one per
// worker); construct, call and destroy it on that thread. Completions are posted to the awaiting
// coroutine's executor, never run inside hiredis.
// Lifetime: destroy the connection before its io_context. Destroying it (or stop()) with commands
// pending completes them with kRedisUnavailable; a RedisScript passed to eval() must outlive it.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "tollgate/config/config.hpp"
#include "tollgate/core/errc.hpp"

namespace spdlog {
class logger;
}

namespace tollgate::store {

namespace asio = boost::asio;

/// A Redis reply as a value (RESP2 types).
struct RedisReply {
  enum class Type { kNil, kInteger, kString, kStatus, kArray, kError };
  Type type = Type::kNil;
  std::int64_t integer = 0;          // kInteger
  std::string str;                   // kString, kStatus ("OK"), kError ("ERR ...")
  std::vector<RedisReply> elements;  // kArray

  bool is_error() const { return type == Type::kError; }
};

/// A Lua script with its SHA-1, for EVALSHA. Immutable; share freely.
class RedisScript {
 public:
  explicit RedisScript(std::string lua);
  const std::string& source() const { return source_; }
  const std::string& sha1() const { return sha1_; }  // lower-case hex, as Redis names scripts

 private:
  std::string source_;
  std::string sha1_;
};

class RedisConnection {
 public:
  static constexpr std::chrono::milliseconds kDefaultCommandTimeout{500};

  RedisConnection(asio::io_context& io, config::RedisSettings settings, std::shared_ptr<spdlog::logger> log,
                  std::chrono::milliseconds command_timeout = kDefaultCommandTimeout);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  /// Connects (AUTH [username] password and SELECT db when configured) and keeps reconnecting
  /// until stop(). Returns at once; connected() turns true when the server has answered.
  void start();
  /// Fails pending commands, closes the connection, stops reconnecting. Idempotent.
  void stop();
  bool connected() const;

  /// Sends one command. Fails with kRedisUnavailable when not connected, when the connection is
  /// lost before the reply, or on timeout. Callers pass named values: see docs/request-lifecycle.md
  /// on GCC 12 and co_await arguments.
  asio::awaitable<Result<RedisReply>> command(std::vector<std::string> argv);
  /// EVALSHA; on NOSCRIPT (script cache flushed, other server) EVAL once, which caches it again.
  asio::awaitable<Result<RedisReply>> eval(const RedisScript& script, std::vector<std::string> keys,
                                           std::vector<std::string> args);
  /// Fire and forget: failures and error replies are only counted in errors().
  void send(std::vector<std::string> argv);

  /// Commands that failed (unavailable, lost, timed out) plus error replies to send().
  std::uint64_t errors() const;
  /// Times the connection was established again after having been up and lost.
  std::uint64_t reconnects() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace tollgate::store
