# Every third-party library comes from a Debian package (scripts/install-deps).
find_package(Boost 1.81 REQUIRED CONFIG)
find_package(OpenSSL REQUIRED)
find_package(Threads REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(spdlog REQUIRED)
# Core only (Registry, metric types, TextSerializer): /metrics is served by our own HTTP server.
find_package(prometheus-cpp CONFIG REQUIRED)
find_package(PkgConfig REQUIRED)
# hiredis 0.14 (Debian 12) ships no CMake package, only a pkg-config file.
pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis)
# The control-plane store (src/db): SQLite embedded, PostgreSQL through libpq.
pkg_check_modules(SQLITE3 REQUIRED IMPORTED_TARGET sqlite3)
pkg_check_modules(LIBPQ REQUIRED IMPORTED_TARGET libpq)

add_library(tollgate_deps INTERFACE)
add_library(tollgate::deps ALIAS tollgate_deps)
target_link_libraries(tollgate_deps INTERFACE
  Boost::headers OpenSSL::SSL OpenSSL::Crypto Threads::Threads
  nlohmann_json::nlohmann_json yaml-cpp spdlog::spdlog prometheus-cpp::core PkgConfig::HIREDIS
  PkgConfig::SQLITE3 PkgConfig::LIBPQ)
# Asio and Beast are compiled once, in src/http/asio_impl.cpp, instead of in every translation unit.
target_compile_definitions(tollgate_deps INTERFACE
  BOOST_ASIO_SEPARATE_COMPILATION BOOST_BEAST_SEPARATE_COMPILATION
  BOOST_ASIO_NO_DEPRECATED BOOST_BEAST_USE_STD_STRING_VIEW)
