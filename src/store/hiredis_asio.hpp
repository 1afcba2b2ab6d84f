#pragma once
// Drives one hiredis async context from an asio::io_context: hiredis's event hooks (addRead,
// delRead, addWrite, delWrite, cleanup) become async_wait()s on a posix::stream_descriptor over
// hiredis's socket, and readiness calls redisAsyncHandleRead / redisAsyncHandleWrite.
//
// Ownership: hiredis owns the socket and the context. When hiredis frees the context (error, EOF,
// redisAsyncFree) it calls the cleanup hook: the link then releases the descriptor without closing
// it, forgets the context, and calls `on_gone` with hiredis's error text (nullptr when the free was
// asked for, not caused by an error). Waits that complete afterwards find the link detached and do
// nothing; they hold the link by shared_ptr, so it outlives them.
//
// Thread safety: the io_context's single thread only.
#include <functional>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/system/error_code.hpp>

struct redisAsyncContext;

namespace tollgate::store {

class HiredisLink : public std::enable_shared_from_this<HiredisLink> {
 public:
  using OnGone = std::function<void(const char* hiredis_error)>;

  /// Watches `ac`'s socket and installs the hooks. Call before redisAsyncSetConnectCallback (hiredis
  /// waits for the first writable event to report the connection). On error (`ec` set) nothing is
  /// installed and the caller still owns `ac`.
  static std::shared_ptr<HiredisLink> attach(boost::asio::io_context& io, redisAsyncContext* ac, OnGone on_gone,
                                             boost::system::error_code& ec);

  HiredisLink(boost::asio::io_context& io, redisAsyncContext* ac, OnGone on_gone);
  HiredisLink(const HiredisLink&) = delete;
  HiredisLink& operator=(const HiredisLink&) = delete;

  /// The context, or nullptr once hiredis has freed it.
  redisAsyncContext* context() const { return ac_; }

 private:
  static void add_read(void* self);
  static void del_read(void* self);
  static void add_write(void* self);
  static void del_write(void* self);
  static void cleanup(void* self);
  void arm(bool read);

  redisAsyncContext* ac_;
  OnGone on_gone_;
  boost::asio::posix::stream_descriptor socket_;
  bool want_read_ = false;
  bool want_write_ = false;
  bool read_armed_ = false;
  bool write_armed_ = false;
};

}  // namespace tollgate::store
