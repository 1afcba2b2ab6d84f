// store::RedisConnection against a real redis-server child process: round trips, pipelining under
// concurrency, scripts, AUTH, outages, restarts, stalls and shutdown with commands in flight.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <optional>
#include <regex>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include "support/redis_server.hpp"
#include "tollgate/store/redis.hpp"

namespace tollgate::testing {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using store::RedisConnection;
using store::RedisReply;
using store::RedisScript;
using Clock = std::chrono::steady_clock;
using Argv = std::vector<std::string>;

// Counts log lines by level (the tests check how often, never what they say).
class CountingSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  int warnings = 0;
  int infos = 0;

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    if (msg.level == spdlog::level::warn) ++warnings;
    if (msg.level == spdlog::level::info) ++infos;
  }
  void flush_() override {}
};

config::RedisSettings settings_for(const RedisServer& server) {
  config::RedisSettings s;
  s.host = "127.0.0.1";
  s.port = server.port();
  return s;
}

long long milliseconds_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

bool is_unavailable(const Result<RedisReply>& r) {
  return !r && r.error() == make_error_code(Errc::kRedisUnavailable);
}

asio::awaitable<void> echo(RedisConnection& conn, int i, int& correct, int& done) {
  std::string value = "value-" + std::to_string(i);
  Argv argv{"ECHO", value};
  Result<RedisReply> r = co_await conn.command(std::move(argv));
  if (r && r->type == RedisReply::Type::kString && r->str == value) ++correct;
  ++done;
}

asio::awaitable<void> incr(RedisConnection& conn, int& correct, int& done) {
  Argv argv{"INCR", "concurrent-counter"};
  Result<RedisReply> r = co_await conn.command(std::move(argv));
  if (r && r->type == RedisReply::Type::kInteger) ++correct;
  ++done;
}

asio::awaitable<void> get_into(RedisConnection& conn, std::vector<Result<RedisReply>>& out) {
  Argv argv{"GET", "some-key"};
  Result<RedisReply> r = co_await conn.command(std::move(argv));
  out.push_back(std::move(r));
}

class RedisTest : public ::testing::Test {
 protected:
  std::shared_ptr<spdlog::logger> make_log() {
    sink_ = std::make_shared<CountingSink>();
    return std::make_shared<spdlog::logger>("redis-test", sink_);
  }

  /// Runs the io_context until `done()` holds or `limit` passes.
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds limit = 5s) {
    const auto deadline = Clock::now() + limit;
    while (!done()) {
      if (Clock::now() >= deadline) return false;
      io_.restart();
      io_.run_one_for(10ms);
    }
    return true;
  }
  void run_for(std::chrono::milliseconds d) {
    run_until([] { return false; }, d);
  }

  Result<RedisReply> run(RedisConnection& conn, Argv argv) {
    std::optional<Result<RedisReply>> out;
    asio::co_spawn(io_, conn.command(std::move(argv)), [&](std::exception_ptr e, Result<RedisReply> r) {
      if (e) std::rethrow_exception(e);
      out.emplace(std::move(r));
    });
    EXPECT_TRUE(run_until([&] { return out.has_value(); })) << "command did not complete";
    return out ? std::move(*out) : Result<RedisReply>(make_error_code(Errc::kInternal));
  }

  Result<RedisReply> run_eval(RedisConnection& conn, const RedisScript& script, Argv keys, Argv args) {
    std::optional<Result<RedisReply>> out;
    asio::co_spawn(io_, conn.eval(script, std::move(keys), std::move(args)),
                   [&](std::exception_ptr e, Result<RedisReply> r) {
                     if (e) std::rethrow_exception(e);
                     out.emplace(std::move(r));
                   });
    EXPECT_TRUE(run_until([&] { return out.has_value(); })) << "eval did not complete";
    return out ? std::move(*out) : Result<RedisReply>(make_error_code(Errc::kInternal));
  }

  void connect(RedisConnection& conn) {
    conn.start();
    ASSERT_TRUE(run_until([&] { return conn.connected(); }, 3s)) << "never connected";
  }

  asio::io_context io_;
  std::shared_ptr<CountingSink> sink_;
};

long long command_calls(const RedisServer& server, const std::string& command) {
  const std::string info = server.command({"INFO", "commandstats"});
  std::smatch m;
  const std::regex re("cmdstat_" + command + ":calls=([0-9]+)");
  return std::regex_search(info, m, re) ? std::stoll(m[1]) : 0;
}

