#include "tollgate/router/error_class.hpp"

namespace tollgate::router {

ErrorClass classify_errc(Errc errc) {
  switch (errc) {
    case Errc::kUpstreamTimeout: return ErrorClass::kTimeout;
    case Errc::kUpstreamConnect: return ErrorClass::kConnection;
    default: return ErrorClass::kServerError;
  }
}

bool is_client_fault(ErrorClass cls) {
  return cls == ErrorClass::kBadRequest || cls == ErrorClass::kContextWindow || cls == ErrorClass::kContentPolicy;
}

}  // namespace tollgate::router
