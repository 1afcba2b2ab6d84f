// The key cache over a real SQLite store, on a fake clock: hits cost no load, unknown keys are
// remembered briefly, entries expire, invalidation forgets.
#include "tollgate/auth/key_cache.hpp"

#include <optional>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include "support/temp_dir.hpp"
#include "tollgate/db/store.hpp"

namespace tollgate::auth {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

template <class T>
T await(asio::awaitable<T> op) {
  asio::io_context io;
  std::optional<T> out;
  asio::co_spawn(io, std::move(op), [&](std::exception_ptr e, T value) {
    if (e) std::rethrow_exception(e);
    out.emplace(std::move(value));
  });
  io.run();
  return std::move(*out);
}

class KeyCacheTest : public ::testing::Test {
 protected:
  KeyCacheTest() {
    config::DatabaseSettings db;
    db.sqlite_path = dir_.file("keys.db");
    store_ = db::open_store(db, std::make_shared<spdlog::logger>("t", std::make_shared<spdlog::sinks::null_sink_mt>()));
    settings_.key_cache_ttl = 30s;
    settings_.negative_cache_ttl = 2s;
    cache_.emplace(*store_, settings_, [this] { return now_; });
  }
  void add_key(const std::string& token, nlohmann::json data) {
    db::Record r;
    r.id = token;
    r.data = std::move(data);
    ASSERT_TRUE(await(store_->insert(db::Entity::kKey, r)));
  }
  std::shared_ptr<const Principal> lookup(const std::string& token) {
    auto r = await(cache_->lookup(token));
    EXPECT_TRUE(r);
    return r ? *r : nullptr;
  }

  testing::TempDir dir_;
  std::unique_ptr<db::Store> store_;
  config::ControlSettings settings_;
  std::chrono::steady_clock::time_point now_{};
  std::optional<KeyCache> cache_;
};

TEST_F(KeyCacheTest, AHitCostsNoLoadUntilTheTtlPasses) {
  add_key("k1", {{"rpm_limit", 5}});
  ASSERT_TRUE(lookup("k1"));
  EXPECT_EQ(lookup("k1")->key.rpm, 5);
  EXPECT_EQ(cache_->loads(), 1u);
  now_ += 29s;
  lookup("k1");
  EXPECT_EQ(cache_->loads(), 1u);
  now_ += 2s;  // past the TTL: loaded again
  lookup("k1");
  EXPECT_EQ(cache_->loads(), 2u);
}

TEST_F(KeyCacheTest, UnknownKeysAreRememberedBriefly) {
  EXPECT_FALSE(lookup("nope"));
  EXPECT_FALSE(lookup("nope"));
  EXPECT_EQ(cache_->loads(), 1u);
  add_key("nope", nlohmann::json::object());  // created meanwhile (on another replica)
  now_ += 1s;
  EXPECT_FALSE(lookup("nope"));  // still remembered as unknown
  now_ += 1s;
  EXPECT_TRUE(lookup("nope"));
  EXPECT_EQ(cache_->loads(), 2u);
}

TEST_F(KeyCacheTest, InvalidationForgetsTheKeyAndTeamChangesForgetEveryKey) {
  add_key("k1", {{"rpm_limit", 5}});
  lookup("k1");
  db::Record changed;
  changed.id = "k1";
  changed.data = {{"rpm_limit", 7}};
  ASSERT_TRUE(await(store_->update(db::Entity::kKey, changed, false)));
  EXPECT_EQ(lookup("k1")->key.rpm, 5);  // cached
  cache_->invalidate(db::Entity::kKey, "k1");
  EXPECT_EQ(lookup("k1")->key.rpm, 7);
  cache_->invalidate(db::Entity::kTeam, "any-team");
  lookup("k1");
  EXPECT_EQ(cache_->loads(), 3u);
}

}  // namespace
}  // namespace tollgate::auth
