// Shared memory between processes of one node: sealed memfd segments, read-only mappings of them,
// and Unix-domain sockets that pass their descriptors (SCM_RIGHTS) and name their peer
// (SO_PEERCRED). Linux only; plain POSIX and Linux system calls, no device runtime.
//
// Every function returns a negative errno on failure (never throws, never exits), so the Java side
// turns each failure into a typed exception. Addresses are returned as int64_t: user-space
// addresses on Linux are below 2^47, so a negative value is always an error.
#pragma once

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>

#if defined(__linux__)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#endif

#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 0x0001U
#endif
#ifndef MFD_ALLOW_SEALING
#define MFD_ALLOW_SEALING 0x0002U
#endif
#ifndef F_ADD_SEALS
#define F_ADD_SEALS 1033
#define F_GET_SEALS 1034
#define F_SEAL_SEAL 0x0001
#define F_SEAL_SHRINK 0x0002
#define F_SEAL_GROW 0x0004
#endif

namespace rtensor {

#if defined(__linux__)

// A new anonymous shared-memory file of `size` bytes (memfd), sealed against shrinking and growing
// so no holder of a descriptor can truncate it under another's mapping (which would be SIGBUS on
// the next read). Close-on-exec. Returns the descriptor.
inline int shm_segment_create(int64_t size) {
  if (size < 1) {
    return -EINVAL;
  }
  int fd = memfd_create("rtensor-shard", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) {
    return -errno;
  }
  if (ftruncate(fd, static_cast<off_t>(size)) != 0 ||
      fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  return fd;
}

// A second, read-only descriptor of the same file (through /proc/self/fd): what is handed to a
// consumer, which can then neither map it writable nor truncate it.
inline int shm_reopen_readonly(int fd) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  int ro = open(path, O_RDONLY | O_CLOEXEC);
  return ro < 0 ? -errno : ro;
}

// Checks that `fd` is a segment a mapping of `size` bytes can read safely: sealed against
// shrinking, at least `size` bytes long. 0, or a negative errno (-EPERM: not sealed, -ERANGE: too
// short).
inline int shm_check_segment(int fd, int64_t size) {
  int seals = fcntl(fd, F_GET_SEALS);
  if (seals < 0) {
    return -errno;
  }
  if ((seals & F_SEAL_SHRINK) == 0) {
    return -EPERM;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    return -errno;
  }
  if (size < 1 || st.st_size < size) {
    return -ERANGE;
  }
  return 0;
}

// Maps `size` bytes of `fd` shared, writable or read-only; `populate` faults the pages in with the
// call (one system call instead of a fault per page). Returns the address.
inline int64_t shm_map(int fd, int64_t size, int writable, int populate) {
  if (size < 1) {
    return -EINVAL;
  }
  int prot = writable ? (PROT_READ | PROT_WRITE) : PROT_READ;
  int flags = MAP_SHARED | (populate ? MAP_POPULATE : 0);
  void* p = mmap(nullptr, static_cast<size_t>(size), prot, flags, fd, 0);
  return p == MAP_FAILED ? -errno : reinterpret_cast<int64_t>(p);
}

inline int shm_unmap(int64_t address, int64_t size) {
  return munmap(reinterpret_cast<void*>(address), static_cast<size_t>(size)) == 0 ? 0 : -errno;
}

inline int fd_close(int fd) { return close(fd) == 0 ? 0 : -errno; }

// `path` as a Unix socket address; false if it is too long for one.
inline bool uds_address(const char* path, struct sockaddr_un* addr) {
  std::memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  if (std::strlen(path) >= sizeof addr->sun_path) {
    return false;
  }
  std::strcpy(addr->sun_path, path);
  return true;
}

// A listening Unix-domain stream socket bound at `path`, mode 0600 (the caller makes its
// directory 0700). Returns the descriptor.
inline int uds_listen(const char* path) {
  struct sockaddr_un addr;
  if (!uds_address(path, &addr)) {
    return -ENAMETOOLONG;
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -errno;
  }
  mode_t old = umask(0177);
  int rc = bind(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr);
  umask(old);
  if (rc != 0 || chmod(path, 0600) != 0 || listen(fd, 64) != 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  return fd;
}

// Waits for a connection (no deadline: the server's accept thread, ended by uds_shutdown).
inline int uds_accept(int listen_fd) {
  int fd;
  do {
    fd = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  return fd < 0 ? -errno : fd;
}

// Wakes threads blocked in accept or recv on `fd` (they return an error); close it afterwards.
inline int uds_shutdown(int fd) { return shutdown(fd, SHUT_RDWR) == 0 ? 0 : -errno; }

// Send and receive deadlines of a socket, in milliseconds: a blocked call past them fails with
// -EAGAIN.
inline int uds_set_timeout(int fd, int millis) {
  struct timeval tv;
  tv.tv_sec = millis / 1000;
  tv.tv_usec = (millis % 1000) * 1000;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0) {
    return -errno;
  }
  return 0;
}

inline int uds_connect(const char* path, int timeout_millis) {
  struct sockaddr_un addr;
  if (!uds_address(path, &addr)) {
    return -ENAMETOOLONG;
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -errno;
  }
  int rc = uds_set_timeout(fd, timeout_millis);
  if (rc == 0 && connect(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) != 0) {
    rc = -errno;
  }
  if (rc != 0) {
    close(fd);
    return rc;
  }
  return fd;
}

// The user id of the process at the other end of a connected Unix socket (SO_PEERCRED), as the
// kernel recorded it at connect time.
inline int64_t uds_peer_uid(int fd) {
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return -errno;
  }
  return static_cast<int64_t>(cred.uid);
}

inline int64_t effective_uid() { return static_cast<int64_t>(geteuid()); }

// Sends all `length` bytes; with `pass_fd` >= 0 the descriptor travels with the first byte
// (SCM_RIGHTS). Returns `length`.
inline int64_t uds_send(int fd, const char* data, int64_t length, int pass_fd) {
  int64_t sent = 0;
  bool fd_pending = pass_fd >= 0;
  while (sent < length) {
    struct iovec iov;
    iov.iov_base = const_cast<char*>(data + sent);
    iov.iov_len = static_cast<size_t>(length - sent);
    struct msghdr msg;
    std::memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    if (fd_pending) {
      std::memset(control, 0, sizeof control);
      msg.msg_control = control;
      msg.msg_controllen = sizeof control;
      struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      std::memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
    }
    ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return -errno;
    }
    fd_pending = false;
    sent += n;
  }
  return sent;
}

