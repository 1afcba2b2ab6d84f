#include "tollgate/core/redacted_url.hpp"

namespace tollgate {

std::string redacted_url(std::string_view url) {
  if (auto cut = url.find_first_of("?#"); cut != std::string_view::npos) url = url.substr(0, cut);
  std::size_t host = url.find("://");
  host = host == std::string_view::npos ? 0 : host + 3;
  const std::size_t authority_end = url.find('/', host);
  const std::string_view authority =
      url.substr(host, authority_end == std::string_view::npos ? std::string_view::npos : authority_end - host);
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    std::string out(url.substr(0, host));
    out.append(url.substr(host + at + 1));
    return out;
  }
  return std::string(url);
}

}  // namespace tollgate
