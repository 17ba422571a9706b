#include "sandbox/spare_mounts.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace yinetd::sandbox {
namespace {

// What travels with a request (the service's namespace and where to
// answer) and with an answer (the namespace made, when one was).
constexpr int kRequestFds = 2;

// One message: `bytes` and up to `count` descriptors. Sent and received
// whole (SOCK_SEQPACKET), with no allocation: the maker's thread must not
// allocate (the supervisor clones children with raw system calls, which
// take no malloc lock, and a forked TLS front allocates).
struct Message {
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kRequestFds)];
  unsigned char byte = 0;
  iovec io{&byte, sizeof byte};
  msghdr header{};

  Message() {
    header.msg_iov = &io;
    header.msg_iovlen = 1;
    header.msg_control = control;
    header.msg_controllen = sizeof control;
  }
  // `fds` become this message's rights.
  void Attach(const int* fds, int count) {
    std::memset(control, 0, sizeof control);
    header.msg_controllen = CMSG_SPACE(sizeof(int) * count);
    cmsghdr* rights = CMSG_FIRSTHDR(&header);
    rights->cmsg_level = SOL_SOCKET;
    rights->cmsg_type = SCM_RIGHTS;
    rights->cmsg_len = CMSG_LEN(sizeof(int) * count);
    std::memcpy(CMSG_DATA(rights), fds, sizeof(int) * count);
  }
  // The descriptors received, into `fds` (-1 where fewer came); the
  // number that came.
  int Received(int* fds, int count) const {
    for (int i = 0; i < count; ++i) fds[i] = -1;
    const cmsghdr* rights = CMSG_FIRSTHDR(&header);
    if (rights == nullptr || rights->cmsg_level != SOL_SOCKET || rights->cmsg_type != SCM_RIGHTS) return 0;
    int came = static_cast<int>((rights->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    std::memcpy(fds, CMSG_DATA(rights), sizeof(int) * static_cast<size_t>(came < count ? came : count));
    // More than asked for cannot come: MSG_CTRUNC closes the rest.
    return came < count ? came : count;
  }
};

// On the maker's thread: a copy of `service_ns` with the fresh tmpfs
// mounts, as an fd, or -1. The thread goes back to `home` after each, so
// that it never keeps a connection's namespace (or, after a reload, a
// service's) alive.
int MakeOne(int service_ns, unsigned tmp_mask, int home) {
  int made = -1;
  if (setns(service_ns, CLONE_NEWNS) == 0 && unshare(CLONE_NEWNS) == 0 && MountPrivateTmp(tmp_mask).Ok()) {
    made = open("/proc/thread-self/ns/mnt", O_RDONLY | O_CLOEXEC);
  }
  setns(home, CLONE_NEWNS);
  return made;
}

// The thread: serves each request until our end is closed. Its file system
// context is its own (setns into a mount namespace needs that), so the
// rest of yinetd stays where it is. Raw calls; an answer that cannot be
// sent (the service is gone) is closed here.
void ServeRequests(UniqueFd requests) {
  bool own_context = unshare(CLONE_FS) == 0;
  UniqueFd home(open("/proc/thread-self/ns/mnt", O_RDONLY | O_CLOEXEC));
  for (;;) {
    Message request;
    ssize_t n = RetryOnEintr([&] { return recvmsg(requests.Get(), &request.header, MSG_CMSG_CLOEXEC); });
    if (n <= 0) return;
    int fds[kRequestFds];
    if (request.Received(fds, kRequestFds) != kRequestFds) {
      for (int fd : fds) {
        if (fd >= 0) close(fd);
      }
      continue;
    }
    int made = own_context && home ? MakeOne(fds[0], request.byte, home.Get()) : -1;
    Message answer;
    answer.byte = made >= 0 ? 1 : 0;
    if (made >= 0) {
      answer.Attach(&made, 1);
    } else {
      answer.header.msg_control = nullptr;
      answer.header.msg_controllen = 0;
    }
    sendmsg(fds[1], &answer.header, MSG_DONTWAIT | MSG_NOSIGNAL);
    for (int fd : {made, fds[0], fds[1]}) {
      if (fd >= 0) close(fd);
    }
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

SpareQueue::SpareQueue() {
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

UniqueFd SpareMaker::Take(SpareQueue& queue, int service_ns, unsigned tmp_mask) {
  UniqueFd taken;
  while (!taken && queue.outstanding_ > 0) {
    Message answer;
    if (recvmsg(queue.ours_.Get(), &answer.header, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) <= 0) break;
    --queue.outstanding_;
    int fd;
    if (answer.Received(&fd, 1) == 1) taken.Reset(fd);  // else the maker failed: the next one
  }
  while (queue.outstanding_ < kAhead) {
    Message request;
    request.byte = static_cast<unsigned char>(tmp_mask);
    int fds[kRequestFds] = {service_ns, queue.theirs_.Get()};
    request.Attach(fds, kRequestFds);
    if (sendmsg(requests_.Get(), &request.header, MSG_DONTWAIT | MSG_NOSIGNAL) <= 0) break;
    ++queue.outstanding_;
  }
  return taken;
}

}  // namespace yinetd::sandbox
