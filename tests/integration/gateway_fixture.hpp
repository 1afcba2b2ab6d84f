#pragma once
// Runs the whole gateway in-process on 127.0.0.1, port 0, from a YAML config, for integration tests.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include "support/fake_provider.hpp"
#include "support/http_client.hpp"
#include "support/temp_dir.hpp"
#include "tollgate/app/app.hpp"
#include "tollgate/config/loader.hpp"
#include "tollgate/core/clock.hpp"

namespace tollgate::testing {

inline constexpr const char* kMasterKey = "sk-integration-master";

inline Headers auth_headers(Headers extra = {}) {
  extra["authorization"] = std::string("Bearer ") + kMasterKey;
  return extra;
}

/// How a test Gateway differs from the default.
struct GatewayOptions {
  bool reloadable = false;                                // App gets a source: set_config() + reload
  std::function<void(config::Config&)> adjust;            // applied after loading (and on each reload)
  const Clock* clock = nullptr;                           // the app's time (a ManualClock); null: the system's
};

class Gateway {
 public:
  /// `yaml` is a config.yaml; the listener is forced to 127.0.0.1:0 with two workers.
  explicit Gateway(const std::string& yaml, std::map<std::string, std::string> env = {}, GatewayOptions options = {})
      : yaml_(std::make_shared<std::string>(yaml)) {
    auto lookup = [env](const std::string& name) -> std::optional<std::string> {
      auto it = env.find(name);
      return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
    };
    // The test's own settings, the same on every load: a reload compares them with the running ones.
    auto load = [this, lookup, adjust = options.adjust]() {
      config::LoadResult loaded = config::load_config_text(*yaml_, lookup);
      if (!loaded.config) return loaded;
      config::Config& cfg = *loaded.config;
      cfg.server.host = "127.0.0.1";
      cfg.server.port = 0;
      cfg.server.num_workers = 2;
      // Each gateway gets its own SQLite file unless the test chose one (or PostgreSQL) ...
      if (cfg.database.sqlite_path == config::DatabaseSettings{}.sqlite_path) cfg.database.sqlite_path = db_dir_.file("tollgate.db");
      // ... and its own spend journal (a shared one would replay one test's spend into another's database).
      if (cfg.spend.journal_dir == config::SpendSettings{}.journal_dir) cfg.spend.journal_dir = db_dir_.file("spend-journal");
      if (adjust) adjust(cfg);
      return loaded;
    };
    config::LoadResult loaded = load();
    if (!loaded.config) {
      std::string all;
      for (const auto& e : loaded.errors) all += e.to_string() + "\n";
      throw std::runtime_error("test config invalid:\n" + all);
    }
    auto log = std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
    app::ConfigSource source;
    if (options.reloadable) source = load;
    app_ = std::make_unique<app::App>(std::move(*loaded.config), log, std::move(source), options.clock);
    port_ = app_->start();
  }
  ~Gateway() {
    if (app_) app_->shutdown();
  }

  /// The text the next reload reads (reloadable gateways).
  void set_config(const std::string& yaml) { *yaml_ = yaml; }

  std::uint16_t port() const { return port_; }
  app::App& app() { return *app_; }

  HttpResponse post(const std::string& path, const std::string& body, Headers headers = auth_headers()) const {
    return http_request(port_, "POST", path, body, std::move(headers));
  }
  HttpResponse get(const std::string& path, Headers headers = auth_headers()) const {
    return http_request(port_, "GET", path, {}, std::move(headers));
  }


 private:
  TempDir db_dir_{"tollgate-gw"};
  std::shared_ptr<std::string> yaml_;  // read by reloads from worker threads: set it only between them
  std::unique_ptr<app::App> app_;
  std::uint16_t port_ = 0;
};

/// Additions to fake_config(): YAML text spliced into the named places.
struct ConfigExtras {
  std::string models;     // more model_list entries (each starting "  - model_name: ...")
  std::string general;    // more general_settings pairs, each starting ", "
  std::string tollgate;   // more tollgate_settings pairs, each starting ", "
  std::string top;        // more top-level blocks
};

/// A config with one group `gpt-fake` of two deployments (fake-a, fake-b) on `base_url`.
inline std::string fake_config(const std::string& base_url, const ConfigExtras& extras = {}) {
  return "model_list:\n"
         "  - model_name: gpt-fake\n"
         "    litellm_params: {model: openai/fake-model, api_base: \"" + base_url + "\", api_key: sk-upstream}\n"
         "    model_info: {id: fake-a}\n"
         "  - model_name: gpt-fake\n"
         "    litellm_params: {model: openai/fake-model, api_base: \"" + base_url + "\", api_key: sk-upstream}\n"
         "    model_info: {id: fake-b}\n" +
         extras.models + "general_settings: {master_key: " + kMasterKey + extras.general + "}\n" +
         "tollgate_settings: {access_log: \"off\"" + extras.tollgate + "}\n" + extras.top;
}

/// "http://127.0.0.1:PORT": the fake provider at `port`, no path.
inline std::string fake_root(std::uint16_t port) { return "http://127.0.0.1:" + std::to_string(port); }

/// The root of a deployment named `name` on the fake provider at `port`, with fake controls in the
/// path (e.g. "status=500/retry_after=3"): the fake records `/dep=<name>` in each target, so tests
/// can tell which deployment a request reached. Vendors whose api_base carries no `/v1` use it as is.
inline std::string fake_deployment_root(std::uint16_t port, const std::string& name, const std::string& controls = "") {
  std::string url = fake_root(port) + "/dep=" + name;
  if (!controls.empty()) url += "/" + controls;
  return url;
}

/// The OpenAI-style api_base (`.../v1`) of a deployment, see fake_deployment_root().
inline std::string fake_deployment_base(std::uint16_t port, const std::string& name, const std::string& controls = "") {
  return fake_deployment_root(port, name, controls) + "/v1";
}

/// Concatenated `delta.content` of an OpenAI SSE body, and whether it ended with [DONE].
struct StreamText {
  std::string text;
  bool done = false;
  int usage_chunks = 0;
  nlohmann::json usage;
  nlohmann::json error;
  int events = 0;
};

inline StreamText parse_stream(const std::string& body) {
  StreamText out;
  std::size_t pos = 0;
  while ((pos = body.find("data: ", pos)) != std::string::npos) {
    const std::size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) break;
    const std::string data = body.substr(pos + 6, end - pos - 6);
    pos = end + 2;
    ++out.events;
    if (data == "[DONE]") {
      out.done = true;
      continue;
    }
    auto j = nlohmann::json::parse(data, nullptr, false);
    if (j.is_discarded()) continue;
    if (j.contains("error")) out.error = j["error"];
    if (j.contains("usage") && !j["usage"].is_null()) {
      ++out.usage_chunks;
      out.usage = j["usage"];
    }
    if (j.contains("choices")) {
      for (const auto& c : j["choices"]) {
        if (c.contains("delta") && c["delta"].contains("content") && c["delta"]["content"].is_string()) {
          out.text += c["delta"]["content"].get<std::string>();
        }
        if (c.contains("text") && c["text"].is_string()) out.text += c["text"].get<std::string>();
      }
    }
  }
  return out;
}

}  // namespace tollgate::testing
