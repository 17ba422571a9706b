// PollSet: the descriptors the loop waits on, each with its handler.
//
// A descriptor is added when it comes (a listener bound, a child's pipe
// opened) and removed when it goes, so a pass of the loop does not rebuild
// anything: it polls, then calls the handlers of the ready descriptors.
// Handlers may add and remove descriptors, their own included; a
// descriptor removed during a pass is not called in it, and one added
// during a pass waits for the next.
#pragma once

#include <poll.h>

#include <cstdint>
#include <functional>
#include <unordered_map>
#include <vector>

namespace yinetd::supervisor {

class PollSet {
 public:
  using Handler = std::function<void(short revents)>;

  // Waits for `events` (POLLIN unless told) on `fd` (borrowed: the caller
  // keeps it open until Remove). One registration per fd.
  void Add(int fd, Handler handler, short events = POLLIN);
  // As Add, but its handler is called before every other's in each pass,
  // for as long as it is registered (the signal pipe, the reap fd: a child
  // that died is counted out before a connection is admitted).
  void AddFirst(int fd, Handler handler);
  void Remove(int fd);
  bool Contains(int fd) const { return slots_.count(fd) != 0; }
  size_t Size() const { return fds_.size(); }

  // poll() for at most `timeout_ms` (-1: no limit), retrying on EINTR, then
  // calls the handlers of what is ready. Returns poll's result.
  int Wait(int timeout_ms);

 private:
  struct Entry {
    Handler handler;
    uint64_t generation;  // tells a re-added fd from the one that was ready
    bool first = false;   // AddFirst
  };
  struct Ready {
    int fd;
    uint64_t generation;
    short revents;
  };
  std::vector<pollfd> fds_;
  std::vector<Ready> ready_;                 // Wait's: what the last poll found
  std::vector<Entry> entries_;               // parallel to fds_
  std::unordered_map<int, size_t> slots_;    // fd → index in fds_
  uint64_t next_generation_ = 1;
};

}  // namespace yinetd::supervisor
