#pragma once
// Where the tests find the source tree and the gateway binary. Defined in one translation unit
// (build_paths.cpp, the only one compiled with the paths), so no other test file's compile line
// names the checkout: ccache then hits across clones of the tree in different folders (CI).
namespace tollgate::testing {

const char* source_dir();       // the repository root
const char* tollgate_binary();  // the built `tollgate` executable

}  // namespace tollgate::testing

#define TOLLGATE_SOURCE_DIR (::tollgate::testing::source_dir())
#define TOLLGATE_BINARY (::tollgate::testing::tollgate_binary())
