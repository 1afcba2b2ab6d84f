#pragma once
// Helpers for tests that run real servers as child processes (redis-server, the tollgate binary).
//
// Thread safety: none needed; plain functions.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace tollgate::testing {

/// Binds 127.0.0.1:0 to learn a free port, then releases it for a child. The gap is a race in
/// principle; the kernel hands out ephemeral ports in sequence, so a clash is unlikely.
std::uint16_t free_port();

/// Starts `args[0]` (a path) with `args`, stdout and stderr appended to `output_file` (or
/// /dev/null when empty), the parent's environment plus `extra_env` ("NAME=value"; a name the
/// parent has too takes the value given here). Throws std::system_error when it cannot start. `working_dir`: the child's current directory (relative
/// paths in `args` are then relative to it); empty keeps the parent's.
pid_t spawn_process(const std::vector<std::string>& args, const std::string& output_file = {},
                    const std::vector<std::string>& extra_env = {}, const std::string& working_dir = {});

/// The path of executable `name` in a directory of $PATH (else /usr/local/bin:/usr/bin:/bin);
/// empty when there is none.
std::string find_on_path(const std::string& name);

/// Waits until child `pid` answers 200 to GET `path` on 127.0.0.1:`port`. When it exits first or
/// `limit` passes, the child is killed and reaped, `pid` set to -1, and std::runtime_error thrown
/// naming `what` with the contents of `log_file`.
void wait_until_serving(pid_t& pid, std::uint16_t port, const std::string& path, std::chrono::milliseconds limit,
                        const std::string& what, const std::string& log_file);

/// The contents of a (small) text file; empty when it cannot be read.
std::string read_text_file(const std::string& path);

}  // namespace tollgate::testing
