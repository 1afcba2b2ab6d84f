#include "tollgate/auth/key_cache.hpp"

namespace tollgate::auth {
namespace {

constexpr std::size_t kMaxEntries = 200'000;  // beyond this, expired entries are swept on insert

std::optional<std::string> string_field(const Record& r, std::string_view name) {
  const auto it = r.data.find(name);
  if (it == r.data.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) return std::nullopt;
  return it->get<std::string>();
}

}  // namespace

KeyCache::KeyCache(KeyStore& store, const config::ControlSettings& settings, Now now)
    : store_(store), settings_(settings), now_(now ? std::move(now) : Now([] { return std::chrono::steady_clock::now(); })) {}

template <class T>
bool KeyCache::find(const Map<T>& map, const std::string& id, std::shared_ptr<const T>& out, bool& stale) const {
  const auto it = map.find(id);
  if (it == map.end()) return false;
  out = it->second.value;
  stale = now_() >= it->second.expires;
  return true;
}

template <class T>
void KeyCache::put(Map<T>& map, const std::string& id, std::shared_ptr<const T> value) {
  const auto now = now_();
  if (map.size() >= kMaxEntries) std::erase_if(map, [&](const auto& kv) { return now >= kv.second.expires; });
  const auto ttl = value ? settings_.key_cache_ttl : settings_.negative_cache_ttl;
  map.insert_or_assign(id, Entry<T>{std::move(value), now + ttl});
}

template <class T, class Loader>
boost::asio::awaitable<Result<std::shared_ptr<const T>>> KeyCache::cached(Map<T>& map, std::string id, Loader load) {
  std::shared_ptr<const T> found;
  bool stale = false;
  bool hit = false;
  {
    std::shared_lock lock(mu_);
    hit = find(map, id, found, stale);
  }
  if (hit && !stale) co_return found;
  Result<std::shared_ptr<const T>> loaded = co_await (this->*load)(id);
  if (!loaded) {
    // The database is away: an entry we knew keeps answering until it is back.
    if (hit && found) co_return found;
    co_return loaded.error();
  }
  {
    std::unique_lock lock(mu_);
    put(map, id, *loaded);
  }
  co_return *loaded;
}

boost::asio::awaitable<Result<std::shared_ptr<const Principal>>> KeyCache::lookup(std::string token) {
  Result<std::shared_ptr<const Principal>> r = co_await cached(keys_, std::move(token), &KeyCache::load_key);
  co_return r;
}

boost::asio::awaitable<Result<std::shared_ptr<const EntityLimits>>> KeyCache::lookup_end_user(std::string id) {
  Result<std::shared_ptr<const EntityLimits>> r = co_await cached(end_users_, std::move(id), &KeyCache::load_end_user);
  co_return r;
}

boost::asio::awaitable<Result<std::shared_ptr<const Principal>>> KeyCache::load_key(const std::string& token) {
  loads_.fetch_add(1, std::memory_order_relaxed);
  // One trip to the store's threads for the key, its team, user, organization, role and model spend.
  Result<std::optional<KeyBundle>> bundle = co_await store_.key_bundle(token);
  if (!bundle) co_return bundle.error();
  if (!*bundle) co_return std::shared_ptr<const Principal>();
  const KeyBundle& b = **bundle;
  std::optional<std::string_view> role;
  if (b.team_role) role = *b.team_role;
  Principal p = make_principal(b.key, b.team, b.user, b.organization, role);
  for (const auto& [model, amount] : b.model_spend) p.model_spend.emplace(model, amount);
  auto principal = std::make_shared<const Principal>(std::move(p));
  co_return principal;
}

boost::asio::awaitable<Result<std::shared_ptr<const EntityLimits>>> KeyCache::load_end_user(const std::string& id) {
  loads_.fetch_add(1, std::memory_order_relaxed);
  auto rec = co_await store_.get(Entity::kEndUser, id);
  if (!rec) co_return rec.error();
  if (!*rec) co_return std::shared_ptr<const EntityLimits>();
  EntityLimits limits = limits_of(**rec);
  // A customer's limits may come from a budget row (budget_id); its own fields win.
  if (auto budget_id = string_field(**rec, "budget_id")) {
    auto b = co_await store_.get(Entity::kBudget, *budget_id);
    if (!b) co_return b.error();
    if (*b) {
      const EntityLimits from_budget = limits_of(**b);
      if (limits.max_budget < 0) limits.max_budget = from_budget.max_budget;
      if (limits.soft_budget < 0) limits.soft_budget = from_budget.soft_budget;
      if (limits.rpm < 0) limits.rpm = from_budget.rpm;
      if (limits.tpm < 0) limits.tpm = from_budget.tpm;
      if (limits.max_parallel < 0) limits.max_parallel = from_budget.max_parallel;
      if (!limits.budget_duration) limits.budget_duration = from_budget.budget_duration;
    }
  }
  auto out = std::make_shared<const EntityLimits>(std::move(limits));
  co_return out;
}

void KeyCache::invalidate(Entity entity, const std::string& id) {
  std::unique_lock lock(mu_);
  switch (entity) {
    case Entity::kKey: keys_.erase(id); break;
    case Entity::kEndUser: end_users_.erase(id); break;
    case Entity::kBudget: end_users_.clear(); break;
    case Entity::kTeam:
    case Entity::kUser:
    case Entity::kOrganization: keys_.clear(); break;
  }
}

void KeyCache::invalidate_all() {
  std::unique_lock lock(mu_);
  keys_.clear();
  end_users_.clear();
}

}  // namespace tollgate::auth
