#include "support/fake_bedrock.hpp"

#include <algorithm>
#include <optional>
#include <set>
#include <sstream>

#include "providers/bedrock/eventstream.hpp"
#include "providers/bedrock/sigv4.hpp"

namespace tollgate::testing {
namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;
namespace bedrock = providers::bedrock;

FakeReply aws_error(unsigned status, std::string_view type, std::string_view message) {
  FakeReply r = fake_error(status, ojson{{"message", message}}.dump());
  r.headers.emplace_back("x-amzn-errortype", std::string(type) + ":http://internal.amazon.com/coral/com.amazon.bedrock/");
  return r;
}

FakeReply validation(std::string_view message) { return aws_error(400, "ValidationException", message); }

// "AWS4-HMAC-SHA256 Credential=AK/20150830/us-east-1/bedrock/aws4_request, SignedHeaders=a;b, Signature=hex"
struct AuthHeader {
  std::string access_key, date, region, service, signed_headers, signature;
};

std::optional<AuthHeader> parse_auth(std::string_view h) {
  constexpr std::string_view kAlg = "AWS4-HMAC-SHA256 ";
  if (!h.starts_with(kAlg)) return std::nullopt;
  h.remove_prefix(kAlg.size());
  AuthHeader a;
  std::string credential;
  while (!h.empty()) {
    std::string_view part = h.substr(0, h.find(','));
    h.remove_prefix(std::min(h.size(), part.size() + 1));
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    const std::size_t eq = part.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    const std::string_view key = part.substr(0, eq);
    const std::string value(part.substr(eq + 1));
    if (key == "Credential") credential = value;
    if (key == "SignedHeaders") a.signed_headers = value;
    if (key == "Signature") a.signature = value;
  }
  std::vector<std::string> scope;
  std::istringstream in(credential);
  for (std::string piece; std::getline(in, piece, '/');) scope.push_back(piece);
  if (scope.size() != 5 || scope[4] != "aws4_request" || a.signed_headers.empty() || a.signature.empty()) return std::nullopt;
  a.access_key = scope[0], a.date = scope[1], a.region = scope[2], a.service = scope[3];
  return a;
}

// What SigV4 verification refuses; empty when the request is signed right.
std::optional<FakeReply> signature_problem(const FakeRequest& req, std::string_view secret) {
  const std::string authorization = req.header ? req.header("authorization") : std::string();
  if (authorization.empty()) return aws_error(403, "MissingAuthenticationTokenException", "Missing Authentication Token");
  const std::optional<AuthHeader> auth = parse_auth(authorization);
  if (!auth) return aws_error(403, "IncompleteSignatureException", "Authorization header requires Credential, SignedHeaders and Signature.");
  if (auth->service != "bedrock") return aws_error(403, "InvalidSignatureException", "Credential should be scoped to correct service: 'bedrock'.");
  const std::string amz_date = req.header("x-amz-date");
  if (!amz_date.starts_with(auth->date)) return aws_error(403, "InvalidSignatureException", "Date in Credential scope does not match x-amz-date.");
  std::vector<std::string> names;
  std::istringstream in(auth->signed_headers);
  for (std::string name; std::getline(in, name, ';');) names.push_back(name);
  for (const char* needed : {"host", "x-amz-date"}) {
    if (std::find(names.begin(), names.end(), needed) == names.end()) {
      return aws_error(403, "InvalidSignatureException", std::string("'") + needed + "' must be a signed header.");
    }
  }
  const std::string content_sha = req.header("x-amz-content-sha256");
  if (!content_sha.empty() && content_sha != bedrock::sha256_hex(req.body)) {
    return aws_error(400, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed.");
  }
  if (secret.empty()) return std::nullopt;
  bedrock::SigV4Input input;
  input.method = req.method;
  input.path = req.target;
  for (const auto& name : names) input.headers.emplace_back(name, req.header(name));
  input.payload = req.body;
  input.region = auth->region;
  input.service = auth->service;
  input.amz_date = amz_date;
  const bedrock::AwsCredentials credentials{auth->access_key, std::string(secret), req.header("x-amz-security-token")};
  if (bedrock::sigv4_sign(input, credentials).signature != auth->signature) {
    return aws_error(403, "InvalidSignatureException",
                     "The request signature we calculated does not match the signature you provided. Check your AWS "
                     "Secret Access Key and signing method. Consult the service documentation for details.");
  }
  return std::nullopt;
}

std::string block_problem(const json& block, const std::string& at) {
  static const std::set<std::string> kKinds = {"text", "image", "document", "video", "toolUse", "toolResult",
                                               "guardContent", "reasoningContent", "cachePoint"};
  if (!block.is_object() || block.size() != 1 || !kKinds.contains(block.begin().key())) {
    return at + ": a content block must hold exactly one of text, image, document, toolUse, toolResult, ...";
  }
  const std::string kind = block.begin().key();
  const json& v = block.begin().value();
  if (kind == "text" && (!v.is_string() || v.get<std::string>().empty())) return at + ".text: must be a non-blank string";
  if (kind == "toolUse" && (!v.is_object() || !v.contains("toolUseId") || !v.contains("name") || !v.contains("input") ||
                            !v["input"].is_object())) {
    return at + ".toolUse: toolUseId, name and input (an object) are required";
  }
  if (kind == "toolResult" && (!v.is_object() || !v.contains("toolUseId") || !v.contains("content") || !v["content"].is_array())) {
    return at + ".toolResult: toolUseId and content are required";
  }
  if (kind == "image" && (!v.is_object() || !v.contains("format") || !v.contains("source"))) return at + ".image: format and source are required";
  return {};
}

// What Converse refuses with a ValidationException; empty when fine.
std::string request_problem(const json& body) {
  static const std::set<std::string> kTop = {"messages", "system", "inferenceConfig", "toolConfig", "guardrailConfig",
                                             "additionalModelRequestFields", "additionalModelResponseFieldPaths",
                                             "promptVariables", "requestMetadata", "performanceConfig"};
  if (!body.is_object()) return "Malformed input request, please reformat your input and try again.";
  for (const auto& [key, value] : body.items()) {
    if (!kTop.contains(key)) return "Malformed input request: extraneous key [" + key + "] is not permitted, please reformat your input and try again.";
  }
  if (!body.contains("messages") || !body["messages"].is_array() || body["messages"].empty()) {
    return "A conversation must start with a user message. Try again with a conversation that starts with a user message.";
  }
  std::string previous;
  for (std::size_t i = 0; i < body["messages"].size(); ++i) {
    const json& m = body["messages"][i];
    const std::string at = "messages." + std::to_string(i);
    const std::string role = m.is_object() && m.contains("role") && m["role"].is_string() ? m["role"].get<std::string>() : "";
    if (role != "user" && role != "assistant") return at + ".role: must be user or assistant";
    if (i == 0 && role != "user") return "A conversation must start with a user message.";
    if (role == previous) return "A conversation must alternate between user and assistant roles.";
    previous = role;
    if (!m.contains("content") || !m["content"].is_array() || m["content"].empty()) return at + ".content: must be a non-empty list";
    for (std::size_t j = 0; j < m["content"].size(); ++j) {
      if (std::string p = block_problem(m["content"][j], at + ".content." + std::to_string(j)); !p.empty()) return p;
    }
  }
  if (body.contains("system") && !body["system"].is_array()) return "system: must be a list";
  if (body.contains("inferenceConfig")) {
    static const std::set<std::string> kConfig = {"maxTokens", "temperature", "topP", "stopSequences"};
    for (const auto& [key, value] : body["inferenceConfig"].items()) {
      if (!kConfig.contains(key)) return "Malformed input request: extraneous key [" + key + "] is not permitted";
    }
  }
  if (body.contains("toolConfig")) {
    const json& tc = body["toolConfig"];
    if (!tc.is_object() || !tc.contains("tools") || !tc["tools"].is_array() || tc["tools"].empty()) return "toolConfig.tools: must be a non-empty list";
    for (const json& t : tc["tools"]) {
      if (!t.contains("toolSpec") || !t["toolSpec"].contains("name") || !t["toolSpec"].contains("inputSchema") ||
          !t["toolSpec"]["inputSchema"].contains("json")) {
        return "toolConfig.tools: toolSpec with name and inputSchema.json is required";
      }
    }
  }
  return {};
}

std::optional<std::string> tool_to_call(const json& body) {
  if (!body.contains("toolConfig")) return std::nullopt;
  for (const json& block : body["messages"].back()["content"]) {
    if (block.contains("toolResult")) return std::nullopt;
  }
  return body["toolConfig"]["tools"][0]["toolSpec"]["name"].get<std::string>();
}

}  // namespace

bool is_bedrock_path(std::string_view path) {
  return path.find("/model/") != std::string_view::npos && (path.ends_with("/converse") || path.ends_with("/converse-stream"));
}

FakeReply plan_bedrock(const FakeRequest& request, const FakeControls& c, const json& body, bool body_ok,
                       std::string_view required_secret) {
  if (request.method != "POST") return aws_error(405, "UnknownOperationException", "Method not allowed.");
  if (auto problem = signature_problem(request, required_secret)) return *problem;
  if (c.status) {
    const std::string message = c.content.value_or("fake error");
    FakeReply r;
    switch (*c.status) {
      case 429: r = aws_error(429, "ThrottlingException", "Too many requests, please wait before trying again."); break;
      case 503: r = aws_error(503, "ServiceUnavailableException", "Bedrock is unable to process your request."); break;
      case 403: r = aws_error(403, "AccessDeniedException", "You don't have access to the model with the specified model ID."); break;
      case 400: r = validation(message); break;
      default: r = aws_error(*c.status, "InternalServerException", message);
    }
    if (c.error_body) r.body = *c.error_body;
    if (c.retry_after) r.headers.emplace_back("retry-after", std::to_string(*c.retry_after));
    return r;
  }
  if (!body_ok) return validation("Malformed input request, please reformat your input and try again.");
  if (const std::string problem = request_problem(body); !problem.empty()) return validation(problem);

  const std::string text = c.content.value_or(std::string(kFakeDefaultContent));
  const std::optional<std::string> tool = tool_to_call(body);
  const int prompt = c.prompt_tokens.value_or(kFakeDefaultPromptTokens);
  const int output = c.completion_tokens.value_or(kFakeDefaultCompletionTokens);
  ojson usage;
  usage["inputTokens"] = std::max(0, prompt - c.cached_tokens);
  usage["outputTokens"] = output;
  usage["totalTokens"] = prompt + output;
  if (c.cached_tokens > 0) usage["cacheReadInputTokens"] = c.cached_tokens;
  const char* stop_reason = tool ? "tool_use" : "end_turn";
  const std::string tool_id = "tooluse_fake_" + std::to_string(request.seq);

  FakeReply r;
  if (std::string_view(request.target).ends_with("/converse")) {
    ojson block = tool ? ojson{{"toolUse", {{"toolUseId", tool_id}, {"name", *tool}, {"input", ojson::parse(kFakeToolArguments)}}}}
                       : ojson{{"text", text}};
    ojson out;
    out["output"] = {{"message", {{"role", "assistant"}, {"content", ojson::array({block})}}}};
    out["stopReason"] = stop_reason;
    out["usage"] = usage;
    out["metrics"] = {{"latencyMs", 42}};
    r.body = out.dump();
    return r;
  }

  r.stream = true;
  r.content_type = "application/vnd.amazon.eventstream";
  std::vector<std::pair<std::string, std::string>> events;  // event type, payload
  events.emplace_back("messageStart", R"({"p":"abcdefghijkl","role":"assistant"})");
  if (tool) {
    events.emplace_back("contentBlockStart",
                        ojson{{"contentBlockIndex", 0}, {"start", {{"toolUse", {{"toolUseId", tool_id}, {"name", *tool}}}}}}.dump());
  }
  for (const std::string& part : split_even(tool ? kFakeToolArguments : std::string_view(text), c.chunks)) {
    ojson delta = tool ? ojson{{"toolUse", {{"input", part}}}} : ojson{{"text", part}};
    events.emplace_back("contentBlockDelta", ojson{{"contentBlockIndex", 0}, {"delta", delta}, {"p", "abc"}}.dump());
  }
  events.emplace_back("contentBlockStop", R"({"contentBlockIndex":0})");
  events.emplace_back("messageStop", ojson{{"stopReason", stop_reason}}.dump());
  events.emplace_back("metadata", ojson{{"usage", usage}, {"metrics", {{"latencyMs", 42}}}}.dump());
  for (std::size_t i = 0; i < events.size(); ++i) {
    const int n = static_cast<int>(i);  // events after messageStart count from 1
    if (c.exception_at && n == *c.exception_at) {
      r.events.push_back(bedrock::encode_exception("throttlingException",
                                                   R"({"message":"Too many requests, please wait before trying again."})"));
      break;
    }
    std::string frame = bedrock::encode_event(events[i].first, events[i].second);
    if (c.malformed_at && n == *c.malformed_at) frame[frame.size() - 1] ^= 0x5a;  // the message CRC no longer matches
    r.events.push_back(std::move(frame));
  }
  cut_after(r, c.disconnect_after, 1);  // counted after messageStart
  return r;
}

}  // namespace tollgate::testing
