#pragma once
// Deadlines for socket operations without a kernel timer per operation.
//
// beast::tcp_stream arms and cancels a timer on every read and write, which on Linux costs a
// timerfd_settime system call each time the earliest timer moves: two per proxied request. Here a
// connection's deadline is a plain time stamp; one coarse timer per worker (the sweeper) looks at
// every registered deadline each tick and cancels the socket operations of those that passed.
// The cancelled operation completes with operation_aborted and expired() tells it was a timeout.
// Precision is one tick (50 ms), ample for network deadlines of seconds.
//
// Thread safety: a sweeper and its deadlines belong to one io_context thread.
// Lifetime: a Deadline must be destroyed before its sweeper; it refers to its socket, which
// must outlive it or be rebound.
#include <chrono>
#include <cstddef>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

namespace tollgate::http {

class DeadlineSweeper;

class Deadline {
 public:
  Deadline(DeadlineSweeper& sweeper, boost::asio::ip::tcp::socket& socket);
  ~Deadline();
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

  void expires_after(std::chrono::steady_clock::duration d) { expires_at(std::chrono::steady_clock::now() + d); }
  void expires_at(std::chrono::steady_clock::time_point t) {
    at_ = t;
    expired_ = false;
    cut_ = false;
  }
  void clear() { at_ = std::chrono::steady_clock::time_point::max(); }
  /// The last operation was cancelled because the deadline passed.
  bool expired() const { return expired_; }
  /// The last operation was cancelled by DeadlineSweeper::cut_all() (the process is stopping).
  bool cut() const { return cut_; }
  /// The socket moved (e.g. into a TLS stream): watch it at its new address.
  void rebind(boost::asio::ip::tcp::socket& socket) { socket_ = &socket; }

 private:
  friend class DeadlineSweeper;
  DeadlineSweeper& sweeper_;
  boost::asio::ip::tcp::socket* socket_;
  std::chrono::steady_clock::time_point at_ = std::chrono::steady_clock::time_point::max();
  std::size_t index_ = 0;
  bool expired_ = false;
  bool cut_ = false;
};

class DeadlineSweeper {
 public:
  static constexpr std::chrono::milliseconds kTick{50};

  explicit DeadlineSweeper(boost::asio::io_context& io);
  ~DeadlineSweeper();
  DeadlineSweeper(const DeadlineSweeper&) = delete;
  DeadlineSweeper& operator=(const DeadlineSweeper&) = delete;

  std::size_t size() const { return deadlines_.size(); }
  /// Checks every deadline against `now` (public for tests; the timer calls it each tick).
  void sweep(std::chrono::steady_clock::time_point now);
  /// Cancels every watched socket's operations now, as if each deadline had passed, and marks
  /// them cut(): the shutdown deadline ends what is still in flight.
  void cut_all();

 private:
  friend class Deadline;
  void add(Deadline* d);
  void remove(Deadline* d);
  void arm();

  boost::asio::steady_timer timer_;
  std::vector<Deadline*> deadlines_;
  bool armed_ = false;
};

}  // namespace tollgate::http
