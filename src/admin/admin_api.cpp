#include "tollgate/admin/admin_api.hpp"

#include <array>

#include "admin/fields.hpp"
#include "admin/handlers.hpp"
#include "tollgate/auth/budget_window.hpp"

namespace tollgate::admin {
namespace {

struct Prefix {
  std::string_view prefix;
  std::optional<db::Entity> entity;  // nullopt: keys
};

constexpr std::array<Prefix, 7> kPrefixes{{{"/key/", std::nullopt},
                                           {"/team/", db::Entity::kTeam},
                                           {"/user/", db::Entity::kUser},
                                           {"/organization/", db::Entity::kOrganization},
                                           {"/customer/", db::Entity::kEndUser},
                                           {"/end_user/", db::Entity::kEndUser},
                                           {"/budget/", db::Entity::kBudget}}};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool AdminApi::handles(std::string_view path) {
  if (is_spend_route(path)) return true;
  for (const auto& p : kPrefixes) {
    if (path.starts_with(p.prefix)) return true;
  }
  return false;
}

std::string query_param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) != name) continue;
    const std::string_view raw = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    std::string out;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '+') {
        out.push_back(' ');
      } else if (raw[i] == '%' && i + 2 < raw.size() && hex_value(raw[i + 1]) >= 0 && hex_value(raw[i + 2]) >= 0) {
        out.push_back(static_cast<char>(hex_value(raw[i + 1]) * 16 + hex_value(raw[i + 2])));
        i += 2;
      } else {
        out.push_back(raw[i]);
      }
    }
    return out;
  }
  return {};
}

std::string string_of(const Json& data, std::string_view name) {
  const auto it = data.find(name);
  return it != data.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool is_admin(const auth::Principal& p) { return p.master || p.role == auth::UserRole::kProxyAdmin; }

bool can_view_all(const auth::Principal& p) { return is_admin(p) || p.role == auth::UserRole::kProxyAdminViewer; }

api::ApiError forbidden(std::string_view what, std::optional<std::string> param) {
  return api::make_error(Errc::kForbidden, "Not allowed: " + std::string(what) + ". Ask a proxy admin.", std::move(param));
}

std::string_view id_field(db::Entity e) {
  switch (e) {
    case db::Entity::kKey: return "token";
    case db::Entity::kTeam: return "team_id";
    case db::Entity::kUser: return "user_id";
    case db::Entity::kOrganization: return "organization_id";
    case db::Entity::kEndUser: return "user_id";
    case db::Entity::kBudget: return "budget_id";
  }
  return "id";
}

Json record_json(const db::Record& r, std::string_view field) {
  Json j = r.data;
  j[std::string(field)] = r.id;
  j["spend"] = r.spend;
  j["budget_reset_at"] = r.budget_reset_at_ms > 0 ? Json(auth::iso8601(r.budget_reset_at_ms)) : Json(nullptr);
  j["created_at"] = auth::iso8601(r.created_at_ms);
  j["updated_at"] = auth::iso8601(r.updated_at_ms);
  return j;
}

void start_budget_window(db::Record& r, std::int64_t now_ms) {
  const auto it = r.data.find("budget_duration");
  std::optional<auth::Duration> d;
  if (it != r.data.end() && it->is_string()) d = auth::parse_duration(it->get_ref<const std::string&>());
  r.budget_reset_at_ms = d ? auth::add_duration(now_ms, *d) : 0;
}

api::ApiError store_error(const boost::system::error_code& ec) {
  if (ec == Errc::kDbUnavailable) return api::make_error(Errc::kDbUnavailable, "Database unavailable; try again.");
  if (ec == Errc::kDbConflict) return api::make_error(Errc::kDbConflict, "Already exists.");
  return api::make_error(Errc::kDbError, "Database error: " + ec.message() + ".");
}

boost::asio::awaitable<api::ApiResult<std::string>> AdminApi::handle(const AdminRequest& request,
                                                                     const auth::Principal& caller,
                                                                     std::int64_t now_ms) {
  Json body = Json::object();
  if (request.post) {
    auto parsed = parse_body(request.body);
    if (!parsed) co_return parsed.error();
    body = std::move(*parsed);
  }
  Call call{.control = control_,
            .caller = caller,
            .request = request,
            .body = std::move(body),
            .now_ms = now_ms,
            .catalog = catalog_};
  if (is_spend_route(request.path)) {
    Reply r = co_await spend_route(call);
    co_return r;
  }
  for (const auto& p : kPrefixes) {
    if (!request.path.starts_with(p.prefix)) continue;
    std::string_view action = request.path.substr(p.prefix.size());
    const bool reads = action == "info" || action == "list";
    if (reads == request.post) {
      co_return api::make_error(Errc::kMethodNotAllowed,
                                std::string("Use ") + (reads ? "GET" : "POST") + " for " + std::string(request.path) + ".");
    }
    if (!p.entity) {
      Reply r = co_await key_route(call, action);
      co_return r;
    }
    const db::Entity entity = *p.entity;
    Reply r = co_await entity_route(call, entity, action);
    co_return r;
  }
  co_return api::make_error(Errc::kNotFound, "Route not found: " + std::string(request.path));
}

}  // namespace tollgate::admin
