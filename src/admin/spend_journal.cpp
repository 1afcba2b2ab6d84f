#include "admin/spend_journal.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/logger.h>

namespace tollgate::admin {
namespace {

using Json = nlohmann::json;
namespace fs = std::filesystem;

constexpr std::string_view kPrefix = "spend-";
constexpr std::string_view kSuffix = ".ndjson";

std::optional<std::uint64_t> seq_of(const std::string& name) {
  if (!name.starts_with(kPrefix) || !name.ends_with(kSuffix)) return std::nullopt;
  const std::string_view digits(name.data() + kPrefix.size(), name.size() - kPrefix.size() - kSuffix.size());
  std::uint64_t seq = 0;
  const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), seq);
  if (ec != std::errc() || ptr != digits.data() + digits.size()) return std::nullopt;
  return seq;
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

template <class T>
void take(const Json& j, const char* name, T& out) {
  const auto it = j.find(name);
  if (it != j.end() && !it->is_null()) out = it->get<T>();
}

}  // namespace

SpendJournal::SpendJournal(std::string dir, spdlog::logger& log) : dir_(std::move(dir)), log_(log) {
  if (dir_.empty()) return;
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) throw std::runtime_error("spend journal directory " + dir_ + " cannot be created: " + ec.message());
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    if (auto seq = seq_of(entry.path().filename().string())) leftover_.push_back(*seq);
  }
  if (ec) throw std::runtime_error("spend journal directory " + dir_ + " cannot be read: " + ec.message());
  std::sort(leftover_.begin(), leftover_.end());
  seq_ = leftover_.empty() ? 1 : leftover_.back() + 1;
  std::lock_guard lock(mu_);
  open_segment();
  if (fd_ < 0) throw std::runtime_error("spend journal " + path_of(seq_) + " cannot be opened: " + std::strerror(errno));
}

SpendJournal::~SpendJournal() {
  if (fd_ >= 0) {
    ::fdatasync(fd_);
    ::close(fd_);
  }
}

std::string SpendJournal::path_of(std::uint64_t seq) const {
  return fmt::format("{}/{}{:010}{}", dir_, kPrefix, seq, kSuffix);
}

void SpendJournal::open_segment() {
  fd_ = ::open(path_of(seq_).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
}

std::uint64_t SpendJournal::append(const db::SpendEvent& event, bool& ok) {
  ok = true;
  if (!enabled()) return 0;
  std::string line = encode(event);
  line += '\n';
  std::lock_guard lock(mu_);
  ok = fd_ >= 0 && write_all(fd_, line);
  dirty_ = true;
  return seq_;
}

std::uint64_t SpendJournal::rotate() {
  if (!enabled()) return 0;
  std::lock_guard lock(mu_);
  const std::uint64_t closed = seq_;
  if (fd_ >= 0) {
    ::fdatasync(fd_);
    ::close(fd_);
  }
  ++seq_;
  dirty_ = false;
  open_segment();
  if (fd_ < 0) log_.error("msg=\"spend journal segment cannot be opened\" path={} error=\"{}\"", path_of(seq_), std::strerror(errno));
  return closed;
}

void SpendJournal::sync() {
  if (!enabled()) return;
  int fd = -1;
  {
    std::lock_guard lock(mu_);
    if (!dirty_ || fd_ < 0) return;
    dirty_ = false;
    fd = ::dup(fd_);  // synced outside the lock: appends never wait for the disk
  }
  if (fd < 0) return;
  ::fdatasync(fd);
  ::close(fd);
}

void SpendJournal::remove(std::uint64_t seq) {
  if (!enabled()) return;
  std::error_code ec;
  fs::remove(path_of(seq), ec);
  if (ec) log_.warn("msg=\"spend journal segment not removed\" seq={} error=\"{}\"", seq, ec.message());
}

std::vector<db::SpendEvent> SpendJournal::read(std::uint64_t seq, std::size_t& skipped) const {
  std::vector<db::SpendEvent> out;
  if (!enabled()) return out;
  std::ifstream in(path_of(seq));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    db::SpendEvent e;
    if (decode(line, e)) {
      out.push_back(std::move(e));
    } else {
      ++skipped;
    }
  }
  return out;
}

