// The request path in process, no client sockets: a ProxyHandler on an io_context, requests
// through an in-memory exchange, mock deployments (and one refused port) as upstreams, and fakes
// for the control plane's key store and spend sink. Covers what the stages promise together:
// one settlement per LLM request on every exit path, the cache seam answering without an
// upstream call, and the shadow hook's call reaching the hook and never the client.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/null_sink.h>

#include "tollgate/auth/key_cache.hpp"
#include "tollgate/http/upstream_client.hpp"
#include "tollgate/proxy/control_access.hpp"
#include "tollgate/proxy/proxy_handler.hpp"

namespace tollgate::proxy {
namespace {

namespace asio = boost::asio;
using nlohmann::json;

constexpr std::string_view kMasterKey = "sk-master-pipeline";

// Captures what the gateway would have sent to the client.
class MemoryExchange final : public http::Exchange {
 public:
  MemoryExchange(boost::beast::http::verb method, std::string target, std::string body) {
    request_.method(method);
    request_.target(target);
    request_.set(boost::beast::http::field::authorization, "Bearer " + std::string(kMasterKey));
    request_.body() = std::move(body);
  }
  const http::Request& request() const override { return request_; }
  SteadyTime received_at() const override { return received_; }
  bool draining() const override { return false; }
  bool stopping() const override { return false; }
  asio::awaitable<bool> send(unsigned status, std::string_view /*type*/, std::string&& body,
                             const http::HeaderList& headers) override {
    status_ = status;
    body_ = std::move(body);
    headers_ = headers;
    co_return true;
  }
  asio::awaitable<bool> begin_stream(unsigned status, std::string_view /*type*/,
                                     const http::HeaderList& headers) override {
    status_ = status;
    headers_ = headers;
    co_return true;
  }
  asio::awaitable<bool> write_chunk(std::string_view data) override {
    body_ += data;
    co_return true;
  }
  asio::awaitable<bool> end_stream() override {
    ended_ = true;
    co_return true;
  }
  void close_after_response() override {}

  unsigned status() const { return status_; }
  const std::string& body() const { return body_; }
  bool stream_ended() const { return ended_; }
  std::string header(std::string_view name) const {
    for (const auto& [k, v] : headers_) {
      if (k == name) return v;
    }
    return {};
  }

 private:
  http::Request request_;
  SteadyTime received_ = std::chrono::steady_clock::now();
  unsigned status_ = 0;
  std::string body_;
  http::HeaderList headers_;
  bool ended_ = false;
};

// No keys stored: only the master key authenticates.
class EmptyKeyStore final : public auth::KeyStore {
 public:
  asio::awaitable<Result<std::optional<auth::Record>>> get(auth::Entity /*entity*/, std::string /*id*/) override {
    co_return std::optional<auth::Record>();
  }
  asio::awaitable<Result<std::optional<auth::KeyBundle>>> key_bundle(std::string /*key_id*/) override {
    co_return std::optional<auth::KeyBundle>();
  }
};

class RecordingSink final : public spend::SpendSink {
 public:
  void record(spend::SpendEvent event) override { events.push_back(std::move(event)); }
  std::vector<spend::SpendEvent> events;
};

class FakeControl final : public ControlAccess {
 public:
  FakeControl() : cache_(store_, config::ControlSettings{}) {}
  auth::KeyCache& keys() override { return cache_; }
  spend::SpendSink& spend() override { return sink; }
  bool first_soft_budget_alert(const std::string& /*scope*/, std::int64_t /*window_ms*/) override { return false; }
  bool db_up() const override { return true; }
  bool schema_ready() const override { return true; }
  bool schema_pending() const override { return false; }
  bool handles_admin(std::string_view /*path*/) const override { return false; }
  asio::awaitable<api::ApiResult<std::string>> admin(const AdminCall& /*call*/, const auth::Principal& /*caller*/,
                                                     const auth::ModelCatalog& /*catalog*/,
                                                     std::int64_t /*now_ms*/) override {
    co_return api::make_error(Errc::kNotFound, "no admin routes here");
  }

  RecordingSink sink;