// Receives exactly `length` bytes. A descriptor that comes with them (SCM_RIGHTS, close-on-exec)
// is stored in fd_out[0] (-1 if none); more than one is refused (-EPROTO, all closed). A peer that
// closes first gives -ECONNRESET; a receive past the socket's deadline -EAGAIN.
inline int64_t uds_recv(int fd, char* data, int64_t length, int* fd_out) {
  fd_out[0] = -1;
  int64_t got = 0;
  while (got < length) {
    struct iovec iov;
    iov.iov_base = data + got;
    iov.iov_len = static_cast<size_t>(length - got);
    struct msghdr msg;
    std::memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(struct cmsghdr) char control[CMSG_SPACE(4 * sizeof(int))];
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      int e = errno;
      if (fd_out[0] >= 0) {
        close(fd_out[0]);
        fd_out[0] = -1;
      }
      return -e;
    }
    bool extra = (msg.msg_flags & MSG_CTRUNC) != 0;
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; i++) {
          int passed;
          std::memcpy(&passed, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
          if (fd_out[0] < 0 && !extra) {
            fd_out[0] = passed;
          } else {
            close(passed);
            extra = true;
          }
        }
      }
    }
    if (extra) {
      if (fd_out[0] >= 0) {
        close(fd_out[0]);
        fd_out[0] = -1;
      }
      return -EPROTO;
    }
    if (n == 0) {
      if (fd_out[0] >= 0) {
        close(fd_out[0]);
        fd_out[0] = -1;
      }
      return -ECONNRESET;
    }
    got += n;
  }
  return got;
}

#else  // not Linux: nothing here works; callers fall back to sockets.

inline int shm_segment_create(int64_t) { return -38; }
inline int shm_reopen_readonly(int) { return -38; }
inline int shm_check_segment(int, int64_t) { return -38; }
inline int64_t shm_map(int, int64_t, int, int) { return -38; }
inline int shm_unmap(int64_t, int64_t) { return -38; }
inline int fd_close(int) { return -38; }
inline int uds_listen(const char*) { return -38; }
inline int uds_accept(int) { return -38; }
inline int uds_shutdown(int) { return -38; }
inline int uds_set_timeout(int, int) { return -38; }
inline int uds_connect(const char*, int) { return -38; }
inline int64_t uds_peer_uid(int) { return -38; }
inline int64_t effective_uid() { return -38; }
inline int64_t uds_send(int, const char*, int64_t, int) { return -38; }
inline int64_t uds_recv(int, char*, int64_t, int* fd_out) {
  fd_out[0] = -1;
  return -38;
}

#endif

}  // namespace rtensor
