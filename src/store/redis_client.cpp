// hiredis's async context on an asio::io_context. See tollgate/store/redis.hpp for the contract.
//
// Ownership, in one place:
//  - hiredis owns the socket and the context; a HiredisLink (store/hiredis_asio.hpp) watches the
//    socket for it and tells us, once, when hiredis frees the context.
//  - Every command handed to hiredis carries a heap Pending as privdata. hiredis calls the reply
//    callback exactly once per command — with the reply, or with NULL when the context is freed —
//    and that call deletes the Pending. `inflight` mirrors hiredis's (FIFO) callback list, so its
//    front is the oldest unanswered command: that is all the timeout check needs.
//  - Awaiting coroutines are completed by posting their handler to their executor, never inside a
//    hiredis callback, so no user code can re-enter hiredis or destroy the connection under it.
//  - Invariant: while a context exists, the Impl exists (stop(), called by the destructor, frees it).
#include "tollgate/store/redis.hpp"

#include <algorithm>
#include <array>
#include <deque>
#include <utility>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include "store/hiredis_asio.hpp"

namespace tollgate::store {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using Handler = asio::any_completion_handler<void(Result<RedisReply>)>;

constexpr milliseconds kFirstBackoff{100};
constexpr milliseconds kMaxBackoff{2'000};
constexpr milliseconds kMaxTick{100};
constexpr milliseconds kMinTick{10};
constexpr milliseconds kMinConnectTimeout{1'000};

Result<RedisReply> unavailable() { return make_error_code(Errc::kRedisUnavailable); }

RedisReply to_reply(const redisReply& r) {
  RedisReply out;
  switch (r.type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::kString;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kStatus;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::kError;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = r.integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      out.elements.reserve(r.elements);
      for (std::size_t i = 0; i < r.elements; ++i) out.elements.push_back(to_reply(*r.element[i]));
      break;
    default:
      out.type = RedisReply::Type::kNil;
      break;
  }
  return out;
}

enum class Kind : std::uint8_t { kAwait, kSend, kHandshake };

struct Pending {
  Kind kind;
  Clock::time_point sent;
  Handler handler;             // kAwait only
  asio::any_io_executor where; // kAwait only: the awaiting coroutine's executor
};

}  // namespace

struct RedisConnection::Impl : std::enable_shared_from_this<Impl> {
  enum class State : std::uint8_t { kStopped, kWaiting, kResolving, kConnecting, kReady };

  Impl(asio::io_context& io_context, config::RedisSettings s, std::shared_ptr<spdlog::logger> logger,
       milliseconds timeout)
      : io(io_context),
        settings(std::move(s)),
        log(logger ? std::move(logger) : std::make_shared<spdlog::logger>("redis")),
        command_timeout(timeout),
        connect_timeout(std::max(timeout, kMinConnectTimeout)),
        tick(std::clamp(timeout / 4, kMinTick, kMaxTick)),
        ticker(io_context),
        resolver(io_context) {}

  asio::io_context& io;
  const config::RedisSettings settings;
  const std::shared_ptr<spdlog::logger> log;
  const milliseconds command_timeout;
  const milliseconds connect_timeout;
  const milliseconds tick;
  asio::steady_timer ticker;
  asio::ip::tcp::resolver resolver;

  State state = State::kStopped;
  std::shared_ptr<HiredisLink> link;
  std::deque<Pending*> inflight;
  Clock::time_point next_attempt;
  Clock::time_point attempt_deadline;
  milliseconds backoff = kFirstBackoff;
  std::uint64_t attempt_id = 0;
  int handshake_left = 0;
  std::string drop_reason;  // why we freed the context ourselves (hiredis's errstr is empty then)
  bool outage = false;      // loss logged, recovery not yet
  bool ever_up = false;
  std::uint64_t errors = 0;
  std::uint64_t reconnects = 0;

  void start();
  void stop();
  void arm_ticker();
  void on_tick(Clock::time_point now);
  void begin_attempt();
  void connect_to(const std::string& ip);
  void handshake();
  void on_handshake_reply(const redisReply* reply);
  void become_ready();
  void drop(std::string reason);
  void on_context_gone(const char* hiredis_reason);
  void lost(const std::string& reason);
  bool issue(std::unique_ptr<Pending>& p, const std::vector<std::string>& argv);
  void retire(Pending* p);
  void submit(const std::vector<std::string>& argv, Handler handler, asio::any_io_executor where);
  void fire(const std::vector<std::string>& argv);
  static void complete(Handler handler, const asio::any_io_executor& where, Result<RedisReply> result);

  static asio::awaitable<Result<RedisReply>> exec(const std::shared_ptr<Impl>& impl,
                                                  const std::vector<std::string>& argv);
};

namespace {

// ---- hiredis callbacks -----------------------------------------------------------------------

void on_connect(const redisAsyncContext* ac, int status) {
  // On failure hiredis frees the context right after this; the link's cleanup reports why.
  if (status == REDIS_OK) static_cast<RedisConnection::Impl*>(ac->data)->handshake();
}

void on_reply(redisAsyncContext* ac, void* r, void* privdata) {
  auto* impl = static_cast<RedisConnection::Impl*>(ac->data);
  std::unique_ptr<Pending> p(static_cast<Pending*>(privdata));
  impl->retire(p.get());
  const auto* reply = static_cast<const redisReply*>(r);
  switch (p->kind) {
    case Kind::kAwait: {
      if (reply == nullptr) {
        ++impl->errors;
        RedisConnection::Impl::complete(std::move(p->handler), p->where, unavailable());
      } else {
        RedisConnection::Impl::complete(std::move(p->handler), p->where, to_reply(*reply));
      }
      break;
    }
    case Kind::kSend:
      if (reply == nullptr || reply->type == REDIS_REPLY_ERROR) ++impl->errors;
      break;
    case Kind::kHandshake:
      impl->on_handshake_reply(reply);
      break;
  }
}

}  // namespace

// ---- connection life cycle -----------------------------------------------------------------------

void RedisConnection::Impl::start() {
  if (state != State::kStopped) return;
  state = State::kWaiting;
  next_attempt = Clock::now();
  backoff = kFirstBackoff;
  begin_attempt();
  arm_ticker();
}

void RedisConnection::Impl::stop() {
  if (state == State::kStopped && !link) return;
  state = State::kStopped;
  ticker.cancel();
  resolver.cancel();
  if (link) {
    const std::shared_ptr<HiredisLink> keep = link;
    drop_reason = "stopped";
    redisAsyncFree(keep->context());  // completes pending commands (NULL replies), then on_context_gone
  }
  link.reset();
}

void RedisConnection::Impl::arm_ticker() {
  ticker.expires_after(tick);
  ticker.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    const std::shared_ptr<Impl> self = weak.lock();
    if (!self || ec || self->state == State::kStopped) return;
    self->on_tick(Clock::now());
    if (self->state != State::kStopped) self->arm_ticker();
  });
}

