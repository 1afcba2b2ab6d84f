#include "support/fake_openai.hpp"

#include <algorithm>
#include <cstring>
#include <ctime>
#include <optional>

#include <nlohmann/json.hpp>

#include "support/fake_anthropic.hpp"
#include "support/fake_ollama.hpp"
#include "support/fake_bedrock.hpp"
#include "support/fake_gemini.hpp"

namespace tollgate::testing {
namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

constexpr std::string_view kDone = "data: [DONE]\n\n";
constexpr std::string_view kMalformed = "data: {this is not json\n\n";
constexpr int kMaxChoices = 16;

// Everything a completion-style reply needs, resolved once from the request and the controls.
struct Shape {
  std::uint64_t seq = 0;
  std::string id;
  std::string model;
  std::int64_t created = 0;
  int n = 1;
  bool stream = false;
  bool include_usage = false;
  std::string content;                   // per choice
  std::optional<std::string> tool_name;  // chat with `tools`: answer with a call to the first one
  int prompt_tokens = 0;
  int completion_tokens = 0;  // all choices together
  int cached_tokens = 0;
  int reasoning_tokens = 0;
};

int text_tokens(std::string_view s) { return std::max(1, static_cast<int>((s.size() + 3) / 4)); }

std::string sse(const ojson& j) { return "data: " + j.dump() + "\n\n"; }

FakeReply json_reply(const ojson& body) {
  FakeReply r;
  r.body = body.dump();
  return r;
}

FakeReply error_reply(unsigned status, std::string_view message) {
  return fake_error(status, openai_error_body(status, message));
}

// OpenAI's answer to a path it does not serve: 404, but an invalid_request_error without a code.
FakeReply unknown_url_reply(std::string_view method, std::string_view path) {
  return fake_error(404, openai_error_body(404, "Invalid URL (" + std::string(method) + " " + std::string(path) + ")",
                                           "invalid_request_error", std::nullopt));
}

// Splits into exactly `pieces` parts of about equal size, never inside a UTF-8 sequence.
std::vector<std::string> split_utf8(std::string_view s, int pieces) {
  std::vector<std::string> out;
  std::size_t begin = 0;
  for (int i = 1; i <= pieces; ++i) {
    std::size_t end = i == pieces ? s.size() : s.size() * static_cast<std::size_t>(i) / pieces;
    end = std::max(end, begin);
    while (end < s.size() && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) ++end;
    out.emplace_back(s.substr(begin, end - begin));
    begin = end;
  }
  return out;
}

ojson usage_json(const Shape& s) {
  ojson u;
  u["prompt_tokens"] = s.prompt_tokens;
  u["completion_tokens"] = s.completion_tokens;
  u["total_tokens"] = s.prompt_tokens + s.completion_tokens;
  u["prompt_tokens_details"] = {{"cached_tokens", s.cached_tokens}, {"audio_tokens", 0}};
  u["completion_tokens_details"] = {{"reasoning_tokens", s.reasoning_tokens},
                                    {"audio_tokens", 0},
                                    {"accepted_prediction_tokens", 0},
                                    {"rejected_prediction_tokens", 0}};
  return u;
}

Shape make_shape(const json& body, const FakeControls& c, std::string id_prefix, std::uint64_t seq) {
  Shape s;
  s.seq = seq;
  s.id = std::move(id_prefix) + std::to_string(seq);
  s.model = body.value("model", std::string{});
  s.created = static_cast<std::int64_t>(std::time(nullptr));
  if (auto it = body.find("n"); it != body.end() && it->is_number_integer())
    s.n = std::clamp(it->get<int>(), 1, kMaxChoices);
  s.stream = body.value("stream", false);
  if (auto it = body.find("stream_options"); it != body.end() && it->is_object())
    s.include_usage = it->value("include_usage", false);
  if (auto it = body.find("tools"); it != body.end() && it->is_array() && !it->empty()) {
    const json& first = it->front();
    std::string name = "tool";
    if (auto f = first.find("function"); f != first.end() && f->is_object()) name = f->value("name", name);
    s.tool_name = std::move(name);
  }
  s.content = c.content.value_or(std::string(kFakeDefaultContent));
  s.prompt_tokens = c.prompt_tokens.value_or(kFakeDefaultPromptTokens);
  const std::string_view produced = s.tool_name ? kFakeToolArguments : std::string_view(s.content);
  const int per_choice = (c.content || s.tool_name) ? text_tokens(produced) : kFakeDefaultCompletionTokens;
  s.completion_tokens = c.completion_tokens.value_or(per_choice * s.n);
  s.cached_tokens = c.cached_tokens;
  s.reasoning_tokens = c.reasoning_tokens;
  return s;
}

ojson envelope(const Shape& s, const char* object) {
  ojson j;
  j["id"] = s.id;
  j["object"] = object;
  j["created"] = s.created;
  j["model"] = s.model;
  return j;
}

std::string tool_call_id(const Shape& s, int choice) {
  return "call_fake_" + std::to_string(s.seq) + "_" + std::to_string(choice);
}

// ---- chat completions ------------------------------------------------------------------------

FakeReply chat_reply(const Shape& s) {
  ojson j = envelope(s, "chat.completion");
  ojson choices = ojson::array();
  for (int i = 0; i < s.n; ++i) {
    ojson message;
    message["role"] = "assistant";
    if (s.tool_name) {
      message["content"] = nullptr;
      ojson call;
      call["id"] = tool_call_id(s, i);
      call["type"] = "function";
      call["function"] = {{"name", *s.tool_name}, {"arguments", kFakeToolArguments}};
      message["tool_calls"] = ojson::array({call});
    } else {
      message["content"] = s.content;
    }
    message["refusal"] = nullptr;
    ojson choice;
    choice["index"] = i;
    choice["message"] = std::move(message);
    choice["logprobs"] = nullptr;
    choice["finish_reason"] = s.tool_name ? "tool_calls" : "stop";
    choices.push_back(std::move(choice));
  }
  j["choices"] = std::move(choices);
  j["usage"] = usage_json(s);
  j["system_fingerprint"] = "fp_fake";
  return json_reply(j);
}

// One event: a `chat.completion.chunk` per choice, each with its own `data:` line as OpenAI sends.
template <class DeltaFn>
std::string chat_event(const Shape& s, DeltaFn&& delta_for, const char* finish_reason) {
  std::string out;
  for (int i = 0; i < s.n; ++i) {
    ojson j = envelope(s, "chat.completion.chunk");
    j["system_fingerprint"] = "fp_fake";
    ojson choice;
    choice["index"] = i;
    choice["delta"] = delta_for(i);
    choice["logprobs"] = nullptr;
    choice["finish_reason"] = finish_reason ? ojson(finish_reason) : ojson(nullptr);
    j["choices"] = ojson::array({std::move(choice)});
    if (s.include_usage) j["usage"] = nullptr;
    out += sse(j);
  }
  return out;
}

// The first delta: the role, and with tools the call's id and name.
ojson role_delta(const Shape& s, int choice) {
  ojson d;
  d["role"] = "assistant";
  if (!s.tool_name) {
    d["content"] = "";
    return d;
  }
  d["content"] = nullptr;
  ojson call;
  call["index"] = 0;
  call["id"] = tool_call_id(s, choice);
  call["type"] = "function";
  call["function"] = {{"name", *s.tool_name}, {"arguments", ""}};
  d["tool_calls"] = ojson::array({call});
  return d;
}

// A piece of the answer: content, or with tools a piece of the call's arguments.
ojson piece_delta(const Shape& s, const std::string& piece) {
  ojson d;
  if (!s.tool_name) {
    d["content"] = piece;
    return d;
  }
  ojson call;
  call["index"] = 0;
  call["function"] = {{"arguments", piece}};
  d["tool_calls"] = ojson::array({call});
  return d;
}

std::vector<std::string> chat_stream(const Shape& s, int chunks) {
  std::vector<std::string> events;
  events.push_back(chat_event(s, [&](int i) { return role_delta(s, i); }, nullptr));
  for (const std::string& piece : split_utf8(s.tool_name ? kFakeToolArguments : s.content, chunks))
    events.push_back(chat_event(s, [&](int) { return piece_delta(s, piece); }, nullptr));
  const char* finish = s.tool_name ? "tool_calls" : "stop";
  events.push_back(chat_event(s, [](int) { return ojson::object(); }, finish));
  if (s.include_usage) {
    ojson j = envelope(s, "chat.completion.chunk");
    j["system_fingerprint"] = "fp_fake";
    j["choices"] = ojson::array();
    j["usage"] = usage_json(s);
    events.push_back(sse(j));
  }
  events.emplace_back(kDone);
  return events;
}

// ---- legacy completions ------------------------------------------------------------------------

ojson completion_choice(int index, std::string_view text, const char* finish_reason) {
  ojson c;
  c["text"] = text;
  c["index"] = index;
  c["logprobs"] = nullptr;
  c["finish_reason"] = finish_reason ? ojson(finish_reason) : ojson(nullptr);
  return c;
}

FakeReply completion_reply(const Shape& s) {
  ojson j = envelope(s, "text_completion");
  ojson choices = ojson::array();
  for (int i = 0; i < s.n; ++i) choices.push_back(completion_choice(i, s.content, "stop"));
  j["choices"] = std::move(choices);
  j["usage"] = usage_json(s);
  j["system_fingerprint"] = "fp_fake";
  return json_reply(j);
}

std::string completion_event(const Shape& s, std::string_view text, const char* finish_reason) {
  std::string out;
  for (int i = 0; i < s.n; ++i) {
    ojson j = envelope(s, "text_completion");
    j["choices"] = ojson::array({completion_choice(i, text, finish_reason)});
    j["system_fingerprint"] = "fp_fake";
    if (s.include_usage) j["usage"] = nullptr;
    out += sse(j);
  }
  return out;
}

std::vector<std::string> completion_stream(const Shape& s, int chunks) {
  std::vector<std::string> events;
  for (const std::string& piece : split_utf8(s.content, chunks)) events.push_back(completion_event(s, piece, nullptr));
  events.push_back(completion_event(s, "", "stop"));
  if (s.include_usage) {
    ojson j = envelope(s, "text_completion");
    j["choices"] = ojson::array();
    j["usage"] = usage_json(s);
    events.push_back(sse(j));
  }
  events.emplace_back(kDone);
  return events;
}

// ---- embeddings and models ---------------------------------------------------------------------

std::string base64(const std::string& bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const std::size_t left = bytes.size() - i;
    std::uint32_t v = static_cast<unsigned char>(bytes[i]) << 16;
    if (left > 1) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    if (left > 2) v |= static_cast<unsigned char>(bytes[i + 2]);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(left > 1 ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back(left > 2 ? kAlphabet[v & 63] : '=');
  }
  return out;
}

// Deterministic per input. Values are multiples of 1/1024 so float32 and JSON agree exactly.
std::vector<float> embedding_of(const std::string& input, int dims) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : input) h = (h ^ c) * 1099511628211ull;
  std::vector<float> v;
  for (int i = 0; i < dims; ++i) {
    h = (h ^ static_cast<std::uint64_t>(i)) * 1099511628211ull;
    v.push_back(static_cast<float>(static_cast<int>((h >> 24) % 2049) - 1024) / 1024.0f);
  }
  return v;
}

