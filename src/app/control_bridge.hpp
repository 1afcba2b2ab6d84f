#pragma once
// Module-private to app/: the control plane (admin::ControlPlane, the admin API) behind the
// interface the request path uses (proxy::ControlAccess), so proxy/ does not depend on admin/.
#include "tollgate/admin/admin_api.hpp"
#include "tollgate/admin/control_plane.hpp"
#include "tollgate/proxy/control_access.hpp"

namespace tollgate::app {

class ControlBridge final : public proxy::ControlAccess {
 public:
  /// `control` must outlive the bridge.
  explicit ControlBridge(admin::ControlPlane& control) : control_(control) {}

  auth::KeyCache& keys() override { return control_.cache(); }
  spend::SpendSink& spend() override { return control_.spend(); }
  bool first_soft_budget_alert(const std::string& scope, std::int64_t window_ms) override {
    return control_.first_soft_budget_alert(scope, window_ms);
  }
  bool db_up() const override { return control_.db_up(); }
  bool schema_ready() const override { return control_.schema_ready(); }
  bool schema_pending() const override { return control_.schema_pending(); }
  bool handles_admin(std::string_view path) const override { return admin::AdminApi::handles(path); }
  boost::asio::awaitable<api::ApiResult<std::string>> admin(const proxy::AdminCall& call, const auth::Principal& caller,
                                                            const auth::ModelCatalog& catalog,
                                                            std::int64_t now_ms) override {
    admin::AdminApi api(control_, catalog);
    const admin::AdminRequest request{.post = call.post, .path = call.path, .query = call.query, .body = call.body};
    co_return co_await api.handle(request, caller, now_ms);
  }

 private:
  admin::ControlPlane& control_;
};

}  // namespace tollgate::app
