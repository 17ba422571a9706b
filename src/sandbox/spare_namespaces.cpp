#include "sandbox/spare_namespaces.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace yinetd::sandbox {
namespace {

// A request: what to make, with the service's mount namespace (or another
// fd in its place when no copy is wanted) and where to answer as rights.
// An answer: what was made, its namespaces as rights in that order.
struct Wire {
  unsigned char mounts = 0, tmp_mask = 0, ipc = 0;
};
constexpr int kMostFds = 2;

// One message, sent and received whole (SOCK_SEQPACKET) with no
// allocation: the maker's thread must not allocate (the supervisor clones
// children with raw system calls, which take no malloc lock, and a forked
// TLS front allocates).
struct Message {
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMostFds)];
  Wire wire;
  iovec io{&wire, sizeof wire};
  msghdr header{};

  Message() {
    header.msg_iov = &io;
    header.msg_iovlen = 1;
    header.msg_control = control;
    header.msg_controllen = sizeof control;
  }
  // `fds` become this message's rights; none at all for `count` 0.
  void Attach(const int* fds, int count) {
    if (count == 0) {
      header.msg_control = nullptr;
      header.msg_controllen = 0;
      return;
    }
    std::memset(control, 0, sizeof control);
    header.msg_controllen = CMSG_SPACE(sizeof(int) * count);
    cmsghdr* rights = CMSG_FIRSTHDR(&header);
    rights->cmsg_level = SOL_SOCKET;
    rights->cmsg_type = SCM_RIGHTS;
    rights->cmsg_len = CMSG_LEN(sizeof(int) * count);
    std::memcpy(CMSG_DATA(rights), fds, sizeof(int) * count);
  }
  // The descriptors received, into `fds` (-1 where fewer came); how many
  // came. (More than kMostFds cannot: MSG_CTRUNC closes the rest.)
  int Received(int* fds) const {
    for (int i = 0; i < kMostFds; ++i) fds[i] = -1;
    const cmsghdr* rights = CMSG_FIRSTHDR(&header);
    if (rights == nullptr || rights->cmsg_level != SOL_SOCKET || rights->cmsg_type != SCM_RIGHTS) return 0;
    int came = static_cast<int>((rights->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    if (came > kMostFds) came = kMostFds;
    std::memcpy(fds, CMSG_DATA(rights), sizeof(int) * static_cast<size_t>(came));
    return came;
  }
};

void CloseAll(const int* fds, int count) {
  for (int i = 0; i < count; ++i) {
    if (fds[i] >= 0) close(fds[i]);
  }
}

// Where the maker's thread goes back to after each spare: its own mount
// and IPC namespaces, so that it never keeps a connection's (or, after a
// reload, a service's) alive.
struct Home {
  UniqueFd mounts{open("/proc/thread-self/ns/mnt", O_RDONLY | O_CLOEXEC)};
  UniqueFd ipc{open("/proc/thread-self/ns/ipc", O_RDONLY | O_CLOEXEC)};
};

// On the maker's thread: a namespace of kind `type` (CLONE_NEWNS,
// CLONE_NEWIPC) made by `make` and opened as `path`, or -1.
template <typename Make>
int MakeOne(int type, const char* path, int home, Make make) {
  int made = make() ? open(path, O_RDONLY | O_CLOEXEC) : -1;
  setns(home, type);
  return made;
}

// The thread: serves each request until our end is shut down. Its file
// system context is its own (setns into a mount namespace needs that), so
// the rest of yinetd stays where it is. Raw calls; an answer that cannot
// be sent (the service is gone) is closed here.
void ServeRequests(UniqueFd requests) {
  bool own_context = unshare(CLONE_FS) == 0;
  Home home;
  for (;;) {
    Message request;
    ssize_t n = RetryOnEintr([&] { return recvmsg(requests.Get(), &request.header, MSG_CMSG_CLOEXEC); });
    if (n <= 0) return;
    int fds[kMostFds];  // the service's mount namespace, where to answer
    if (request.Received(fds) != kMostFds || n != sizeof(Wire)) {
      CloseAll(fds, kMostFds);
      continue;
    }
    const Wire& want = request.wire;
    int made[kMostFds] = {-1, -1};
    int count = 0;
    bool ok = true;
    if (want.mounts) {
      made[count] = own_context && home.mounts ? MakeOne(CLONE_NEWNS, "/proc/thread-self/ns/mnt", home.mounts.Get(), [&] {
        return setns(fds[0], CLONE_NEWNS) == 0 && unshare(CLONE_NEWNS) == 0 && MountPrivateTmp(want.tmp_mask).Ok();
      }) : -1;
      ok = made[count++] >= 0;
    }
    if (ok && want.ipc) {
      made[count] = home.ipc ? MakeOne(CLONE_NEWIPC, "/proc/thread-self/ns/ipc", home.ipc.Get(),
                                       [] { return unshare(CLONE_NEWIPC) == 0; })
                             : -1;
      ok = made[count++] >= 0;
    }
    Message answer;
    if (ok) answer.wire = want;  // else all zero: nothing made
    answer.Attach(made, ok ? count : 0);
    sendmsg(fds[1], &answer.header, MSG_DONTWAIT | MSG_NOSIGNAL);
    CloseAll(made, count);
    CloseAll(fds, kMostFds);
  }
}

}  // namespace

