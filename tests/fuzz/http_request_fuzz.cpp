// The server's HTTP/1.1 request reader: Beast's request parser with the server's limits
// (http::limit_request_parser), fed by http::parse_buffered from a buffer the socket fills in
// pieces, header first, then the body with eager parsing, request after request on one connection
// (keep-alive and pipelining) as Server::Worker::Session::run does.
// Input: [options: bit 7 small limits, bits 0-6 split seed][bytes the client sends].
#include <cstring>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/field.hpp>

#include "fuzz/fuzz_support.hpp"
#include "http/buffered_parse.hpp"
#include "tollgate/auth/master_key.hpp"
#include "tollgate/config/config.hpp"

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tollgate::http::ParseGoal;

namespace {

// The socket: each call appends the next read to the buffer; false once the client sent everything.
class Reads {
 public:
  Reads(std::string_view bytes, std::uint8_t seed) : pieces_(tollgate::fuzz::split(bytes, seed)) {}
  bool next(beast::flat_buffer& buffer) {
    if (at_ == pieces_.size()) return false;
    const std::string_view piece = pieces_[at_++];
    if (piece.empty()) return true;
    const auto space = buffer.prepare(piece.size());
    std::memcpy(space.data(), piece.data(), piece.size());
    buffer.commit(piece.size());
    return true;
  }

 private:
  std::vector<std::string_view> pieces_;
  std::size_t at_ = 0;
};

// Parses toward `goal`, reading more while the parser needs it. False: an error, or the client
// stopped sending first.
bool read_until(tollgate::http::RequestParser& parser, beast::flat_buffer& buffer, Reads& reads, ParseGoal goal,
                beast::error_code& ec) {
  bool done = tollgate::http::parse_buffered(parser, buffer, goal, ec);
  while (!done && !ec && reads.next(buffer)) done = tollgate::http::parse_buffered(parser, buffer, goal, ec);
  return done && !ec;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  tollgate::fuzz::Input in(data, size);
  const std::uint8_t options = in.byte();
  tollgate::config::ServerSettings settings;  // defaults: 64 KiB of headers, 32 MiB of body
  if (options & 0x80) {
    // Small limits (general_settings.max_request_size_mb and the header limit scaled down) so
    // the fuzzer reaches both limits' errors.
    settings.max_header_bytes = 256;
    settings.max_request_body_bytes = 512;
  }
  Reads reads(in.rest(), options & 0x7f);
  beast::flat_buffer buffer;
  for (;;) {
    tollgate::http::RequestParser parser;
    tollgate::http::limit_request_parser(parser, settings);
    beast::error_code ec;
    if (!read_until(parser, buffer, reads, ParseGoal::kHeader, ec)) return 0;
    TOLLGATE_FUZZ_CHECK(parser.is_header_done());
    parser.eager(true);
    if (!read_until(parser, buffer, reads, ParseGoal::kMessage, ec)) return 0;
    TOLLGATE_FUZZ_CHECK(parser.is_done());

    // What the gateway reads off every request before routing it: the target, the method and the
    // key presented (ProxyHandler::handle).
    const auto& request = parser.get();
    TOLLGATE_FUZZ_CHECK(request.body().size() <= settings.max_request_body_bytes);
    const std::string_view authorization = request[bhttp::field::authorization];
    const std::string_view key =
        tollgate::auth::presented_key(authorization, request["x-litellm-api-key"], request["x-api-key"]);
    TOLLGATE_FUZZ_CHECK(key.size() <= authorization.size() + request["x-litellm-api-key"].size() +
                                           request["x-api-key"].size());
    volatile std::size_t touched = request.target().size() + request.method_string().size() +
                                   request[bhttp::field::expect].size();
    (void)touched;
    if (!request.keep_alive()) return 0;
  }
}