 private:
  EmptyKeyStore store_;
  auth::KeyCache cache_;
};

config::Deployment mock(std::string group, std::string id, std::string answer) {
  config::Deployment d;
  d.model_name = std::move(group);
  d.id = std::move(id);
  d.provider = "openai";
  d.model = "gpt-4o-mini";
  d.mock_response = std::move(answer);
  d.input_cost_per_token = 1e-6;
  d.output_cost_per_token = 2e-6;
  return d;
}

class PipelineTest : public ::testing::Test {
 protected:
  void start(Hooks hooks = {}) {
    config::Config c;
    c.master_key = std::string(kMasterKey);
    c.model_list = {mock("primary", "p1", "primary answer"), mock("candidate", "c1", "candidate answer")};
    config::Deployment refused;  // a port nothing listens on: every call fails to connect
    refused.model_name = "refused";
    refused.id = "r1";
    refused.provider = "openai";
    refused.model = "gpt-4o-mini";
    refused.api_base = "http://127.0.0.1:1/v1";
    c.model_list.push_back(refused);
    config_ = std::make_shared<const config::Config>(std::move(c));
    tls_ = http::make_client_tls_context(config_->upstream);
    snapshots_ = std::make_unique<SnapshotHolder>(std::make_shared<const Snapshot>(config_, metrics_, &control_));
    handler_ = std::make_unique<ProxyHandler>(0, *snapshots_, io_, *tls_, access_log_, log_, clock_, nullptr, nullptr,
                                              config::ReloadFn{}, hooks);
  }

  // Runs one request, and whatever it started (a shadow call), to completion.
  std::unique_ptr<MemoryExchange> post(std::string target, const json& body) {
    auto ex = std::make_unique<MemoryExchange>(boost::beast::http::verb::post, std::move(target), body.dump());
    asio::co_spawn(io_, handler_->handle(*ex), asio::detached);
    io_.run();
    io_.restart();
    return ex;
  }

  static json chat(std::string model, bool stream = false) {
    return {{"model", std::move(model)},
            {"messages", json::array({{{"role", "user"}, {"content", "hi"}}})},
            {"stream", stream},
            {"num_retries", 0}};
  }

  std::vector<spend::SpendEvent>& events() { return control_.sink.events; }

