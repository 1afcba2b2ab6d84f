#include "tollgate/api/redact.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace tollgate::api {

Redactor::Redactor(std::span<const std::string> secrets) {
  auto add = [this](std::string needle) {
    if (std::find(needles_.begin(), needles_.end(), needle) == needles_.end()) needles_.push_back(std::move(needle));
  };
  for (const std::string& secret : secrets) {
    if (secret.size() < kMinSecretLength) continue;
    add(secret);
    // API keys are plain ASCII: the same inside a JSON string (no serialisation needed).
    const bool plain = std::all_of(secret.begin(), secret.end(), [](char c) {
      return c > 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '/';
    });
    if (plain) continue;
    const std::string quoted = nlohmann::json(secret).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    const std::string escaped = quoted.substr(1, quoted.size() - 2);
    add(escaped);
    if (escaped.find('/') != std::string::npos) {
      std::string slashes;
      for (const char c : escaped) {
        if (c == '/') slashes += '\\';
        slashes += c;
      }
      add(std::move(slashes));
    }
  }
  // Longest first: a secret that contains another is replaced whole.
  std::sort(needles_.begin(), needles_.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
}

bool Redactor::redact(std::string& text) const {
  bool replaced = false;
  for (const std::string& needle : needles_) {
    for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + kRedacted.size())) {
      text.replace(at, needle.size(), kRedacted);
      replaced = true;
    }
  }
  return replaced;
}

bool Redactor::redact(ApiError& error) const {
  bool replaced = redact(error.message);
  replaced |= redact(error.type);
  replaced |= redact(error.code);
  if (error.param) replaced |= redact(*error.param);
  return replaced;
}

}  // namespace tollgate::api
