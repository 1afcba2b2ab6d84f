#include "support/postgres_server.hpp"

#include "support/child_process.hpp"

#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <system_error>

#include <libpq-fe.h>

extern char** environ;

namespace tollgate::testing {
namespace {

constexpr std::chrono::seconds kStartLimit{15};
constexpr const char* kPackageHint = "install the Debian package `postgresql` (scripts/install-deps --test)";

struct Installation {
  std::string bin_dir;
  long version = 0;  // major
};

// The highest PostgreSQL version installed the Debian way.
Installation find_installation() {
  glob_t found{};
  std::string best;
  long best_version = -1;
  if (::glob("/usr/lib/postgresql/*/bin/postgres", 0, nullptr, &found) == 0) {
    for (std::size_t i = 0; i < found.gl_pathc; ++i) {
      const std::string path = found.gl_pathv[i];
      const long version = std::strtol(path.c_str() + std::string("/usr/lib/postgresql/").size(), nullptr, 10);
      const std::string dir = path.substr(0, path.size() - std::string("/postgres").size());
      if (version > best_version && ::access((dir + "/initdb").c_str(), X_OK) == 0 &&
          ::access((dir + "/pg_ctl").c_str(), X_OK) == 0) {
        best_version = version;
        best = dir;
      }
    }
  }
  ::globfree(&found);
  if (best.empty()) {
    throw std::runtime_error(std::string("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin): the "
                                         "PostgreSQL tests need a real server; ") +
                             kPackageHint);
  }
  return {best, best_version};
}

void make_dir(const std::string& path, bool chown_to_user, uid_t uid, gid_t gid) {
  if (::mkdir(path.c_str(), 0700) != 0) throw std::system_error(errno, std::generic_category(), "mkdir " + path);
  if (chown_to_user && ::chown(path.c_str(), uid, gid) != 0) {
    throw std::system_error(errno, std::generic_category(), "chown " + path);
  }
}

int wait_exit(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

struct ConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};

}  // namespace

PostgresServer::PostgresServer() {
  const Installation installation = find_installation();
  bin_dir_ = installation.bin_dir;
  version_ = installation.version;
  if (::geteuid() == 0) {
    const passwd* pw = ::getpwnam("postgres");
    if (pw == nullptr) {
      throw std::runtime_error(std::string("PostgreSQL refuses to run as root and there is no `postgres` user; ") +
                               kPackageHint);
    }
    switch_user_ = true;
    uid_ = pw->pw_uid;
    gid_ = pw->pw_gid;
    // The temporary directory is root's (0700): let the server's user reach its subdirectories.
    if (::chmod(dir_.path().c_str(), 0711) != 0) {
      throw std::system_error(errno, std::generic_category(), "chmod " + dir_.path());
    }
  }
  make_dir(dir_.file("data"), switch_user_, uid_, gid_);
  make_dir(dir_.file("socket"), switch_user_, uid_, gid_);

  run_to_end({bin_dir_ + "/initdb", "-D", dir_.file("data"), "-U", "postgres", "-A", "trust", "-E", "UTF8",
              "--no-locale", "--no-sync"},
             dir_.file("initdb.log"));
  port_ = free_port();
  start();
}

PostgresServer::~PostgresServer() {
  try {
    stop();
  } catch (const std::exception&) {
    // Nothing more to do: the directory goes anyway.
  }
}

std::string PostgresServer::url(const std::string& db) const {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + db;
}

pid_t PostgresServer::spawn(const std::vector<std::string>& args, const std::string& log_file) const {
  if (!switch_user_) return spawn_process(args, log_file);
  // fork + exec by hand: posix_spawn cannot change the user. Everything the child needs is
  // prepared here; after fork() it only makes async-signal-safe calls.
  std::vector<std::string> owned = args;
  std::vector<char*> argv;
  for (auto& a : owned) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork");
  if (pid == 0) {
    const int out = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (out >= 0) {
      ::dup2(out, STDOUT_FILENO);
      ::dup2(out, STDERR_FILENO);
    }
    if (::setgroups(0, nullptr) != 0 || ::setgid(gid_) != 0 || ::setuid(uid_) != 0) ::_exit(126);
    ::execve(argv[0], argv.data(), environ);
    ::_exit(127);
  }
  return pid;
}

void PostgresServer::run_to_end(const std::vector<std::string>& args, const std::string& log_file) const {
  const int status = wait_exit(spawn(args, log_file));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw std::runtime_error(args[0] + " " + args[1] + " failed:\n" + read_text_file(log_file));
  }
}

void PostgresServer::start() {
  if (running_) return;
  // pg_ctl -w returns once the server accepts connections (or fails, then the log says why).
  const std::string options = "-p " + std::to_string(port_) + " -k " + dir_.file("socket") +
                              " -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
                              " -c full_page_writes=off -c shared_buffers=16MB -c max_connections=100";
  run_to_end({bin_dir_ + "/pg_ctl", "start", "-w", "-t", std::to_string(kStartLimit.count()), "-D", dir_.file("data"),
              "-l", dir_.file("socket/postgres.log"), "-o", options},
             dir_.file("pg_ctl.log"));
  running_ = true;
}

void PostgresServer::stop() {
  if (!running_) return;
  // Fast shutdown: open sessions are terminated, as in a real restart.
  run_to_end({bin_dir_ + "/pg_ctl", "stop", "-w", "-m", "fast", "-D", dir_.file("data")}, dir_.file("pg_ctl.log"));
  running_ = false;
}

std::string PostgresServer::create_database() {
  const std::string name = "t_" + std::to_string(databases_.fetch_add(1) + 1);
  // FILE_COPY (PostgreSQL 15+) copies template1's files instead of writing them through the WAL:
  // about twice as fast here, and durability is not a concern with fsync off.
  execute("CREATE DATABASE " + name + (version_ >= 15 ? " STRATEGY = FILE_COPY" : ""));
  return url(name);
}

void PostgresServer::execute(const std::string& sql, const std::string& db) const {
  const std::unique_ptr<PGconn, ConnDeleter> conn(PQconnectdb(url(db).c_str()));
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    throw std::runtime_error("cannot connect to PostgreSQL: " + std::string(PQerrorMessage(conn.get())));
  }
  const std::unique_ptr<PGresult, ResultDeleter> result(PQexec(conn.get(), sql.c_str()));
  const ExecStatusType status = PQresultStatus(result.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    throw std::runtime_error("PostgreSQL refused `" + sql + "`: " + PQresultErrorMessage(result.get()));
  }
}

}  // namespace tollgate::testing
