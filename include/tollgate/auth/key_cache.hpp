#pragma once
// Virtual keys and end users in memory, so a request costs no database round trip.
//
// lookup(): a fresh entry answers at once; a miss (or an entry past its TTL) costs one load from
// the store (KeyStore::key_bundle: the key and the team, user and organization it refers to, in one
// job and one transaction on the store's threads). Unknown keys are
// remembered for `negative_cache_ttl`. When the store cannot be reached, an entry that was known
// keeps answering (stale) and an unknown key gets kDbUnavailable — the caller decides (503, or
// pass per allow_requests_on_db_unavailable). Admin changes call invalidate(); other replicas
// hear of them through the control plane's Redis event stream (docs/admin-api.md, "Caching").
//
// Time: steady clock for TTLs (injectable for tests).
// Thread safety: every method may be called from any thread; the store must outlive the cache.
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include <boost/asio/awaitable.hpp>

#include "tollgate/auth/key_store.hpp"
#include "tollgate/auth/principal.hpp"
#include "tollgate/config/config.hpp"

namespace tollgate::auth {

class KeyCache {
 public:
  using Now = std::function<std::chrono::steady_clock::time_point()>;

  KeyCache(KeyStore& store, const config::ControlSettings& settings, Now now = {});

  /// The principal of a key (by its SHA-256 hex); null when no such key exists.
  boost::asio::awaitable<Result<std::shared_ptr<const Principal>>> lookup(std::string token);
  /// An end user's limits (its own fields, or its budget_id's when it has none); null when unknown.
  boost::asio::awaitable<Result<std::shared_ptr<const EntityLimits>>> lookup_end_user(std::string id);

  /// Forget what a change to this entity affects: the key itself; every key for a team, user,
  /// organization change; the end user; every end user for a budget change.
  void invalidate(Entity entity, const std::string& id);
  void invalidate_all();

  std::uint64_t loads() const { return loads_.load(std::memory_order_relaxed); }

 private:
  template <class T>
  struct Entry {
    std::shared_ptr<const T> value;  // null: known not to exist
    std::chrono::steady_clock::time_point expires;
  };
  template <class T>
  using Map = std::unordered_map<std::string, Entry<T>>;

  boost::asio::awaitable<Result<std::shared_ptr<const Principal>>> load_key(const std::string& token);
  boost::asio::awaitable<Result<std::shared_ptr<const EntityLimits>>> load_end_user(const std::string& id);
  // A fresh entry, else `load` (a stale entry answers while the store is unreachable).
  template <class T, class Loader>
  boost::asio::awaitable<Result<std::shared_ptr<const T>>> cached(Map<T>& map, std::string id, Loader load);
  template <class T>
  bool find(const Map<T>& map, const std::string& id, std::shared_ptr<const T>& out, bool& stale) const;
  template <class T>
  void put(Map<T>& map, const std::string& id, std::shared_ptr<const T> value);

  KeyStore& store_;
  config::ControlSettings settings_;
  Now now_;
  mutable std::shared_mutex mu_;
  Map<Principal> keys_;
  Map<EntityLimits> end_users_;
  std::atomic<std::uint64_t> loads_{0};
};

}  // namespace tollgate::auth