  asio::io_context io_;
  metrics::Metrics metrics_{[](std::string_view) { return true; }};
  AccessLog access_log_{{.level = "info", .access_log = "off"}, 1};
  std::shared_ptr<spdlog::logger> log_ =
      std::make_shared<spdlog::logger>("pipeline", std::make_shared<spdlog::sinks::null_sink_mt>());
  SystemClock clock_;
  FakeControl control_;
  std::shared_ptr<const config::Config> config_;
  std::unique_ptr<asio::ssl::context> tls_;
  std::unique_ptr<SnapshotHolder> snapshots_;
  std::unique_ptr<ProxyHandler> handler_;
};

TEST_F(PipelineTest, AWholeAnswerSettlesOnceAsASuccess) {
  start();
  auto ex = post("/v1/chat/completions", chat("primary"));
  ASSERT_EQ(ex->status(), 200u) << ex->body();
  EXPECT_NE(ex->body().find("primary answer"), std::string::npos);
  ASSERT_EQ(events().size(), 1u);
  EXPECT_EQ(events()[0].status, "success");
  EXPECT_EQ(events()[0].model_group, "primary");
  EXPECT_EQ(events()[0].model_id, "p1");
  EXPECT_GT(events()[0].spend, 0.0);
  EXPECT_EQ(ex->header("x-litellm-response-cost"), fmt::format("{}", events()[0].spend));
}

TEST_F(PipelineTest, AStreamSettlesOnceBeforeItEnds) {
  start();
  auto ex = post("/v1/chat/completions", chat("primary", true));
  ASSERT_EQ(ex->status(), 200u);
  EXPECT_TRUE(ex->stream_ended());
  EXPECT_NE(ex->body().find("data: [DONE]"), std::string::npos);
  ASSERT_EQ(events().size(), 1u);
  EXPECT_EQ(events()[0].status, "success");
}

TEST_F(PipelineTest, AFailedCallSettlesOnceAsAFailure) {
  start();
  auto ex = post("/v1/chat/completions", chat("refused"));
  EXPECT_EQ(ex->status(), 502u) << ex->body();
  ASSERT_EQ(events().size(), 1u);
  EXPECT_EQ(events()[0].status, "failure");
  EXPECT_EQ(events()[0].model_id, "r1");
  EXPECT_EQ(events()[0].spend, 0.0);
}

TEST_F(PipelineTest, ARequestRefusedBeforeAnyDeploymentRecordsNoSpend) {
  start();
  auto unknown = post("/v1/chat/completions", chat("no-such-group"));
  EXPECT_EQ(unknown->status(), 400u);
  auto malformed = post("/v1/chat/completions", json("not an object"));
  EXPECT_EQ(malformed->status(), 400u);
  EXPECT_TRUE(events().empty());
}

TEST_F(PipelineTest, TheAnthropicFrontEndAnswersInItsOwnShape) {
  start();
  const json message = {{"model", "primary"},
                        {"max_tokens", 64},
                        {"messages", json::array({{{"role", "user"}, {"content", "hi"}}})}};
  auto ok = post("/v1/messages", message);
  ASSERT_EQ(ok->status(), 200u) << ok->body();
  const json answer = json::parse(ok->body());
  EXPECT_EQ(answer["type"], "message");
  EXPECT_EQ(answer["content"][0]["text"], "primary answer");
  json unknown = message;
  unknown["model"] = "no-such-group";
  auto refused = post("/v1/messages", unknown);
  EXPECT_EQ(refused->status(), 400u);
  EXPECT_EQ(json::parse(refused->body())["type"], "error");
}

TEST_F(PipelineTest, TheLogStageCountsEachRequestUnderItsRequestedModel) {
  start();
  post("/v1/chat/completions", chat("primary"));
  post("/v1/chat/completions", chat("primary"));
  post("/v1/chat/completions", chat("refused"));
  const std::string text = metrics_.render();
  EXPECT_NE(text.find(R"(litellm_proxy_total_requests_metric_total{requested_model="primary",status_code="200"} 2)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"(litellm_proxy_total_requests_metric_total{requested_model="refused",status_code="502"} 1)"),
            std::string::npos);
  EXPECT_NE(text.find(R"(litellm_proxy_failed_requests_metric_total{)"), std::string::npos);
}

class FixedCache final : public ResponseCache {
 public:
  std::optional<CachedAnswer> lookup(const CacheQuery& query) override {
    groups.emplace_back(query.model_group);
    if (query.model_group != "primary") return std::nullopt;
    return CachedAnswer{.body = R"({"id":"cached","object":"chat.completion","choices":[]})", .usage = {}};
  }
  std::vector<std::string> groups;
};

TEST_F(PipelineTest, ACacheHitAnswersWithoutCallingADeployment) {
  FixedCache cache;
  start({.cache = &cache});
  auto hit = post("/v1/chat/completions", chat("primary"));
  ASSERT_EQ(hit->status(), 200u);
  EXPECT_EQ(json::parse(hit->body())["id"], "cached");
  EXPECT_EQ(hit->header("x-litellm-model-group"), "primary");
  EXPECT_EQ(hit->header("x-litellm-model-id"), "") << "no deployment answered";
  EXPECT_TRUE(events().empty()) << "nothing was spent";
  auto miss = post("/v1/chat/completions", chat("candidate"));
  EXPECT_NE(miss->body().find("candidate answer"), std::string::npos);
  auto streamed = post("/v1/chat/completions", chat("primary", true));
  EXPECT_NE(streamed->body().find("\"content\":\"primary"), std::string::npos) << "streams are not looked up";
  EXPECT_EQ(cache.groups, (std::vector<std::string>{"primary", "candidate"}));
}

class ShadowToCandidate final : public ShadowHook {
 public:
  std::optional<std::string> shadow_group(const CompletedRequest& request) override {
    offered.emplace_back(request.model_group);
    if (request.model_group != "primary") return std::nullopt;
    return "candidate";
  }
  void record(ShadowOutcome outcome) override { outcomes.push_back(std::move(outcome)); }
  std::vector<std::string> offered;
  std::vector<ShadowOutcome> outcomes;
};

TEST_F(PipelineTest, AShadowCallReachesTheHookAndNeverTheClient) {
  ShadowToCandidate shadow;
  start({.shadow = &shadow});
  auto ex = post("/v1/chat/completions", chat("primary"));
  ASSERT_EQ(ex->status(), 200u);
  EXPECT_NE(ex->body().find("primary answer"), std::string::npos);
  EXPECT_EQ(ex->body().find("candidate answer"), std::string::npos);
  ASSERT_EQ(shadow.outcomes.size(), 1u);
  const ShadowOutcome& o = shadow.outcomes[0];
  EXPECT_EQ(o.model_group, "candidate");
  EXPECT_EQ(o.deployment_id, "c1");
  EXPECT_EQ(o.status, 200u);
  EXPECT_NE(o.body.find("candidate answer"), std::string::npos);
  EXPECT_TRUE(o.usage.present);
  ASSERT_TRUE(o.cost.has_value());
  EXPECT_GT(*o.cost, 0.0);
  EXPECT_EQ(o.request_id, ex->header("x-litellm-call-id"));
  ASSERT_EQ(events().size(), 1u) << "the shadow call's spend goes to the hook, not the journal";
  EXPECT_EQ(events()[0].model_group, "primary");

  auto failed = post("/v1/chat/completions", chat("refused"));
  EXPECT_EQ(failed->status(), 502u);
  EXPECT_EQ(shadow.outcomes.size(), 1u) << "only answered requests are shadowed";
  EXPECT_EQ(shadow.offered, (std::vector<std::string>{"primary"}));
}

}  // namespace
}  // namespace tollgate::proxy