ojson embedding_value(const std::vector<float>& v, bool as_base64) {
  if (!as_base64) return ojson(v);
  std::string bytes;
  for (float f : v) {
    std::uint32_t bits = 0;
    std::memcpy(&bits, &f, sizeof bits);
    for (int b = 0; b < 4; ++b) bytes.push_back(static_cast<char>((bits >> (8 * b)) & 0xFF));
  }
  return base64(bytes);
}

FakeReply embeddings_reply(const json& body, const FakeControls& c) {
  auto in = body.find("input");
  if (in == body.end() || in->is_null()) return error_reply(400, "'input' is a required property");
  // string | [string] | [token] | [[token]]: one embedding per text or per token list.
  std::vector<std::pair<std::string, int>> inputs;  // (hash key, tokens)
  if (in->is_string()) {
    inputs.emplace_back(in->get<std::string>(), text_tokens(in->get_ref<const std::string&>()));
  } else if (in->is_array() && !in->empty() && in->front().is_number()) {
    inputs.emplace_back(in->dump(), static_cast<int>(in->size()));
  } else if (in->is_array()) {
    for (const json& item : *in) {
      if (item.is_string())
        inputs.emplace_back(item.get<std::string>(), text_tokens(item.get_ref<const std::string&>()));
      else
        inputs.emplace_back(item.dump(), item.is_array() ? static_cast<int>(item.size()) : 1);
    }
  }
  if (inputs.empty()) return error_reply(400, "'input' must be a non-empty string or array");
  int dims = 8;
  if (auto d = body.find("dimensions"); d != body.end() && d->is_number_integer())
    dims = std::clamp(d->get<int>(), 1, 4096);
  const bool as_base64 = body.value("encoding_format", std::string{}) == "base64";

  ojson data = ojson::array();
  int tokens = 0;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    ojson item;
    item["object"] = "embedding";
    item["index"] = i;
    item["embedding"] = embedding_value(embedding_of(inputs[i].first, dims), as_base64);
    data.push_back(std::move(item));
    tokens += inputs[i].second;
  }
  tokens = c.prompt_tokens.value_or(tokens);
  ojson j;
  j["object"] = "list";
  j["data"] = std::move(data);
  j["model"] = body.value("model", std::string{});
  j["usage"] = {{"prompt_tokens", tokens}, {"total_tokens", tokens}};
  return json_reply(j);
}