TEST_F(RedisTest, CommandRoundTrip) {
  RedisServer server;
  RedisConnection conn(io_, settings_for(server), make_log());
  connect(conn);

  Result<RedisReply> set = run(conn, {"SET", "greeting", "hello"});
  ASSERT_TRUE(set);
  EXPECT_EQ(set->type, RedisReply::Type::kStatus);
  EXPECT_EQ(set->str, "OK");

  Result<RedisReply> get = run(conn, {"GET", "greeting"});
  ASSERT_TRUE(get);
  EXPECT_EQ(get->type, RedisReply::Type::kString);
  EXPECT_EQ(get->str, "hello");

  Result<RedisReply> one = run(conn, {"INCR", "n"});
  Result<RedisReply> two = run(conn, {"INCR", "n"});
  ASSERT_TRUE(one && two);
  EXPECT_EQ(one->type, RedisReply::Type::kInteger);
  EXPECT_EQ(one->integer, 1);
  EXPECT_EQ(two->integer, 2);

  Result<RedisReply> missing = run(conn, {"GET", "no-such-key"});
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->type, RedisReply::Type::kNil);

  // Binary-safe arguments and an array reply.
  const std::string binary("a\0b\r\nc", 6);
  ASSERT_TRUE(run(conn, {"RPUSH", "list", binary, "second"}));
  Result<RedisReply> range = run(conn, {"LRANGE", "list", "0", "-1"});
  ASSERT_TRUE(range);
  ASSERT_EQ(range->type, RedisReply::Type::kArray);
  ASSERT_EQ(range->elements.size(), 2u);
  EXPECT_EQ(range->elements[0].str, binary);
  EXPECT_EQ(range->elements[1].str, "second");

  // An error reply is a reply, not a failure.
  Result<RedisReply> wrong = run(conn, {"INCR", "greeting"});
  ASSERT_TRUE(wrong);
  EXPECT_TRUE(wrong->is_error());
  EXPECT_EQ(wrong->str.rfind("ERR", 0), 0u) << wrong->str;
  EXPECT_TRUE(conn.connected());
  EXPECT_EQ(conn.errors(), 0u);
}

TEST_F(RedisTest, ThousandConcurrentCommandsOnOneConnection) {
  RedisServer server;
  RedisConnection conn(io_, settings_for(server), make_log());
  connect(conn);

  constexpr int kEach = 500;
  int correct = 0;
  int done = 0;
  for (int i = 0; i < kEach; ++i) {
    asio::co_spawn(io_, echo(conn, i, correct, done), asio::detached);
    asio::co_spawn(io_, incr(conn, correct, done), asio::detached);
  }
  ASSERT_TRUE(run_until([&] { return done == 2 * kEach; }, 10s)) << done << " of " << 2 * kEach;
  EXPECT_EQ(correct, 2 * kEach);
  EXPECT_EQ(server.command({"GET", "concurrent-counter"}), std::to_string(kEach));
  EXPECT_EQ(conn.errors(), 0u);
  // All of it went over one connection (ours, plus the one asking).
  EXPECT_NE(server.command({"INFO", "clients"}).find("connected_clients:2\r\n"), std::string::npos);
}

TEST_F(RedisTest, EvalUsesTheScriptCacheAndSurvivesScriptFlush) {
  RedisServer server;
  RedisConnection conn(io_, settings_for(server), make_log());
  connect(conn);
  const RedisScript script("return redis.call('INCRBY', KEYS[1], ARGV[1])");
  EXPECT_EQ(script.sha1(), server.command({"SCRIPT", "LOAD", script.source()}));
  ASSERT_EQ(server.command({"SCRIPT", "FLUSH"}), "OK");

  // Unknown to the server: EVALSHA answers NOSCRIPT, EVAL runs and caches it.
  Result<RedisReply> first = run_eval(conn, script, {"budget"}, {"5"});
  ASSERT_TRUE(first);
  ASSERT_EQ(first->type, RedisReply::Type::kInteger) << first->str;
  EXPECT_EQ(first->integer, 5);
  const long long evals = command_calls(server, "eval");
  EXPECT_EQ(evals, 1);

  // Cached now: EVALSHA alone.
  Result<RedisReply> second = run_eval(conn, script, {"budget"}, {"3"});
  ASSERT_TRUE(second);
  EXPECT_EQ(second->integer, 8);
  EXPECT_EQ(command_calls(server, "eval"), evals);

  // The cache is flushed behind our back: one NOSCRIPT, one EVAL, and the right answer.
  ASSERT_EQ(server.command({"SCRIPT", "FLUSH"}), "OK");
  Result<RedisReply> third = run_eval(conn, script, {"budget"}, {"2"});
  ASSERT_TRUE(third);
  ASSERT_EQ(third->type, RedisReply::Type::kInteger) << third->str;
  EXPECT_EQ(third->integer, 10);
  EXPECT_EQ(command_calls(server, "eval"), evals + 1);

  // A script error is a reply too.
  const RedisScript broken("return redis.call('NOSUCHCOMMAND')");
  Result<RedisReply> error = run_eval(conn, broken, {}, {});
  ASSERT_TRUE(error);
  EXPECT_TRUE(error->is_error());
  EXPECT_EQ(conn.errors(), 0u);
}