void RedisConnection::Impl::on_tick(Clock::time_point now) {
  switch (state) {
    case State::kWaiting:
      if (now >= next_attempt) begin_attempt();
      break;
    case State::kResolving:
      if (now >= attempt_deadline) {
        ++attempt_id;  // the resolver's late answer is ignored
        resolver.cancel();
        lost("resolve timeout");
      }
      break;
    case State::kConnecting:
      if (now >= attempt_deadline) drop("connect timeout");
      break;
    case State::kReady:
      if (!inflight.empty() && now - inflight.front()->sent >= command_timeout) drop("command timeout");
      break;
    case State::kStopped:
      break;
  }
}

void RedisConnection::Impl::begin_attempt() {
  attempt_deadline = Clock::now() + connect_timeout;
  const std::uint64_t id = ++attempt_id;
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(settings.host, ec);
  if (!ec) {
    connect_to(address.to_string());
    return;
  }
  // hiredis would resolve a name with a blocking getaddrinfo on this thread: resolve it here.
  state = State::kResolving;
  resolver.async_resolve(settings.host, std::to_string(settings.port),
                         [weak = weak_from_this(), id](const boost::system::error_code& rec,
                                                       const asio::ip::tcp::resolver::results_type& results) {
                           const std::shared_ptr<Impl> self = weak.lock();
                           if (!self || self->state != State::kResolving || self->attempt_id != id) return;
                           if (rec || results.empty()) {
                             self->lost("cannot resolve host: " + (rec ? rec.message() : std::string("no address")));
                             return;
                           }
                           self->connect_to(results.begin()->endpoint().address().to_string());
                         });
}

