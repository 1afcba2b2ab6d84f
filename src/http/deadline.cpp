#include "tollgate/http/deadline.hpp"

namespace tollgate::http {

Deadline::Deadline(DeadlineSweeper& sweeper, boost::asio::ip::tcp::socket& socket)
    : sweeper_(sweeper), socket_(&socket) {
  sweeper_.add(this);
}

Deadline::~Deadline() { sweeper_.remove(this); }

DeadlineSweeper::DeadlineSweeper(boost::asio::io_context& io) : timer_(io) {}

DeadlineSweeper::~DeadlineSweeper() = default;

void DeadlineSweeper::add(Deadline* d) {
  d->index_ = deadlines_.size();
  deadlines_.push_back(d);
  if (!armed_) arm();
}

void DeadlineSweeper::remove(Deadline* d) {
  // Swap with the last entry: O(1), order does not matter.
  Deadline* last = deadlines_.back();
  deadlines_[d->index_] = last;
  last->index_ = d->index_;
  deadlines_.pop_back();
}

void DeadlineSweeper::arm() {
  // The timer runs only while deadlines exist, so an idle worker does not wake up.
  armed_ = true;
  timer_.expires_after(kTick);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    armed_ = false;
    if (ec) return;
    sweep(std::chrono::steady_clock::now());
    if (!deadlines_.empty()) arm();
  });
}

void DeadlineSweeper::sweep(std::chrono::steady_clock::time_point now) {
  for (Deadline* d : deadlines_) {
    if (d->at_ <= now && !d->expired_) {
      d->expired_ = true;
      d->at_ = std::chrono::steady_clock::time_point::max();
      boost::system::error_code ignored;
      d->socket_->cancel(ignored);
    }
  }
}

void DeadlineSweeper::cut_all() {
  for (Deadline* d : deadlines_) {
    d->expired_ = true;
    d->cut_ = true;
    d->at_ = std::chrono::steady_clock::time_point::max();
    boost::system::error_code ignored;
    d->socket_->cancel(ignored);
  }
}

}  // namespace tollgate::http
