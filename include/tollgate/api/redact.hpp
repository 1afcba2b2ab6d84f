#pragma once
// Keeps a deployment's credentials out of what reaches a client. Upstream error bodies are relayed
// (as the error's message, or as stream events), and some vendors echo the credential they were
// sent ("Incorrect API key provided: sk-..."); every occurrence of a secret is replaced by
// "[redacted]" on the way out (docs/request-lifecycle.md, step 8).
//
// Thread safety: a Redactor is immutable after construction; it keeps copies, no references.
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tollgate/api/api_error.hpp"

namespace tollgate::api {

inline constexpr std::string_view kRedacted = "[redacted]";

/// Secrets shorter than this are not searched for: placeholders such as "none" or "EMPTY" (local
/// servers that need no key) are no credential, and replacing them would garble messages.
inline constexpr std::size_t kMinSecretLength = 8;

class Redactor {
 public:
  /// Each secret is searched for as is and as it appears inside a JSON string (escaped quotes,
  /// backslashes and control characters, as in a PEM key; '/' also as "\/").
  explicit Redactor(std::span<const std::string> secrets);

  /// Nothing to search for.
  bool empty() const { return needles_.empty(); }
  /// Replaces every occurrence in `text`; true when something was replaced.
  bool redact(std::string& text) const;
  /// The same over every text field of an error (message, type, param, code).
  bool redact(ApiError& error) const;

 private:
  std::vector<std::string> needles_;
};

}  // namespace tollgate::api