FakeReply models_reply() {
  ojson data = ojson::array();
  for (const char* id : {"gpt-4o-mini", "gpt-4o", "text-embedding-3-small"}) {
    ojson m;
    m["id"] = id;
    m["object"] = "model";
    m["created"] = 1715367049;
    m["owned_by"] = "fake";
    data.push_back(std::move(m));
  }
  ojson j;
  j["object"] = "list";
  j["data"] = std::move(data);
  return json_reply(j);
}

// ---- faults and routing ------------------------------------------------------------------------

void apply_stream_faults(FakeReply& r, const FakeControls& c, std::size_t lead) {
  spoil_event(r, c.malformed_at, lead, kMalformed);
  // OpenAI's in-stream error: `data: {"error":{...}}` (error_body when given).
  end_with_event(r, c.error_at, lead, "data: " + c.error_body.value_or(openai_error_body(500, "fake error in stream")) + "\n\n");
  cut_after(r, c.disconnect_after, lead);
}

FakeReply completions_endpoint(const json& body, const FakeControls& c, std::uint64_t seq, bool chat) {
  if (!body.contains("model")) return error_reply(400, "you must provide a model parameter");
  if (chat && !(body.contains("messages") && body["messages"].is_array()))
    return error_reply(400, "'messages' is a required property");
  const Shape s = make_shape(body, c, chat ? "chatcmpl-fake-" : "cmpl-fake-", seq);
  if (!s.stream) return chat ? chat_reply(s) : completion_reply(s);
  FakeReply r;
  r.stream = true;
  r.content_type = "text/event-stream";
  r.events = chat ? chat_stream(s, c.chunks) : completion_stream(s, c.chunks);
  apply_stream_faults(r, c, chat ? 1 : 0);
  return r;
}