void RedisConnection::Impl::connect_to(const std::string& ip) {
  state = State::kConnecting;
  redisAsyncContext* ac = redisAsyncConnect(ip.c_str(), settings.port);
  if (ac == nullptr) {
    lost("out of memory");
    return;
  }
  if (ac->err != 0) {
    const std::string reason = ac->errstr;
    redisAsyncFree(ac);
    lost(reason);
    return;
  }
  boost::system::error_code ec;
  // `this` outlives the context: stop(), called by the destructor, frees it.
  link = HiredisLink::attach(io, ac, [this](const char* error) { on_context_gone(error); }, ec);
  if (!link) {
    redisAsyncFree(ac);  // no hooks installed: nothing calls back
    lost("cannot watch socket: " + ec.message());
    return;
  }
  ac->data = this;
  redisAsyncSetConnectCallback(ac, on_connect);
}

void RedisConnection::Impl::handshake() {
  std::vector<std::vector<std::string>> steps;
  if (!settings.password.empty()) {
    if (settings.username.empty()) {
      steps.push_back({"AUTH", settings.password});
    } else {
      steps.push_back({"AUTH", settings.username, settings.password});
    }
  }
  if (settings.db != 0) steps.push_back({"SELECT", std::to_string(settings.db)});
  // A TCP connect alone proves little (a paused or loading server accepts): wait for an answer.
  if (steps.empty()) steps.push_back({"PING"});
  handshake_left = static_cast<int>(steps.size());
  for (const auto& argv : steps) {
    auto p = std::make_unique<Pending>(Pending{Kind::kHandshake, Clock::now(), {}, {}});
    if (!issue(p, argv)) {
      handshake_left = 0;
      drop("cannot send handshake");
      return;
    }
  }
}

void RedisConnection::Impl::on_handshake_reply(const redisReply* reply) {
  if (reply == nullptr || state != State::kConnecting || handshake_left == 0) return;
  if (reply->type == REDIS_REPLY_ERROR) {
    // Inside a hiredis callback: redisAsyncFree defers the free until the callback returns.
    handshake_left = 0;
    drop("handshake refused: " + std::string(reply->str, reply->len));
    return;
  }
  if (--handshake_left == 0) become_ready();
}

void RedisConnection::Impl::become_ready() {
  state = State::kReady;
  backoff = kFirstBackoff;
  if (ever_up) ++reconnects;
  if (outage) {
    log->info("redis connection restored host={} port={}", settings.host, settings.port);
  } else {
    log->info("redis connected host={} port={} db={}", settings.host, settings.port, settings.db);
  }
  outage = false;
  ever_up = true;
}

void RedisConnection::Impl::drop(std::string reason) {
  if (!link) return;
  drop_reason = std::move(reason);
  const std::shared_ptr<HiredisLink> keep = link;
  redisAsyncFree(keep->context());  // pending commands get NULL replies, then on_context_gone
}

void RedisConnection::Impl::on_context_gone(const char* hiredis_reason) {
  std::string reason = drop_reason;
  drop_reason.clear();
  if (reason.empty()) reason = hiredis_reason != nullptr ? hiredis_reason : "connection closed";
  lost(reason);
}

void RedisConnection::Impl::lost(const std::string& reason) {
  const bool was_ready = state == State::kReady;
  link.reset();
  handshake_left = 0;
  if (state == State::kStopped) return;
  state = State::kWaiting;
  next_attempt = Clock::now() + backoff;
  backoff = std::min(backoff * 2, kMaxBackoff);
  if (!outage) {
    outage = true;
    log->warn("redis {} host={} port={} reason=\"{}\": commands fail until it is back, reconnecting",
              was_ready ? "connection lost" : "unavailable", settings.host, settings.port, reason);
  }
}

// ---- commands ----------------------------------------------------------------------------------

bool RedisConnection::Impl::issue(std::unique_ptr<Pending>& p, const std::vector<std::string>& argv) {
  if (!link || argv.empty()) return false;
  constexpr std::size_t kInline = 16;
  std::array<const char*, kInline> inline_ptrs;
  std::array<std::size_t, kInline> inline_lens;
  std::vector<const char*> heap_ptrs;
  std::vector<std::size_t> heap_lens;
  const char** ptrs = inline_ptrs.data();
  std::size_t* lens = inline_lens.data();
  if (argv.size() > kInline) {
    heap_ptrs.resize(argv.size());
    heap_lens.resize(argv.size());
    ptrs = heap_ptrs.data();
    lens = heap_lens.data();
  }
  for (std::size_t i = 0; i < argv.size(); ++i) {
    ptrs[i] = argv[i].data();
    lens[i] = argv[i].size();
  }
  // hiredis formats the command into its output buffer now; the strings may go after this call.
  if (redisAsyncCommandArgv(link->context(), on_reply, p.get(), static_cast<int>(argv.size()), ptrs, lens) != REDIS_OK)
    return false;
  inflight.push_back(p.release());
  return true;
}

