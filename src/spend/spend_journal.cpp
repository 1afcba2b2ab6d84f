#include "spend/spend_journal.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <type_traits>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/logger.h>

#include "tollgate/api/json_text.hpp"
#include "tollgate/api/json_read.hpp"

namespace tollgate::spend {
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
  closed_fds_.push_back(fd_);
  for (int fd : closed_fds_) {
    if (fd < 0) continue;
    ::fdatasync(fd);
    ::close(fd);
  }
}

std::string SpendJournal::path_of(std::uint64_t seq) const {
  return fmt::format("{}/{}{:010}{}", dir_, kPrefix, seq, kSuffix);
}

void SpendJournal::open_segment() {
  fd_ = ::open(path_of(seq_).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
}

std::uint64_t SpendJournal::append(std::string_view line, bool& ok) {
  ok = true;
  if (!enabled()) return 0;
  std::lock_guard lock(mu_);
  ok = fd_ >= 0 && write_all(fd_, line);
  dirty_ = true;
  return seq_;
}

std::uint64_t SpendJournal::rotate() {
  if (!enabled()) return 0;
  std::lock_guard lock(mu_);
  const std::uint64_t closed = seq_;
  if (fd_ >= 0 && dirty_) {
    closed_fds_.push_back(fd_);
  } else if (fd_ >= 0) {
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
  std::vector<int> fds;
  {
    std::lock_guard lock(mu_);
    fds.swap(closed_fds_);
    if (dirty_ && fd_ >= 0) {
      dirty_ = false;
      fds.push_back(::dup(fd_));  // synced outside the lock: appends never wait for the disk
    }
  }
  for (int fd : fds) {
    if (fd < 0) continue;
    ::fdatasync(fd);
    ::close(fd);
  }
}

void SpendJournal::remove(std::uint64_t seq) {
  if (!enabled()) return;
  std::error_code ec;
  fs::remove(path_of(seq), ec);
  if (ec) log_.warn("msg=\"spend journal segment not removed\" seq={} error=\"{}\"", seq, ec.message());
}

void SpendJournal::quarantine(std::uint64_t seq) {
  if (!enabled()) return;
  std::error_code ec;
  std::string to = path_of(seq);
  to.replace(to.size() - kSuffix.size(), kSuffix.size(), ".rejected");
  fs::rename(path_of(seq), to, ec);
  if (ec) log_.error("msg=\"spend journal segment not quarantined\" seq={} error=\"{}\"", seq, ec.message());
}

std::vector<SpendEvent> SpendJournal::read(std::uint64_t seq, std::size_t& skipped) const {
  std::vector<SpendEvent> out;
  if (!enabled()) return out;
  std::ifstream in(path_of(seq));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    SpendEvent e;
    if (decode(line, e)) {
      out.push_back(std::move(e));
    } else {
      ++skipped;
    }
  }
  return out;
}

// By hand, not through a DOM: this runs once per request on the request's thread. decode()
// reads it back with nlohmann (only at start-up or for spilled segments).
std::string SpendJournal::encode(const SpendEvent& e) {
  std::string out;
  out.reserve(768 + e.messages.size() + e.response.size());
  const auto text = [&out](std::string_view name, std::string_view value) {
    out += out.empty() ? "{\"" : ",\"";
    out += name;
    out += "\":";
    api::append_json_string(out, value);
  };
  const auto number = [&out](std::string_view name, auto value) {
    out += ",\"";
    out += name;
    out += "\":";
    if constexpr (std::is_floating_point_v<decltype(value)>) {
      fmt::format_to(std::back_inserter(out), "{}", std::isfinite(value) ? value : 0.0);  // shortest exact
    } else {
      fmt::format_to(std::back_inserter(out), "{}", value);
    }
  };
  text("request_id", e.request_id);
  text("call_type", e.call_type);
  text("api_key", e.api_key);
  number("spend", e.spend);
  number("counterfactual_spend", e.counterfactual_spend);
  number("prompt_tokens", e.prompt_tokens);
  number("completion_tokens", e.completion_tokens);
  number("total_tokens", e.total_tokens);
  number("cache_read_input_tokens", e.cache_read_input_tokens);
  number("cache_creation_input_tokens", e.cache_creation_input_tokens);
  number("start_ms", e.start_ms);
  number("end_ms", e.end_ms);
  number("completion_start_ms", e.completion_start_ms);
  text("model", e.model);
  text("model_id", e.model_id);
  text("model_group", e.model_group);
  text("custom_llm_provider", e.custom_llm_provider);
  text("api_base", e.api_base);
  text("user", e.user);
  text("team_id", e.team_id);
  text("organization_id", e.organization_id);
  text("end_user", e.end_user);
  text("metadata", e.metadata);
  out += e.cache_hit ? ",\"cache_hit\":true" : ",\"cache_hit\":false";
  out += ",\"request_tags\":[";
  for (std::size_t i = 0; i < e.request_tags.size(); ++i) {
    if (i > 0) out += ',';
    api::append_json_string(out, e.request_tags[i]);
  }
  out += ']';
  text("status", e.status);
  text("messages", e.messages);
  text("response", e.response);
  out += ",\"deltas\":[";
  for (std::size_t i = 0; i < e.deltas.size(); ++i) {
    const SpendDelta& d = e.deltas[i];
    out += i > 0 ? ",{\"entity\":" : "{\"entity\":";
    fmt::format_to(std::back_inserter(out), "{}", static_cast<int>(d.entity));
    out += ",\"id\":";
    api::append_json_string(out, d.id);
    fmt::format_to(std::back_inserter(out), ",\"amount\":{},\"window_ms\":{},\"model\":",
                   std::isfinite(d.amount) ? d.amount : 0.0, d.window_ms);
    api::append_json_string(out, d.model);
    out += '}';
  }
  out += "]}";
  return out;
}

bool SpendJournal::decode(std::string_view line, SpendEvent& e) {
  const Json j = api::read_json_lenient(line);
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
      if (entity < 0 || entity > static_cast<int>(auth::Entity::kBudget)) return false;
      e.deltas.push_back({.entity = static_cast<auth::Entity>(entity),
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

}  // namespace tollgate::spend
