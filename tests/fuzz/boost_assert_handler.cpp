// BOOST_ASSERT in the fuzz build (cmake/Toolchain.cmake defines BOOST_ENABLE_ASSERT_HANDLER):
// every failed assertion aborts, as assert() would, so libFuzzer records it, except one that is
// wrong in Boost 1.81. Beast's chunked-body parser asserts `n >= 5` when the last chunk arrives
// cut as "0\r\n" | "\r" | "\n", although the code after it handles those bytes (it asks for more).
// Release builds (NDEBUG) never check it; Beast fixed the assertion in Boost 1.86
// (boostorg/beast pull request 2861).
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace boost {

namespace {

bool known_wrong(char const* expr, char const* file) {
  return std::strcmp(expr, "n >= 5") == 0 && std::strstr(file, "beast/http/impl/basic_parser.ipp") != nullptr;
}

}  // namespace

void assertion_failed(char const* expr, char const* function, char const* file, long line) {
  if (known_wrong(expr, file)) return;
  std::fprintf(stderr, "%s:%ld: %s: Assertion `%s' failed.\n", file, line, function, expr);
  std::abort();
}

void assertion_failed_msg(char const* expr, char const* msg, char const* function, char const* file, long line) {
  if (known_wrong(expr, file)) return;
  std::fprintf(stderr, "%s:%ld: %s: Assertion `%s' failed: %s\n", file, line, function, expr, msg);
  std::abort();
}

}  // namespace boost
