#include "tollgate/http/deadline.hpp"

#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>

namespace tollgate::http {
namespace {

using namespace std::chrono_literals;
using tcp = boost::asio::ip::tcp;

struct SocketPair {
  explicit SocketPair(boost::asio::io_context& io) : a(io), b(io) {
    tcp::acceptor acceptor(io, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
    a.connect(acceptor.local_endpoint());
    acceptor.accept(b);
  }
  tcp::socket a, b;
};

TEST(DeadlineTest, SweepCancelsOnlyPendingOperationsWhoseDeadlinePassed) {
  boost::asio::io_context io;
  DeadlineSweeper sweeper(io);
  SocketPair p1(io), p2(io);
  Deadline late(sweeper, p1.a), early(sweeper, p2.a);
  const auto t0 = std::chrono::steady_clock::now();
  late.expires_at(t0 + 10s);
  early.expires_at(t0 + 1s);
  char byte = 0;
  boost::system::error_code late_ec, early_ec;
  bool late_done = false, early_done = false;
  p1.a.async_read_some(boost::asio::buffer(&byte, 1), [&](auto ec, auto) { late_ec = ec, late_done = true; });
  p2.a.async_read_some(boost::asio::buffer(&byte, 1), [&](auto ec, auto) { early_ec = ec, early_done = true; });
  EXPECT_EQ(sweeper.size(), 2u);

  sweeper.sweep(t0 + 2s);  // a fake "now": only `early` has passed
  io.poll();
  EXPECT_TRUE(early_done);
  EXPECT_EQ(early_ec, boost::asio::error::operation_aborted);
  EXPECT_TRUE(early.expired());
  EXPECT_FALSE(late_done);
  EXPECT_FALSE(late.expired());

  late.clear();
  sweeper.sweep(t0 + 100s);
  io.poll();
  EXPECT_FALSE(late_done) << "a cleared deadline never fires";
  p1.a.cancel();
  io.poll();
}

TEST(DeadlineTest, SettingANewDeadlineResetsExpiredAndDestructionUnregisters) {
  boost::asio::io_context io;
  DeadlineSweeper sweeper(io);
  SocketPair p(io);
  {
    Deadline d(sweeper, p.a);
    d.expires_at(std::chrono::steady_clock::now());
    sweeper.sweep(std::chrono::steady_clock::now() + 1s);
    EXPECT_TRUE(d.expired());
    d.expires_after(1h);
    EXPECT_FALSE(d.expired());
    Deadline other(sweeper, p.b);
    EXPECT_EQ(sweeper.size(), 2u);
  }
  EXPECT_EQ(sweeper.size(), 0u);
}

}  // namespace
}  // namespace tollgate::http
