#include "support/prometheus_server.hpp"

#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

#include <yaml-cpp/yaml.h>

#include "support/child_process.hpp"
#include "support/http_client.hpp"

namespace tollgate::testing {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;

constexpr auto kStartLimit = 30s;
constexpr auto kStopLimit = 10s;

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  if (!out.flush()) throw std::runtime_error("cannot write " + path);
}

}  // namespace

PrometheusServer::PrometheusServer(const std::string& config_yaml) : port_(free_port()) {
  const std::string binary = find_on_path("prometheus");
  if (binary.empty()) {
    throw std::runtime_error(
        "prometheus not found on PATH: the cluster test scrapes the gateway replicas with a real "
        "Prometheus; install it with `scripts/install-deps --test` (Debian package prometheus)");
  }
  write_file(dir_.file("prometheus.yml"), config_yaml);
  const std::string log_file = dir_.file("prometheus.log");
  pid_ = spawn_process({binary, "--config.file=" + dir_.file("prometheus.yml"),
                        "--storage.tsdb.path=" + dir_.file("data"),
                        "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--web.enable-lifecycle",
                        "--log.level=warn"},
                       log_file, {}, dir_.path());
  wait_until_serving(pid_, port_, "/-/ready", kStartLimit, "prometheus", log_file);
}

PrometheusServer::~PrometheusServer() { stop(); }

void PrometheusServer::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + kStopLimit;
  while (::waitpid(pid_, nullptr, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      break;
    }
    std::this_thread::sleep_for(10ms);
  }
  pid_ = -1;
}

void PrometheusServer::reload(const std::string& config_yaml) {
  write_file(dir_.file("prometheus.yml"), config_yaml);
  const HttpResponse r = http_request(port_, "POST", "/-/reload");
  if (r.status != 200) throw std::runtime_error("prometheus refused the new configuration: " + r.body);
}

Json PrometheusServer::api_get(const std::string& target) const {
  const HttpResponse r = http_request(port_, "GET", target);
  const Json body = r.json();
  if (r.status != 200 || body.is_discarded() || body.value("status", "") != "success" || !body.contains("data")) {
    throw std::runtime_error("prometheus " + target + ": " + std::to_string(r.status) + " " + r.body);
  }
  return body["data"];
}

Json PrometheusServer::active_targets() const { return api_get("/api/v1/targets?state=active")["activeTargets"]; }

Json PrometheusServer::query(const std::string& promql) const {
  return api_get("/api/v1/query?query=" + percent_encode(promql))["result"];
}

std::string with_job_targets(const std::string& config_yaml, const std::string& job,
                             const std::vector<std::string>& targets, std::chrono::seconds interval,
                             const std::string& base_dir) {
  YAML::Node root;
  try {
    root = YAML::Load(config_yaml);
  } catch (const YAML::Exception& e) {
    throw std::runtime_error(std::string("prometheus configuration does not parse: ") + e.what());
  }
  YAML::Node scrape_configs = root["scrape_configs"];
  std::size_t index = 0;
  while (index < scrape_configs.size() && !(scrape_configs[index]["job_name"] &&
                                             scrape_configs[index]["job_name"].as<std::string>() == job)) {
    ++index;
  }
  if (index == scrape_configs.size()) throw std::runtime_error("prometheus configuration has no scrape job `" + job + "`");

  YAML::Node found = scrape_configs[index];
  const std::string every = std::to_string(interval.count()) + "s";
  found["scrape_interval"] = every;
  found["scrape_timeout"] = every;  // may not exceed the interval
  YAML::Node first = found["static_configs"] && found["static_configs"].size() > 0
                         ? YAML::Clone(found["static_configs"][0])
                         : YAML::Node(YAML::NodeType::Map);
  first["targets"] = targets;
  YAML::Node static_configs(YAML::NodeType::Sequence);
  static_configs.push_back(first);
  found["static_configs"] = static_configs;

  YAML::Node rule_files = root["rule_files"];
  for (std::size_t i = 0; i < rule_files.size(); ++i) {
    const std::filesystem::path rules = rule_files[i].as<std::string>();
    if (rules.is_relative()) rule_files[i] = (std::filesystem::path(base_dir) / rules).string();
  }

  YAML::Emitter out;
  out << root;
  return out.c_str();
}

}  // namespace tollgate::testing
