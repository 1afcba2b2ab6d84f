#include "tollgate/auth/key_cache.hpp"

namespace tollgate::auth {
namespace {

constexpr std::size_t kMaxEntries = 200'000;  // beyond this, expired entries are swept on insert

std::optional<std::string> string_field(const db::Record& r, std::string_view name) {
  const auto it = r.data.find(name);
  if (it == r.data.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) return std::nullopt;
  return it->get<std::string>();
}

}  // namespace

KeyCache::KeyCache(db::Store& store, const config::ControlSettings& settings, Now now)
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
  auto key = co_await store_.get(db::Entity::kKey, token);
  if (!key) co_return key.error();
  if (!*key) co_return std::shared_ptr<const Principal>();
  const db::Record& k = **key;

  std::optional<db::Record> team, user, org;
  std::optional<std::string> role;
  std::optional<std::string> org_id = string_field(k, "organization_id");
  if (auto team_id = string_field(k, "team_id")) {
    auto t = co_await store_.get(db::Entity::kTeam, *team_id);
    if (!t) co_return t.error();
    team = std::move(*t);
    if (team && !org_id) org_id = string_field(*team, "organization_id");
  }
  if (auto user_id = string_field(k, "user_id")) {
    auto u = co_await store_.get(db::Entity::kUser, *user_id);
    if (!u) co_return u.error();
    user = std::move(*u);
    if (team) {
      auto teams = co_await store_.teams_of_user(*user_id);
      if (!teams) co_return teams.error();
      for (const auto& m : *teams) {
        if (m.team_id == team->id) role = m.role;
      }
    }
  }
  if (org_id) {
    auto o = co_await store_.get(db::Entity::kOrganization, *org_id);
    if (!o) co_return o.error();
    org = std::move(*o);
  }
  std::optional<std::string_view> role_view;
  if (role) role_view = *role;
  Principal p = make_principal(k, team, user, org, role_view);
  if (!p.model_max_budget.empty()) {
    auto spend = co_await store_.model_spend(k.id, k.budget_reset_at_ms);
    if (!spend) co_return spend.error();
    for (auto& [model, amount] : *spend) p.model_spend.emplace(std::move(model), amount);
  }
  auto principal = std::make_shared<const Principal>(std::move(p));
  co_return principal;
}

boost::asio::awaitable<Result<std::shared_ptr<const EntityLimits>>> KeyCache::load_end_user(const std::string& id) {
  loads_.fetch_add(1, std::memory_order_relaxed);
  auto rec = co_await store_.get(db::Entity::kEndUser, id);
  if (!rec) co_return rec.error();
  if (!*rec) co_return std::shared_ptr<const EntityLimits>();
  EntityLimits limits = limits_of(**rec);
  // A customer's limits may come from a budget row (budget_id); its own fields win.
  if (auto budget_id = string_field(**rec, "budget_id")) {
    auto b = co_await store_.get(db::Entity::kBudget, *budget_id);
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

void KeyCache::invalidate(db::Entity entity, const std::string& id) {
  std::unique_lock lock(mu_);
  switch (entity) {
    case db::Entity::kKey: keys_.erase(id); break;
    case db::Entity::kEndUser: end_users_.erase(id); break;
    case db::Entity::kBudget: end_users_.clear(); break;
    case db::Entity::kTeam:
    case db::Entity::kUser:
    case db::Entity::kOrganization: keys_.clear(); break;
  }
}

void KeyCache::invalidate_all() {
  std::unique_lock lock(mu_);
  keys_.clear();
  end_users_.clear();
}

std::size_t KeyCache::size() const {
  std::shared_lock lock(mu_);
  return keys_.size() + end_users_.size();
}

}  // namespace tollgate::auth
