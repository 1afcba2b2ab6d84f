// Which front end serves a path (front_end.hpp).
#include "tollgate/frontend/front_end.hpp"

namespace tollgate::frontend {

std::optional<Served> serves(std::string_view path) {
  if (path == "/chat/completions") return Served{&openai(), api::Endpoint::kChatCompletions};
  if (path == "/completions") return Served{&openai(), api::Endpoint::kCompletions};
  if (path == "/embeddings") return Served{&openai(), api::Endpoint::kEmbeddings};
  // count_tokens is answered locally; its endpoint only names the request it would be.
  if (path == "/messages" || path == "/messages/count_tokens") {
    return Served{&anthropic(), api::Endpoint::kChatCompletions};
  }
  return std::nullopt;
}

}  // namespace tollgate::frontend
