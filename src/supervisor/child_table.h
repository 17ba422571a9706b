// ChildTable: every child yinetd started, by pid.
//
// The table is the only owner of child pids: nothing else reaps. A record
// keeps the child's report pipe; when the child is reaped while something
// (a grandchild) still holds the pipe open, the pipe outlives the record as
// an orphan until EOF. Destroying a record never blocks.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "supervisor/output_reader.h"
#include "supervisor/service.h"
#include "sys/unique_fd.h"

namespace yinetd::supervisor {

using Clock = std::chrono::steady_clock;

struct ChildRecord {
  std::shared_ptr<Service> service;
  pid_t pid = 0;
  std::string peer;
  Clock::time_point started;
  OutputReader output;
  std::string kill_reason;  // set when yinetd signalled it, e.g. "shutdown"
  SourceKey source;         // what the service's gate counted it under
  std::optional<Clock::time_point> term_at;  // `timeout` runs out: SIGTERM
  std::optional<Clock::time_point> kill_at;  // then `kill_grace`: SIGKILL
  UniqueFd tls_outcome;  // a TLS child's outcome pipe (supervisor/tls_service.h)
};

// A report pipe whose child is gone but whose writers are not.
struct OrphanOutput {
  std::shared_ptr<Service> service;
  pid_t pid = 0;
  OutputReader output;
};

class ChildTable {
 public:
  void Add(ChildRecord record);
  // Removes and returns the record of `pid`; nullopt for a pid not ours.
  std::optional<ChildRecord> Remove(pid_t pid);
  ChildRecord* Find(pid_t pid);

  size_t Size() const { return children_.size(); }
  bool Empty() const { return children_.empty(); }
  std::map<pid_t, ChildRecord>& Children() { return children_; }
  const std::map<pid_t, ChildRecord>& Children() const { return children_; }

  void AddOrphan(OrphanOutput orphan) { orphans_.push_back(std::move(orphan)); }
  std::vector<OrphanOutput>& Orphans() { return orphans_; }
  // Drops orphans whose pipe reached EOF.
  void PruneOrphans();

 private:
  std::map<pid_t, ChildRecord> children_;
  std::vector<OrphanOutput> orphans_;
};

}  // namespace yinetd::supervisor
