#pragma once
// Module-private to spend/: the spend journal. Every spend event is appended here (one JSON line,
// one write(2)) before the request that caused it gets its final bytes, so a process killed with
// `kill -9` loses nothing: the next start replays the segments it finds. Appends go to the page
// cache; sync() (fdatasync, from the spend writer's thread every 100 ms) makes them survive a
// power cut as well.
//
// Segments: the journal is a directory of files `spend-<seq>.ndjson`. The spend writer rotates
// before each batch (new appends go to a fresh segment) and removes a segment once every event in
// it is in the database. Events are stored by request id, so replaying a segment that was
// partly written before a crash counts nothing twice.
//
// Thread safety: every method may be called from any thread.
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "tollgate/spend/spend_event.hpp"

namespace spdlog {
class logger;
}

namespace tollgate::spend {

class SpendJournal {
 public:
  /// `dir` empty: disabled (appends are no-ops, nothing survives a crash). Creates the directory;
  /// throws std::runtime_error when it cannot be created or written.
  SpendJournal(std::string dir, spdlog::logger& log);
  ~SpendJournal();
  SpendJournal(const SpendJournal&) = delete;
  SpendJournal& operator=(const SpendJournal&) = delete;

  bool enabled() const { return !dir_.empty(); }

  /// Segments a previous process left (ascending), found at construction; the current segment
  /// starts after them.
  const std::vector<std::uint64_t>& leftover() const { return leftover_; }

  /// Appends one encoded event (encode() + '\n', made before taking any lock) to the current
  /// segment with one write(2); returns that segment's number. False in `ok` when the write
  /// failed (disk full): the event then lives only in memory.
  std::uint64_t append(std::string_view line, bool& ok);
  /// Starts a new segment; returns the number of the one just closed. Cheap (no disk wait): the
  /// closed segment is synced by the next sync().
  std::uint64_t rotate();
  /// fdatasync of the current segment when something was appended since the last sync, and of
  /// segments closed since. Never holds the lock while the disk works.
  void sync();
  /// Deletes a segment whose events are all stored.
  void remove(std::uint64_t seq);
  /// Renames a segment the database refused to `spend-<seq>.rejected`, kept for the operator.
  void quarantine(std::uint64_t seq);
  /// The events of a segment; lines that do not parse (a torn last line) are skipped and counted.
  std::vector<SpendEvent> read(std::uint64_t seq, std::size_t& skipped) const;

  /// Serialisation of one event, as a journal line (no newline) and back. Exposed for tests.
  static std::string encode(const SpendEvent& event);
  static bool decode(std::string_view line, SpendEvent& event);

 private:
  std::string path_of(std::uint64_t seq) const;
  void open_segment();  // mu_ held

  std::string dir_;
  spdlog::logger& log_;
  std::vector<std::uint64_t> leftover_;
  std::mutex mu_;
  int fd_ = -1;              // current segment; guarded by mu_
  std::vector<int> closed_fds_;  // rotated out, not synced yet; guarded by mu_
  std::uint64_t seq_ = 0;    // current segment number; guarded by mu_
  bool dirty_ = false;       // appended since the last sync; guarded by mu_
};

}  // namespace tollgate::spend