std::string SpendJournal::encode(const db::SpendEvent& e) {
  Json deltas = Json::array();
  for (const db::SpendDelta& d : e.deltas) {
    deltas.push_back({{"entity", static_cast<int>(d.entity)},
                      {"id", d.id},
                      {"amount", d.amount},
                      {"window_ms", d.window_ms},
                      {"model", d.model}});
  }
  const Json j = {{"request_id", e.request_id},
                  {"call_type", e.call_type},
                  {"api_key", e.api_key},
                  {"spend", e.spend},
                  {"counterfactual_spend", e.counterfactual_spend},
                  {"prompt_tokens", e.prompt_tokens},
                  {"completion_tokens", e.completion_tokens},
                  {"total_tokens", e.total_tokens},
                  {"cache_read_input_tokens", e.cache_read_input_tokens},
                  {"cache_creation_input_tokens", e.cache_creation_input_tokens},
                  {"start_ms", e.start_ms},
                  {"end_ms", e.end_ms},
                  {"completion_start_ms", e.completion_start_ms},
                  {"model", e.model},
                  {"model_id", e.model_id},
                  {"model_group", e.model_group},
                  {"custom_llm_provider", e.custom_llm_provider},
                  {"api_base", e.api_base},
                  {"user", e.user},
                  {"team_id", e.team_id},
                  {"organization_id", e.organization_id},
                  {"end_user", e.end_user},
                  {"metadata", e.metadata},
                  {"cache_hit", e.cache_hit},
                  {"request_tags", e.request_tags},
                  {"status", e.status},
                  {"messages", e.messages},
                  {"response", e.response},
                  {"deltas", std::move(deltas)}};
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

bool SpendJournal::decode(std::string_view line, db::SpendEvent& e) {
  const Json j = Json::parse(line, nullptr, false);
  if (!j.is_object()) return false;
  try {
    take(j, "request_id", e.request_id);
    take(j, "call_type", e.call_type);
    take(j, "api_key", e.api_key);
    take(j, "spend", e.spend);
    take(j, "counterfactual_spend", e.counterfactual_spend);
    take(j, "prompt_tokens", e.prompt_tokens);
    take(j, "completion_tokens", e.completion_tokens);
    take(j, "total_tokens", e.total_tokens);
    take(j, "cache_read_input_tokens", e.cache_read_input_tokens);
    take(j, "cache_creation_input_tokens", e.cache_creation_input_tokens);
    take(j, "start_ms", e.start_ms);
    take(j, "end_ms", e.end_ms);
    take(j, "completion_start_ms", e.completion_start_ms);
    take(j, "model", e.model);
    take(j, "model_id", e.model_id);
    take(j, "model_group", e.model_group);
    take(j, "custom_llm_provider", e.custom_llm_provider);
    take(j, "api_base", e.api_base);
    take(j, "user", e.user);
    take(j, "team_id", e.team_id);
    take(j, "organization_id", e.organization_id);
    take(j, "end_user", e.end_user);
    take(j, "metadata", e.metadata);
    take(j, "cache_hit", e.cache_hit);
    take(j, "request_tags", e.request_tags);
    take(j, "status", e.status);
    take(j, "messages", e.messages);
    take(j, "response", e.response);
    for (const Json& d : j.value("deltas", Json::array())) {
      const int entity = d.at("entity").get<int>();
      if (entity < 0 || entity > static_cast<int>(db::Entity::kBudget)) return false;
      e.deltas.push_back({.entity = static_cast<db::Entity>(entity),
                          .id = d.at("id").get<std::string>(),
                          .amount = d.at("amount").get<double>(),
                          .window_ms = d.at("window_ms").get<std::int64_t>(),
                          .model = d.value("model", std::string())});
    }
  } catch (const Json::exception&) {
    return false;  // a field of the wrong type: not a line this code wrote
  }
  return !e.request_id.empty();
}

}  // namespace tollgate::admin
