#include "tollgate/api/sse.hpp"

namespace tollgate::api {

void append_sse_data(std::string& out, std::string_view payload) {
  std::size_t start = 0;
  for (;;) {
    const std::size_t nl = payload.find('\n', start);
    out.append("data: ");
    if (nl == std::string_view::npos) {
      out.append(payload.substr(start));
      out.append("\n\n");
      return;
    }
    out.append(payload.substr(start, nl - start));
    out.push_back('\n');
    start = nl + 1;
  }
}

}  // namespace tollgate::api
