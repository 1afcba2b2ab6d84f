#include "support/build_paths.hpp"

namespace tollgate::testing {

const char* source_dir() { return TOLLGATE_SOURCE_DIR_VALUE; }
const char* tollgate_binary() { return TOLLGATE_BINARY_VALUE; }

}  // namespace tollgate::testing
