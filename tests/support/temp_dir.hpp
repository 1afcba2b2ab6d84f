#pragma once
// A fresh directory under $TMPDIR (or /tmp) for one test, removed with everything in it on destruction.
//
// Thread safety: distinct objects are independent; names are unique (mkdtemp).

#include <string>
#include <string_view>

namespace tollgate::testing {

class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "tollgate-test");  // throws std::system_error on failure
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
};

}  // namespace tollgate::testing
