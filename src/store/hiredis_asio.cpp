#include "store/hiredis_asio.hpp"

#include <utility>

#include <hiredis/async.h>

namespace tollgate::store {

namespace asio = boost::asio;

std::shared_ptr<HiredisLink> HiredisLink::attach(asio::io_context& io, redisAsyncContext* ac, OnGone on_gone,
                                                 boost::system::error_code& ec) {
  auto link = std::make_shared<HiredisLink>(io, ac, std::move(on_gone));
  link->socket_.assign(ac->c.fd, ec);
  if (ec) return nullptr;
  ac->ev.data = link.get();
  ac->ev.addRead = add_read;
  ac->ev.delRead = del_read;
  ac->ev.addWrite = add_write;
  ac->ev.delWrite = del_write;
  ac->ev.cleanup = cleanup;
  return link;
}

HiredisLink::HiredisLink(asio::io_context& io, redisAsyncContext* ac, OnGone on_gone)
    : ac_(ac), on_gone_(std::move(on_gone)), socket_(io) {}

void HiredisLink::add_read(void* self) {
  auto& l = *static_cast<HiredisLink*>(self);
  l.want_read_ = true;
  l.arm(true);
}

void HiredisLink::del_read(void* self) { static_cast<HiredisLink*>(self)->want_read_ = false; }

void HiredisLink::add_write(void* self) {
  auto& l = *static_cast<HiredisLink*>(self);
  l.want_write_ = true;
  l.arm(false);
}

void HiredisLink::del_write(void* self) { static_cast<HiredisLink*>(self)->want_write_ = false; }

// hiredis has run the pending callbacks (with NULL replies) and is about to free the context and
// close the socket: stop watching it without closing it.
void HiredisLink::cleanup(void* self) {
  auto& l = *static_cast<HiredisLink*>(self);
  const char* error = l.ac_->err != 0 ? l.ac_->errstr : nullptr;
  l.ac_ = nullptr;
  l.want_read_ = l.want_write_ = false;
  boost::system::error_code ignored;
  l.socket_.cancel(ignored);
  (void)l.socket_.release();
  OnGone on_gone = std::move(l.on_gone_);
  if (on_gone) on_gone(error);  // may drop the last owner of l other than a running wait: touch l no more
}

void HiredisLink::arm(bool read) {
  // One wait per direction at a time; a del + add while it is out reuses it.
  bool& armed = read ? read_armed_ : write_armed_;
  if (armed) return;
  armed = true;
  const auto what = read ? asio::posix::descriptor_base::wait_read : asio::posix::descriptor_base::wait_write;
  socket_.async_wait(what, [self = shared_from_this(), read](const boost::system::error_code& ec) {
    HiredisLink& l = *self;
    (read ? l.read_armed_ : l.write_armed_) = false;
    if (ec == asio::error::operation_aborted || l.ac_ == nullptr) return;
    if (!(read ? l.want_read_ : l.want_write_)) return;
    // Any other error: hiredis finds it on the socket and tears the context down itself.
    if (read) {
      redisAsyncHandleRead(l.ac_);
    } else {
      redisAsyncHandleWrite(l.ac_);
    }
    if (l.ac_ != nullptr && (read ? l.want_read_ : l.want_write_)) l.arm(read);
  });
}

}  // namespace tollgate::store
