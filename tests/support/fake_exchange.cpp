#include "support/fake_exchange.hpp"

#include <algorithm>

namespace tollgate::testing {

FakeCall read_fake_call(const FakeRequest& request, bool body_controls) {
  FakeCall call;
  call.target = split_fake_target(request.target);
  call.body = request.body.empty() ? nlohmann::json() : nlohmann::json::parse(request.body, nullptr, false);
  call.body_ok = !call.body.is_discarded();
  if (!call.body_ok) call.body = nlohmann::json();
  call.controls = parse_fake_controls(call.target.controls, body_controls ? call.body : nlohmann::json());
  return call;
}

FakeReply fake_error(unsigned status, std::string body) {
  FakeReply r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

FakeReply status_reply(const FakeControls& controls, std::string vendor_body) {
  return fake_error(*controls.status, controls.error_body ? *controls.error_body : std::move(vendor_body));
}

std::vector<std::string> split_even(std::string_view text, int chunks) {
  const std::size_t pieces = static_cast<std::size_t>(std::max(1, chunks));
  const std::size_t step = (text.size() + pieces - 1) / pieces;
  std::vector<std::string> out;
  for (std::size_t at = 0; at < text.size(); at += step) out.emplace_back(text.substr(at, step));
  return out;
}

void spoil_event(FakeReply& reply, std::optional<int> at, std::size_t lead, std::string_view with) {
  if (!at || *at < 1) return;
  const std::size_t i = lead + static_cast<std::size_t>(*at) - 1;
  if (i < reply.events.size()) reply.events[i] = with;
}

void end_with_event(FakeReply& reply, std::optional<int> at, std::size_t lead, std::string event) {
  if (!at || *at < 1) return;
  const std::size_t i = lead + static_cast<std::size_t>(*at) - 1;
  if (i >= reply.events.size()) return;
  reply.events.resize(i + 1);
  reply.events[i] = std::move(event);
}

void cut_after(FakeReply& reply, std::optional<int> n, std::size_t lead) {
  if (!n || *n < 0) return;
  reply.events.resize(std::min(reply.events.size(), lead + static_cast<std::size_t>(*n)));
  reply.cut = true;
}

void add_fake_headers(FakeReply& reply, const FakeRequest& request, const FakeControls& controls) {
  reply.headers.emplace_back("x-request-id", "req_fake_" + std::to_string(request.seq));
  if (controls.retry_after) reply.headers.emplace_back("retry-after", std::to_string(*controls.retry_after));
}

}  // namespace tollgate::testing
