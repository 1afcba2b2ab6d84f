#pragma once
// The router's own rules on error classes (docs/routing.md): the class of a failure that has no
// upstream answer, and which classes are the caller's fault. An upstream's answer is classified by
// its provider (Provider::classify_error), which knows the vendor's wording and retry headers.
//
// Thread safety: pure functions.
#include <string_view>

#include "tollgate/config/config.hpp"
#include "tollgate/core/errc.hpp"

namespace tollgate::router {

using config::ErrorClass;

/// A failure without an upstream answer (deadline, connection, broken stream).
ErrorClass classify_errc(Errc errc);

using config::exception_class_name;

/// The caller's own fault: never cools a deployment down.
bool is_client_fault(ErrorClass cls);

}  // namespace tollgate::router