TEST_F(RedisTest, PasswordAuth) {
  RedisServer server({.password = "s3cret"});
  {
    config::RedisSettings s = settings_for(server);
    s.password = "s3cret";
    RedisConnection conn(io_, s, make_log());
    connect(conn);
    ASSERT_TRUE(run(conn, {"SET", "k", "v"}));
    Result<RedisReply> get = run(conn, {"GET", "k"});
    ASSERT_TRUE(get);
    EXPECT_EQ(get->str, "v");
  }
  {
    config::RedisSettings s = settings_for(server);
    s.username = "default";
    s.password = "s3cret";
    s.db = 2;
    RedisConnection conn(io_, s, make_log());
    connect(conn);
    ASSERT_TRUE(run(conn, {"SET", "in-db-2", "yes"}));
    EXPECT_EQ(server.command({"GET", "in-db-2"}), "");  // the test client is on db 0
  }
  {
    config::RedisSettings s = settings_for(server);
    s.password = "wrong";
    RedisConnection conn(io_, s, make_log());
    conn.start();
    EXPECT_FALSE(run_until([&] { return conn.connected(); }, 500ms));
    const auto start = Clock::now();
    Result<RedisReply> r = run(conn, {"GET", "k"});
    EXPECT_TRUE(is_unavailable(r));
    EXPECT_LT(milliseconds_since(start), 100);
    EXPECT_GE(conn.errors(), 1u);
    EXPECT_EQ(sink_->warnings, 1) << "one warning per outage, however many attempts";
  }
}

TEST_F(RedisTest, StoppedServerFailsCommandsFast) {
  RedisServer server;
  // A long timeout: the in-flight command must fail because the connection closed, not by timing out.
  RedisConnection conn(io_, settings_for(server), make_log(), 5s);
  connect(conn);

  std::vector<Result<RedisReply>> blocked;
  Argv blpop{"BLPOP", "never-filled", "0"};
  asio::co_spawn(io_, conn.command(std::move(blpop)), [&](std::exception_ptr, Result<RedisReply> r) {
    blocked.push_back(std::move(r));
  });
  run_for(50ms);
  ASSERT_TRUE(blocked.empty());

  const auto stopped_at = Clock::now();
  server.stop();
  ASSERT_TRUE(run_until([&] { return !blocked.empty() && !conn.connected(); }, 2s));
  EXPECT_LT(milliseconds_since(stopped_at), 1000);
  EXPECT_TRUE(is_unavailable(blocked[0]));

  for (int i = 0; i < 3; ++i) {
    const auto start = Clock::now();
    Result<RedisReply> r = run(conn, {"GET", "k"});
    EXPECT_TRUE(is_unavailable(r));
    EXPECT_LT(milliseconds_since(start), 100);
  }
  EXPECT_FALSE(conn.connected());
  EXPECT_GE(conn.errors(), 4u);
}

