#include "supervisor/poll_set.h"

#include <algorithm>
#include <cerrno>
#include <utility>

namespace yinetd::supervisor {

void PollSet::Add(int fd, Handler handler, short events) {
  slots_[fd] = fds_.size();
  fds_.push_back(pollfd{fd, events, 0});
  entries_.push_back(Entry{std::move(handler), next_generation_++});
}

void PollSet::AddFirst(int fd, Handler handler) {
  Add(fd, std::move(handler));
  entries_.back().first = true;
}

void PollSet::Remove(int fd) {
  auto it = slots_.find(fd);
  if (it == slots_.end()) return;
  size_t slot = it->second;
  slots_.erase(it);
  // Swap with the last, so removing costs the same however many there are.
  size_t last = fds_.size() - 1;
  if (slot != last) {
    fds_[slot] = fds_[last];
    entries_[slot] = std::move(entries_[last]);
    slots_[fds_[slot].fd] = slot;
  }
  fds_.pop_back();
  entries_.pop_back();
}

int PollSet::Wait(int timeout_ms) {
  int ready;
  do {
    ready = poll(fds_.data(), fds_.size(), timeout_ms);
  } while (ready < 0 && errno == EINTR);
  if (ready <= 0) return ready;
  // Note what is ready before calling anyone: handlers change the set.
  // (Kept between passes: a pass allocates nothing once it has grown.)
  std::vector<Ready>& ready_list = ready_;
  ready_list.clear();
  size_t firsts = 0;
  for (size_t i = 0; i < fds_.size(); ++i) {
    if (fds_[i].revents == 0) continue;
    ready_list.push_back({fds_[i].fd, entries_[i].generation, fds_[i].revents});
    // AddFirst's to the front, in the order found.
    if (entries_[i].first) std::rotate(ready_list.begin() + firsts++, ready_list.end() - 1, ready_list.end());
  }
  for (const Ready& r : ready_list) {
    auto it = slots_.find(r.fd);
    if (it == slots_.end() || entries_[it->second].generation != r.generation) continue;
    // A copy: the handler may remove its own entry while it runs.
    Handler handler = entries_[it->second].handler;
    handler(r.revents);
  }
  return ready;
}

}  // namespace yinetd::supervisor
