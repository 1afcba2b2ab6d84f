#pragma once
// Runs a blocking function on a WorkerPool and awaits its result from a coroutine:
//
//   Result<T> r = co_await run_on<T>(pool, fn);   // fn: Result<T>(std::size_t worker)
//
// `fn` is taken by reference and moved from (a named lvalue, not a by-value parameter: see
// docs/request-lifecycle.md on GCC 12 and co_await arguments).
//
// The job completes on the awaiting coroutine's executor (posted, never invoked on the pool
// thread), and keeps that executor's work count up while it is queued or running, so an
// io_context does not run out of work under an awaiting coroutine. When the pool is destroyed
// first, the job completes with kDbUnavailable. An exception from `fn` completes it with
// kInternal (a bug; the pool thread survives).
//
// Lifetime: the job owns `fn`, which should own what it touches rather than point into the
// awaiting coroutine's frame. The awaiting coroutine's io_context must outlive the job, as with
// any Asio operation.
#include <cstddef>
#include <memory>
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "db/worker_pool.hpp"
#include "tollgate/core/errc.hpp"

namespace tollgate::db {

namespace asio = boost::asio;

namespace detail {

template <class T, class Fn, class Handler>
class AwaitJob final : public WorkerPool::Job {
 public:
  AwaitJob(Fn fn, Handler handler)
      : fn_(std::move(fn)),
        handler_(std::move(handler)),
        where_(asio::prefer(asio::get_associated_executor(handler_), asio::execution::outstanding_work.tracked)) {}

  void run(std::size_t worker) override {
    Result<T> result(boost::system::in_place_error, make_error_code(Errc::kInternal));
    try {
      result = fn_(worker);
    } catch (...) {
      // Left as kInternal: queries report failures as values; a throw is a bug.
    }
    complete(std::move(result));
  }

  void abandon() override { complete(Result<T>(boost::system::in_place_error, make_error_code(Errc::kDbUnavailable))); }

 private:
  void complete(Result<T> result) {
    asio::post(where_, [h = std::move(handler_), r = std::move(result)]() mutable { std::move(h)(std::move(r)); });
  }

  Fn fn_;
  Handler handler_;
  asio::any_io_executor where_;
};

}  // namespace detail

template <class T, class Fn>
asio::awaitable<Result<T>> run_on(WorkerPool& pool, Fn& fn) {
  auto initiate = [&pool, &fn](auto handler) {
    using Job = detail::AwaitJob<T, Fn, decltype(handler)>;
    pool.submit(std::make_unique<Job>(std::move(fn), std::move(handler)));
  };
  auto op = asio::async_initiate<const asio::use_awaitable_t<>, void(Result<T>)>(initiate, asio::use_awaitable);
  Result<T> result = co_await std::move(op);
  co_return result;
}

}  // namespace tollgate::db