TEST_F(RedisTest, ReconnectsAfterServerRestart) {
  RedisServer server;
  RedisConnection conn(io_, settings_for(server), make_log());
  connect(conn);
  ASSERT_TRUE(run(conn, {"SET", "k", "before"}));
  const int infos_before = sink_->infos;

  server.stop();
  ASSERT_TRUE(run_until([&] { return !conn.connected(); }, 2s));
  run_for(800ms);  // several failed attempts (100, 200, 400 ms backoff)
  server.start();
  const auto restarted_at = Clock::now();
  ASSERT_TRUE(run_until([&] { return conn.connected(); }, 3s)) << "no reconnect within 3 s";
  EXPECT_LT(milliseconds_since(restarted_at), 3000);

  Result<RedisReply> r = run(conn, {"SET", "k", "after"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->str, "OK");
  EXPECT_EQ(conn.reconnects(), 1u);
  EXPECT_EQ(sink_->warnings, 1) << "loss is logged once per outage";
  EXPECT_EQ(sink_->infos, infos_before + 1) << "recovery is logged once";
}

TEST_F(RedisTest, StalledServerTimesOutThenRecovers) {
  RedisServer server;
  constexpr auto kTimeout = 300ms;
  RedisConnection conn(io_, settings_for(server), make_log(), kTimeout);
  connect(conn);

  ASSERT_EQ(server.command({"CLIENT", "PAUSE", "1500", "ALL"}), "OK");
  const auto start = Clock::now();
  Result<RedisReply> r = run(conn, {"GET", "k"});
  const long long elapsed = milliseconds_since(start);
  EXPECT_TRUE(is_unavailable(r));
  EXPECT_GE(elapsed, 250);
  EXPECT_LT(elapsed, 1200);
  EXPECT_FALSE(conn.connected());

  // Commands fail at once while it is down; once the pause ends the connection comes back.
  const auto during = Clock::now();
  EXPECT_TRUE(is_unavailable(run(conn, {"GET", "k"})));
  EXPECT_LT(milliseconds_since(during), 100);
  ASSERT_TRUE(run_until([&] { return conn.connected(); }, 5s));
  Result<RedisReply> after = run(conn, {"SET", "k", "v"});
  ASSERT_TRUE(after);
  EXPECT_EQ(after->str, "OK");
  EXPECT_GE(conn.errors(), 2u);
}

TEST_F(RedisTest, StopCompletesPendingCommandsWithAnError) {
  RedisServer server;
  RedisConnection conn(io_, settings_for(server), make_log(), 5s);
  connect(conn);
  ASSERT_EQ(server.command({"CLIENT", "PAUSE", "1000", "ALL"}), "OK");

  std::vector<Result<RedisReply>> results;
  constexpr int kPending = 10;
  for (int i = 0; i < kPending; ++i) asio::co_spawn(io_, get_into(conn, results), asio::detached);
  run_for(50ms);
  ASSERT_TRUE(results.empty()) << "the paused server answered";

  conn.stop();
  EXPECT_FALSE(conn.connected());
  ASSERT_TRUE(run_until([&] { return results.size() == kPending; }, 1s));
  for (const auto& r : results) EXPECT_TRUE(is_unavailable(r));
  conn.stop();  // twice is fine
  run_for(50ms);
  EXPECT_EQ(results.size(), static_cast<std::size_t>(kPending)) << "each command completes exactly once";
  EXPECT_TRUE(is_unavailable(run(conn, {"GET", "k"})));
}

TEST_F(RedisTest, DestroyingTheConnectionWithPendingCommandsIsSafe) {
  RedisServer server;
  auto conn = std::make_unique<RedisConnection>(io_, settings_for(server), make_log(), 5s);
  connect(*conn);
  ASSERT_EQ(server.command({"CLIENT", "PAUSE", "1000", "ALL"}), "OK");

  std::vector<Result<RedisReply>> results;
  constexpr int kPending = 5;
  for (int i = 0; i < kPending; ++i) asio::co_spawn(io_, get_into(*conn, results), asio::detached);
  run_for(50ms);
  ASSERT_TRUE(results.empty());
  conn.reset();
  ASSERT_TRUE(run_until([&] { return results.size() == kPending; }, 1s));
  for (const auto& r : results) EXPECT_TRUE(is_unavailable(r));
  run_for(300ms);  // ticker and socket waits left behind find nothing to touch
}

TEST_F(RedisTest, SendIsFireAndForgetAndCountsErrors) {
  RedisServer server;
  RedisConnection conn(io_, settings_for(server), make_log());
  connect(conn);
  conn.send({"SET", "ff", "1"});
  conn.send({"INCR", "ff"});
  Result<RedisReply> get = run(conn, {"GET", "ff"});  // replies come in order: both sends are done
  ASSERT_TRUE(get);
  EXPECT_EQ(get->str, "2");
  EXPECT_EQ(conn.errors(), 0u);

  conn.send({"HGET", "ff", "field"});  // WRONGTYPE: an error reply, counted
  ASSERT_TRUE(run(conn, {"PING"}));
  EXPECT_EQ(conn.errors(), 1u);

  conn.stop();
  conn.send({"SET", "ff", "3"});  // not connected: counted, nothing sent
  EXPECT_EQ(conn.errors(), 2u);
  EXPECT_EQ(server.command({"GET", "ff"}), "2");
}

}  // namespace
}  // namespace tollgate::testing