SysFailure MountPrivateTmp(unsigned mask) {
  for (unsigned i = 0; i < std::size(kPrivateTmpDirs); ++i) {
    if ((mask & (1U << i)) == 0) continue;
    if (mount("tmpfs", kPrivateTmpDirs[i], "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0) {
      return SysFailure{"mount private_tmp", errno};
    }
  }
  return {};
}

SpareQueue::SpareQueue(SpareKinds kinds) : kinds_(kinds) {
  int ends[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends) != 0) throw SysError("socketpair", errno);
  ours_.Reset(ends[0]);
  theirs_.Reset(ends[1]);
  if (fcntl(ours_.Get(), F_SETFL, O_NONBLOCK) != 0) throw SysError("fcntl O_NONBLOCK", errno);
}

SpareMaker::SpareMaker() {
  int ends[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ends) != 0) throw SysError("socketpair", errno);
  requests_.Reset(ends[0]);
  UniqueFd thread_end(ends[1]);
  // Only our end is non-blocking: the thread waits on its read.
  if (fcntl(requests_.Get(), F_SETFL, O_NONBLOCK) != 0) throw SysError("fcntl O_NONBLOCK", errno);
  thread_ = std::thread(ServeRequests, std::move(thread_end));
}

SpareMaker::~SpareMaker() {
  // The thread's read then ends (0): it finishes the request at hand.
  shutdown(requests_.Get(), SHUT_RDWR);
  thread_.join();
}

Spare SpareMaker::Take(SpareQueue& queue, int service_mounts) {
  const SpareKinds& kinds = queue.kinds_;
  Spare spare;
  while (!spare.Ready() && queue.outstanding_ > 0) {
    Message answer;
    if (recvmsg(queue.ours_.Get(), &answer.header, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) <= 0) break;
    --queue.outstanding_;
    int fds[kMostFds];
    int came = answer.Received(fds);
    int expected = (answer.wire.mounts ? 1 : 0) + (answer.wire.ipc ? 1 : 0);
    if (came != expected || expected == 0) {  // the maker failed: the next one
      CloseAll(fds, kMostFds);
      continue;
    }
    int next = 0;
    if (answer.wire.mounts) spare.mounts.Reset(fds[next++]);
    if (answer.wire.ipc) spare.ipc.Reset(fds[next++]);
  }
  while (queue.outstanding_ < kAhead) {
    Message request;
    request.wire = Wire{kinds.mounts, static_cast<unsigned char>(kinds.tmp_mask), kinds.ipc};
    // Some fd in the first place when no copy is wanted: the reply socket.
    int fds[kMostFds] = {kinds.mounts ? service_mounts : queue.theirs_.Get(), queue.theirs_.Get()};
    request.Attach(fds, kMostFds);
    if (sendmsg(requests_.Get(), &request.header, MSG_DONTWAIT | MSG_NOSIGNAL) <= 0) break;
    ++queue.outstanding_;
  }
  return spare;
}

}  // namespace yinetd::sandbox
