// Children: every program yinetd started, and every count that follows.
//
// A connection is counted in exactly one place, Started, and out in exactly
// one, Ended (s6-tcpserverd's new_connection/end_connection): the running
// total against max_children, the service's running and per-source counts,
// its totals and the metrics all change there and nowhere else. Refused
// counts a connection turned away. Admission (Admit) reads those counts.
//
// Children also owns what a child leaves behind: its report pipe until EOF
// (an orphan when a grandchild still holds it), its timeout, and its process
// group, which is signalled at timeout and shutdown also after the program
// itself exited, for as long as anything in it lives. A service with a
// cgroup of its own is ended through it too (cgroup.kill): when a timeout
// ends a connection that is the service's only one (at its SIGKILL, or
// when the program died of the SIGTERM and its group with it), and by the
// supervisor when shutdown is done.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/address.h"
#include "supervisor/clock.h"
#include "supervisor/output_reader.h"
#include "supervisor/poll_set.h"
#include "supervisor/process_starter.h"
#include "supervisor/refusal_log.h"
#include "supervisor/service.h"
#include "supervisor/timer_queue.h"
#include "sys/unique_fd.h"
#include "tls/outcome.h"

namespace yinetd::supervisor {

struct ChildRecord {
  std::shared_ptr<Service> service;
  pid_t pid = 0;
  std::string peer;                       // for logs; "" for a wait-mode child
  std::string via;                        // for logs: the load balancer, if any
  std::optional<net::IpAddress> client;   // counted again if the prefixes change
  SourceKey source;                       // what the gate counted it under
  TimePoint started;
  std::optional<TimePoint> term_at;       // `timeout` runs out
  std::unique_ptr<OutputReader> output;   // the report pipe, if any
  std::string kill_reason;                // set when yinetd signalled it
  Timer deadline;                         // the next step of its timeout
  UniqueFd tls_outcome;                   // a TLS child's outcome pipe (tls/outcome.h)
  tls::Outcome tls;                       // what came on it; closed once it has come
};

class Children {
 public:
  // Whole seconds between two looks at a process group left behind.
  static constexpr milliseconds kLingerCheck{1000};
  // At most this long after a SIGCHLD, every child is looked at (the
  // wait4(-1) scan), for a child that has no pidfd (ProcessStarter). Each
  // scan that finds nothing doubles the delay, up to kMaxScanDelay: with
  // 5,000 children a scan takes milliseconds.
  static constexpr milliseconds kScanDelay{1000};
  static constexpr milliseconds kMaxScanDelay{64000};

  // Puts the reap fd, if `processes` has one, first in `poll`.
  Children(const Clock& clock, TimerQueue& timers, PollSet& poll, ProcessStarter& processes);
  ~Children();
  Children(const Children&) = delete;
  Children& operator=(const Children&) = delete;

  void SetMaxChildren(int max_children) { max_children_ = max_children; }
  int MaxChildren() const { return max_children_; }
  size_t Running() const { return children_.size(); }
  bool Full() const { return static_cast<int>(children_.size()) >= max_children_; }
  size_t LingeringGroups() const { return lingering_.size(); }
  const std::map<pid_t, ChildRecord>& All() const { return children_; }
  // Takes in the handshake record of every running TLS child whose front
  // has written it (each read is non-blocking), so that a running
  // connection shows its TLS version and client.
  void CollectTlsOutcomes();

  // Whether `client` may start a program of `service` now: allow/deny,
  // max_children, then the service's gate. On success `source` is what the
  // connection will be counted under.
  std::optional<RefuseReason> Admit(Service& service, const std::optional<net::IpAddress>& client,
                                    SourceKey& source);
  // A connection closed without a program: counted, and logged (at most a
  // few lines a second per service and reason).
  // `via` (the balancer) and `detail` (what was wrong) go into the log line.
  void Refused(Service& service, std::string_view peer, std::string_view reason, std::string_view via = "",
               std::string_view detail = "");

  // The two places a connection is counted in and out.
  // `tls_outcome`: a TLS child's outcome pipe, read when it is reaped.
  void Started(std::shared_ptr<Service> service, pid_t pid, std::string peer,
               std::optional<net::IpAddress> client, const SourceKey& source, UniqueFd report_pipe,
               UniqueFd tls_outcome = {}, std::string via = "");
  // A TLS handshake that failed (or found no context to start with):
  // counted, and logged as tls_error with the same rate limit as refusals.
  void TlsFailed(Service& service, pid_t pid, std::string_view peer, const std::string& reason,
                 std::string_view detail);
  // What a SIGCHLD wakes: reaps the children the reap fd reports (all of
  // them when there is none) and makes sure every other dead child is
  // reaped within kScanDelay. Ends each (logs its exit, counts it out),
  // then calls `on_ended` with its record and wait status.
  void ReapAll();
  // What the reap fd wakes: only the children it reports, each in O(1).
  void ReapExited();
  std::function<void(const ChildRecord& child, int wait_status)> on_ended;

  // After a reload changed `service`'s source prefixes: counts its running
  // children in again under the new ones.
  void Recount(Service& service);

  // SIGTERM to every child and every group left behind, SIGKILL after
  // `grace`. Done() once none is left (or all were sent SIGKILL).
  void BeginShutdown(milliseconds grace);
  bool Done() const;

  // cgroup.kill on `service`'s cgroup, if it has one (sandbox cgroup keys):
  // SIGKILL to all it holds, also what left its process group. A failure
  // is logged.
  void KillCgroup(const Service& service);

 private:
  void Ended(const Reaped& reaped);
  // Reaps every dead child there is; how many.
  size_t ScanAll();
  void ArmTimeout(ChildRecord& record);
  void OnTimeout(pid_t pid);
  void OnKillGrace(pid_t pid);
  void WatchOutput(ChildRecord& record);
  void ForwardOutput(Service& service, pid_t pid, OutputReader& output);
  void KeepOrphanOutput(std::shared_ptr<Service> service, pid_t pid, std::unique_ptr<OutputReader> output);
  void Linger(const ChildRecord& record);
  void CheckLingering(pid_t pgid);
  void SignalGroup(std::string_view service, pid_t pid, int signo);
  // How many children and lingering groups of `service` are held.
  int HeldOf(const Service& service) const;
  void ScheduleRefusalFlush();
  void FlushRefusals();

  // A process group whose leader (our child) has exited while something in
  // it lives on: still ours to end at its timeout and at shutdown.
  struct Lingering {
    std::shared_ptr<Service> service;
    Timer check;     // the next look: is anything left?
    Timer deadline;  // the child's timeout, carried over
  };
  // A report pipe whose child is gone but whose writers are not.
  struct Orphan {
    std::shared_ptr<Service> service;
    pid_t pid = 0;
    std::unique_ptr<OutputReader> output;
  };

  const Clock& clock_;
  TimerQueue& timers_;
  PollSet& poll_;
  ProcessStarter& processes_;
  int max_children_ = 1;
  std::map<pid_t, ChildRecord> children_;
  std::map<pid_t, Lingering> lingering_;
  std::map<int, Orphan> orphans_;  // by pipe fd
  RefusalLog refusals_;
  Timer refusal_flush_;
  bool stopping_ = false;
  bool killed_ = false;
  Timer shutdown_kill_;
  Timer scan_;  // the wait4(-1) scan a SIGCHLD asked for
  milliseconds scan_delay_ = kScanDelay;
};

}  // namespace yinetd::supervisor