FakeReply route(const FakeRequest& req, const std::string& path, const json& body, const FakeControls& c,
                bool body_ok) {
  const bool post = req.method == "POST";
  if (req.method == "GET" && (path == "/v1/models" || path == "/v1/models/")) return models_reply();
  const bool known = post && (path == "/v1/chat/completions" || path == "/v1/completions" || path == "/v1/embeddings");
  if (!known) return unknown_url_reply(req.method, path);
  if (!body_ok || !body.is_object())
    return error_reply(400,
                       "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
                       "using your HTTP library correctly. The OpenAI API expects a JSON payload.)");
  if (path == "/v1/embeddings") return embeddings_reply(body, c);
  return completions_endpoint(body, c, req.seq, path == "/v1/chat/completions");
}

// Azure OpenAI's `/openai/deployments/<name>/<endpoint>` as the OpenAI path it stands for;
// empty when `path` is not one.
std::string azure_as_openai_path(const std::string& path) {
  constexpr std::string_view kPrefix = "/openai/deployments/";
  if (path.rfind(kPrefix, 0) != 0) return {};
  const std::size_t slash = path.find('/', kPrefix.size());
  if (slash == std::string::npos || slash == kPrefix.size()) return {};
  return "/v1" + path.substr(slash);
}

}  // namespace

FakeExchange plan_exchange(const FakeRequest& req, std::string_view required_api_key) {
  const FakeCall call = read_fake_call(req);
  const FakeTarget& target = call.target;
  const json& body = call.body;
  const bool body_ok = call.body_ok;
  FakeExchange ex;
  ex.controls = call.controls;
  const FakeControls& c = ex.controls;

  FakeReply& r = ex.reply;
  if (target.path == "/v1/messages") {
    r = plan_anthropic(req, c, body, body_ok, required_api_key);  // Anthropic's own auth and errors
  } else if (target.path == "/api/chat") {
    r = plan_ollama(req, c, body, body_ok, required_api_key);  // Ollama's own errors
  } else if (is_bedrock_path(target.path)) {
    r = plan_bedrock(req, c, body, body_ok, required_api_key);  // SigV4 with required_api_key as the secret
  } else if (is_gemini_path(target.path)) {
    r = plan_gemini(req, c, body, body_ok, target.path, target.query, required_api_key);  // Google's own auth and errors
  } else if (!required_api_key.empty() && req.authorization != "Bearer " + std::string(required_api_key) &&
             req.api_key != required_api_key) {
    r = error_reply(401, "Incorrect API key provided.");
  } else if (c.status) {
    r = status_reply(c, openai_error_body(*c.status, "fake error " + std::to_string(*c.status)));
  } else if (c.garbage) {
    r.content_type = "text/html";
    r.body = "<html>oops";
  } else if (const std::string azure = azure_as_openai_path(target.path); !azure.empty()) {
    // Azure answers a request without api-version as an unknown resource.
    r = target.query.find("api-version=") == std::string::npos ? unknown_url_reply(req.method, req.target)
                                                                : route(req, azure, body, c, body_ok);
  } else if (target.path.rfind("/v1", 0) != 0) {
    r = unknown_url_reply(req.method, req.target);
  } else {
    r = route(req, target.path, body, c, body_ok);
  }
  if (!r.stream && c.disconnect_after) r.cut = true;
  add_fake_headers(r, req, c);
  return ex;
}

}  // namespace tollgate::testing