void RedisConnection::Impl::retire(Pending* p) {
  if (!inflight.empty() && inflight.front() == p) {
    inflight.pop_front();
    return;
  }
  if (auto it = std::find(inflight.begin(), inflight.end(), p); it != inflight.end()) inflight.erase(it);
}

void RedisConnection::Impl::submit(const std::vector<std::string>& argv, Handler handler,
                                   asio::any_io_executor where) {
  if (state != State::kReady) {
    ++errors;
    complete(std::move(handler), where, unavailable());
    return;
  }
  auto p = std::make_unique<Pending>(Pending{Kind::kAwait, Clock::now(), std::move(handler), std::move(where)});
  if (!issue(p, argv)) {
    ++errors;
    complete(std::move(p->handler), p->where, unavailable());
  }
}

void RedisConnection::Impl::fire(const std::vector<std::string>& argv) {
  if (state != State::kReady) {
    ++errors;
    return;
  }
  auto p = std::make_unique<Pending>(Pending{Kind::kSend, Clock::now(), {}, {}});
  if (!issue(p, argv)) ++errors;
}

void RedisConnection::Impl::complete(Handler handler, const asio::any_io_executor& where,
                                     Result<RedisReply> result) {
  // Posted, never invoked here: the resumed coroutine must not run inside hiredis.
  asio::post(where, [h = std::move(handler), r = std::move(result)]() mutable { std::move(h)(std::move(r)); });
}

asio::awaitable<Result<RedisReply>> RedisConnection::Impl::exec(const std::shared_ptr<Impl>& impl,
                                                                const std::vector<std::string>& argv) {
  if (impl->state != State::kReady) {
    ++impl->errors;
    co_return unavailable();
  }
  Impl* raw = impl.get();
  auto op = asio::async_initiate<const asio::use_awaitable_t<>, void(Result<RedisReply>)>(
      [raw, &argv](auto handler) {
        asio::any_io_executor where = asio::get_associated_executor(handler, raw->io.get_executor());
        raw->submit(argv, Handler(std::move(handler)), std::move(where));
      },
      asio::use_awaitable);
  Result<RedisReply> result = co_await std::move(op);
  co_return result;
}

// ---- public face -------------------------------------------------------------------------------

RedisConnection::RedisConnection(asio::io_context& io, config::RedisSettings settings,
                                 std::shared_ptr<spdlog::logger> log, std::chrono::milliseconds command_timeout)
    : impl_(std::make_shared<Impl>(io, std::move(settings), std::move(log), command_timeout)) {}

RedisConnection::~RedisConnection() { impl_->stop(); }

void RedisConnection::start() { impl_->start(); }
void RedisConnection::stop() { impl_->stop(); }
bool RedisConnection::connected() const { return impl_->state == Impl::State::kReady; }
std::uint64_t RedisConnection::errors() const { return impl_->errors; }
std::uint64_t RedisConnection::reconnects() const { return impl_->reconnects; }

void RedisConnection::send(std::vector<std::string> argv) { impl_->fire(argv); }

asio::awaitable<Result<RedisReply>> RedisConnection::command(std::vector<std::string> argv) {
  // The frame keeps the Impl: the coroutine may resume after this object is gone.
  const std::shared_ptr<Impl> impl = impl_;
  Result<RedisReply> result = co_await Impl::exec(impl, argv);
  co_return result;
}

asio::awaitable<Result<RedisReply>> RedisConnection::eval(const RedisScript& script, std::vector<std::string> keys,
                                                          std::vector<std::string> args) {
  const std::shared_ptr<Impl> impl = impl_;
  std::vector<std::string> argv;
  argv.reserve(3 + keys.size() + args.size());
  argv.emplace_back("EVALSHA");
  argv.push_back(script.sha1());
  argv.push_back(std::to_string(keys.size()));
  for (auto& k : keys) argv.push_back(std::move(k));
  for (auto& a : args) argv.push_back(std::move(a));
  Result<RedisReply> first = co_await Impl::exec(impl, argv);
  if (!first || !first->is_error() || first->str.rfind("NOSCRIPT", 0) != 0) co_return first;
  // The server does not know the script (restart, SCRIPT FLUSH, failover): EVAL caches it again.
  argv[0] = "EVAL";
  argv[1] = script.source();
  Result<RedisReply> second = co_await Impl::exec(impl, argv);
  co_return second;
}

}  // namespace tollgate::store
