// Shared machinery of the fake device runtimes used by the CPU-only tests: "device" memory backed by
// host memory and tracked so that bad pointers are refused, streams that run their work in order
// on a worker thread (so asynchronous completion and ordering are real), call counting and error
// injection, and a machine of several physical devices of which the visibility variable shows the
// process some (CUDA_VISIBLE_DEVICES, ASCEND_RT_VISIBLE_DEVICES). The entry points themselves live
// in fake_cuda.cpp and fake_acl.cpp.
//
// RTENSOR_FAKE_DEVICE_COUNT (read when the fake initialises) sets how many physical devices the
// fake machine has, 0 to kMaxPhysical; unset or invalid, each fake keeps its own default.
//
// Device memory is a memfd mapped MAP_SHARED (one per allocation), so that another process can map
// the same pages through /proc/<pid>/fd/<fd>: the fake CUDA driver's IPC handles name that file.
// Mappings of another process's memory (State::ipc) count as device memory of the exporter's
// physical device for the range checks of copies, but not as this process's allocations.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <memory>
#include <vector>

#include "rtensor_dlpack_api.h"

namespace fake {

enum MemoryKind : int { DEVICE = 0, PINNED = 1, REGISTERED = 2 };

// Byte counters of the copies the fake performs, read by the tests through fake_copied_bytes:
// host-to-device, device-to-host and device-to-device bytes, host-to-host bytes (an ACL
// HOST_TO_HOST copy, or a staging copy rtensor reports through fake_note_host_copy), and the
// host-to-device bytes read from / device-to-host bytes written to pageable memory (neither
// page-locked by the fake nor registered with it), which a real DMA engine cannot reach directly.
enum CopyCounter : int {
  COPIED_H2D = 0,
  COPIED_D2H = 1,
  COPIED_D2D = 2,
  COPIED_H2H = 3,
  COPIED_H2D_FROM_PAGEABLE = 4,
  COPIED_D2H_INTO_PAGEABLE = 5,
  COPY_COUNTERS = 6,
};

constexpr int kMaxPhysical = 16;

// The number of physical devices of the fake machine: RTENSOR_FAKE_DEVICE_COUNT, else the default.
inline int physical_count(int default_count) {
  const char* v = std::getenv("RTENSOR_FAKE_DEVICE_COUNT");
  if (v == nullptr || *v == 0) return default_count;
  char* end = nullptr;
  long n = std::strtol(v, &end, 10);
  if (*end != 0 || n < 0 || n > kMaxPhysical) return default_count;
  return static_cast<int>(n);
}

// CUDA_VISIBLE_DEVICES as the CUDA driver reads it (indices only; the fake has no UUIDs): unset,
// every device in index order; otherwise a comma-separated sequence enumerated in its order, read
// until the first entry that is not a valid index ("If one of the indices is invalid, only the
// devices whose index precedes the invalid index are visible": CUDA C++ Programming Guide, CUDA
// environment variables), so "" and "-1" show none and "0,2,-1,1" shows 0 and 2. Each entry is
// read like strtoul after leading blanks ("1gpu" is 1); an index repeated shows no device at all.
// PyTorch's torch.cuda._parse_visible_devices mirrors the driver the same way.
inline std::vector<int> parse_cuda_visible(const char* value, int count) {
  std::vector<int> visible;
  if (value == nullptr) {
    for (int i = 0; i < count; i++) visible.push_back(i);
    return visible;
  }
  const char* p = value;
  for (;;) {
    while (*p == ' ' || *p == '\t') p++;
    if (*p == '+') p++;
    if (!std::isdigit(static_cast<unsigned char>(*p))) break;  // empty, negative or not a number
    long index = 0;
    while (std::isdigit(static_cast<unsigned char>(*p))) {
      if (index <= kMaxPhysical) index = index * 10 + (*p - '0');
      p++;
    }
    if (index >= count) break;
    for (int seen : visible) {
      if (seen == index) return {};
    }
    visible.push_back(static_cast<int>(index));
    while (*p != 0 && *p != ',') p++;  // the rest of the entry after the number is ignored
    if (*p == 0) break;
    p++;
  }
  return visible;
}

// ASCEND_RT_VISIBLE_DEVICES as the CANN runtime documents it (Environment Variables,
// ASCEND_RT_VISIBLE_DEVICES): unset, every device; otherwise comma-separated device ids, read up to
// the first other character or invalid id ("1, 2,3" shows 1; "1,3,8" on 8 devices shows 1 and 3).
// CANN supports the ids only in ascending order; the fake stops at an id that is not greater than
// the one before it (so a repeated id ends the list too). "" shows none.
inline std::vector<int> parse_acl_visible(const char* value, int count) {
  std::vector<int> visible;
  if (value == nullptr) {
    for (int i = 0; i < count; i++) visible.push_back(i);
    return visible;
  }
  const char* p = value;
  for (;;) {
    if (!std::isdigit(static_cast<unsigned char>(*p))) break;
    long id = 0;
    while (std::isdigit(static_cast<unsigned char>(*p))) {
      if (id <= kMaxPhysical) id = id * 10 + (*p - '0');
      p++;
    }
    if (id >= count || (!visible.empty() && id <= visible.back())) break;
    visible.push_back(static_cast<int>(id));
    if (*p != ',') break;  // the end, or another character: nothing after it is read
    p++;
  }
  return visible;
}

struct Injection {
  int code;
  int after;  // calls still to succeed before the failure
};

// The memfd behind one device allocation: its descriptor, a serial unique in this process (the
// memfd's name carries it, so an opener can tell a descriptor number reused for another
// allocation), and the bytes mapped (the size, at least 1).
struct Backing {
  int fd;
  uint64_t serial;
  size_t mapped;
};

// Another process's allocation mapped here (cuIpcOpenMemHandle): opened `refs` times.
struct IpcMapping {
  size_t size;
  int physical;
  long long pid;
  uint64_t serial;
  int refs;
};

struct State {
  std::mutex mutex;
  // Live memory by kind (start -> size); DEVICE also holds the IPC mappings (see ipc).
  std::map<uintptr_t, size_t> memory[3];
  std::map<uintptr_t, Backing> backing;
  std::map<uintptr_t, IpcMapping> ipc;
  uint64_t next_serial = 1;
  size_t live[3] = {0, 0, 0};
  // Device memory per physical device: which one holds each allocation, and the bytes live on each.
  std::map<uintptr_t, int> holder;
  size_t live_on[kMaxPhysical] = {};
  std::map<std::string, long long> counts;
  std::map<std::string, Injection> injections;
  size_t device_capacity = size_t(8) << 30;  // per physical device
  int copy_delay_us = 0;
  long long copied[COPY_COUNTERS] = {};
};

inline State& state() {
  static State s;
  return s;
}

// Counts a call and returns the error injected for it, or 0.
inline int on_call(const char* name) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.counts[name]++;
  auto it = s.injections.find(name);
  if (it == s.injections.end()) return 0;
  if (it->second.after > 0) {
    it->second.after--;
    return 0;
  }
  int code = it->second.code;
  s.injections.erase(it);
  return code;
}

inline bool contains_locked(State& s, MemoryKind kind, uintptr_t p, size_t n) {
  auto& m = s.memory[kind];
  auto it = m.upper_bound(p);
  if (it == m.begin()) return false;
  --it;
  return p >= it->first && p + n <= it->first + it->second;
}

inline bool contains(MemoryKind kind, uintptr_t p, size_t n) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return contains_locked(s, kind, p, n);
}

// Counts a copy the fake accepted. `host` is its host side (null for device-to-device and
// host-to-host copies), classified as page-locked (PINNED or REGISTERED) or pageable.
inline void count_copy(CopyCounter direction, const void* host, size_t n) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.copied[direction] += static_cast<long long>(n);
  if (host == nullptr || (direction != COPIED_H2D && direction != COPIED_D2H)) return;
  uintptr_t p = reinterpret_cast<uintptr_t>(host);
  if (contains_locked(s, PINNED, p, n) || contains_locked(s, REGISTERED, p, n)) return;
  s.copied[direction == COPIED_H2D ? COPIED_H2D_FROM_PAGEABLE : COPIED_D2H_INTO_PAGEABLE] +=
      static_cast<long long>(n);
}

// The memfd name of a device allocation: "rtensor-fake-device-<pid>-<serial>".
inline std::string backing_name(long long pid, uint64_t serial) {
  return "rtensor-fake-device-" + std::to_string(pid) + "-" + std::to_string(serial);
}

// Device memory: a memfd of `size` bytes mapped shared, so another process can map it too.
inline void* map_backing(size_t size, Backing* out) {
  State& s = state();
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    out->serial = s.next_serial++;
  }
  out->mapped = size == 0 ? 1 : size;
  int fd = memfd_create(backing_name(getpid(), out->serial).c_str(), MFD_CLOEXEC);
  if (fd < 0) return nullptr;
  if (ftruncate(fd, static_cast<off_t>(out->mapped)) != 0) {
    close(fd);
    return nullptr;
  }
  void* p = mmap(nullptr, out->mapped, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    close(fd);
    return nullptr;
  }
  out->fd = fd;
  return p;
}

// Allocates tracked memory (device memory on the given physical device, memfd-backed); 0 when the
// device's capacity would be exceeded.
inline void* allocate(MemoryKind kind, size_t size, int physical = 0) {
  State& s = state();
  if (kind == DEVICE && (physical < 0 || physical >= kMaxPhysical)) return nullptr;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    if (kind == DEVICE && s.live_on[physical] + size > s.device_capacity) return nullptr;
  }
  void* p = nullptr;
  Backing backing{-1, 0, 0};
  if (kind == DEVICE) {
    p = map_backing(size, &backing);
    if (p == nullptr) return nullptr;
  } else if (posix_memalign(&p, 256, size == 0 ? 1 : size) != 0) {
    return nullptr;
  }
  std::lock_guard<std::mutex> lock(s.mutex);
  s.memory[kind][reinterpret_cast<uintptr_t>(p)] = size;
  s.live[kind] += size;
  if (kind == DEVICE) {
    s.holder[reinterpret_cast<uintptr_t>(p)] = physical;
    s.live_on[physical] += size;
    s.backing[reinterpret_cast<uintptr_t>(p)] = backing;
  }
  return p;
}

// The physical device whose allocation contains p, or -1.
inline int holder_of(uintptr_t p) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  auto& m = s.memory[DEVICE];
  auto it = m.upper_bound(p);
  if (it == m.begin()) return -1;
  --it;
  if (p >= it->first + it->second) return -1;
  return s.holder[it->first];
}

// Frees tracked memory that starts at p; false if p is not the start of a live allocation (an IPC
// mapping is not one: cuIpcCloseMemHandle unmaps it).
inline bool release(MemoryKind kind, void* p) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  uintptr_t at = reinterpret_cast<uintptr_t>(p);
  if (kind == DEVICE && s.ipc.count(at) != 0) return false;
  auto it = s.memory[kind].find(at);
  if (it == s.memory[kind].end()) return false;
  s.live[kind] -= it->second;
  if (kind == DEVICE) {
    auto h = s.holder.find(it->first);
    s.live_on[h->second] -= it->second;
    s.holder.erase(h);
    auto b = s.backing.find(at);
    munmap(p, b->second.mapped);
    close(b->second.fd);
    s.backing.erase(b);
  }
  s.memory[kind].erase(it);
  if (kind == PINNED) std::free(p);
  return true;
}

// The device allocation or IPC mapping holding p: its start, size and physical device.
inline bool device_allocation_of(uintptr_t p, uintptr_t* start, size_t* size, int* physical) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  auto& m = s.memory[DEVICE];
  auto it = m.upper_bound(p);
  if (it == m.begin()) return false;
  --it;
  if (p >= it->first + it->second) return false;
  *start = it->first;
  *size = it->second;
  if (physical != nullptr) *physical = s.holder[it->first];
  return true;
}

// What an IPC handle of the allocation holding p names: its memfd, serial, size and physical
// device. False when p is in no allocation of this process (an IPC mapping is none).
inline bool exportable(uintptr_t p, int32_t* fd, uint64_t* serial, uint64_t* size,
                       int32_t* physical) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  auto it = s.backing.upper_bound(p);
  if (it == s.backing.begin()) return false;
  --it;
  size_t bytes = s.memory[DEVICE][it->first];
  if (p >= it->first + bytes) return false;
  *fd = it->second.fd;
  *serial = it->second.serial;
  *size = bytes;
  *physical = s.holder[it->first];
  return true;
}

// An open mapping of (pid, serial) gains a reference; false when there is none.
inline bool ipc_reopen(long long pid, uint64_t serial, uintptr_t* mapped) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  for (auto& [at, m] : s.ipc) {
    if (m.pid == pid && m.serial == serial) {
      m.refs++;
      *mapped = at;
      return true;
    }
  }
  return false;
}

// Tracks a new mapping of (pid, serial) at p; when another thread mapped it meanwhile, unmaps p and
// takes a reference on that one. Returns the mapping's address.
inline uintptr_t ipc_track(void* p, size_t size, int physical, long long pid, uint64_t serial) {
  uintptr_t existing = 0;
  if (ipc_reopen(pid, serial, &existing)) {
    munmap(p, size);
    return existing;
  }
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  uintptr_t at = reinterpret_cast<uintptr_t>(p);
  s.ipc[at] = IpcMapping{size, physical, pid, serial, 1};
  s.memory[DEVICE][at] = size;
  s.holder[at] = physical;
  return at;
}

// Drops a reference on the mapping at p, unmapping it at the last; false when p is no mapping.
inline bool ipc_release(uintptr_t p) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  auto it = s.ipc.find(p);
  if (it == s.ipc.end()) return false;
  if (--it->second.refs > 0) return true;
  munmap(reinterpret_cast<void*>(p), it->second.size);
  s.memory[DEVICE].erase(p);
  s.holder.erase(p);
  s.ipc.erase(it);
  return true;
}

inline long long ipc_open_count() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  long long n = 0;
  for (auto& [at, m] : s.ipc) n += m.refs;
  return n;
}

inline bool track(MemoryKind kind, void* p, size_t size) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  auto [it, inserted] = s.memory[kind].emplace(reinterpret_cast<uintptr_t>(p), size);
  if (inserted) s.live[kind] += size;
  return inserted;
}

inline void device_usage(int physical, size_t* used, size_t* capacity) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  *used = physical >= 0 && physical < kMaxPhysical ? s.live_on[physical] : 0;
  *capacity = s.device_capacity;
}

inline void copy_now(void* dst, const void* src, size_t n) {
  int delay = state().copy_delay_us;
  if (delay > 0) std::this_thread::sleep_for(std::chrono::microseconds(delay));
  if (n > 0) std::memmove(dst, src, n);
}

// A stream: work items run in submission order on one worker thread.
class Stream {
 public:
  Stream() : worker_([this] { run(); }) {}
  ~Stream() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    worker_.join();
  }
  void submit(std::function<void()> work) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.push_back(std::move(work));
      pending_++;
    }
    cv_.notify_all();
  }
  void wait_idle() {
    std::unique_lock<std::mutex> lock(mutex_);
    idle_.wait(lock, [this] { return pending_ == 0; });
  }

 private:
  void run() {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (queue_.empty() && stop_) return;
      std::function<void()> work = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      work();
      lock.lock();
      pending_--;
      if (pending_ == 0) idle_.notify_all();
    }
  }
  std::mutex mutex_;
  std::condition_variable cv_;
  std::condition_variable idle_;
  std::deque<std::function<void()>> queue_;
  size_t pending_ = 0;
  bool stop_ = false;
  std::thread worker_;
};

// An event: completed by a marker that runs after the work submitted before it.
struct Event {
  explicit Event(bool timing_enabled = true) : timing(timing_enabled) {}
  const bool timing;
  std::mutex mutex;
  std::condition_variable cv;
  bool recorded = false;
  bool done = true;
  std::chrono::steady_clock::time_point when;
  void arm() {
    std::lock_guard<std::mutex> lock(mutex);
    recorded = true;
    done = false;
  }
  void complete() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      when = std::chrono::steady_clock::now();
      done = true;
    }
    cv.notify_all();
  }
  void wait() {
    std::unique_lock<std::mutex> lock(mutex);
    cv.wait(lock, [this] { return done; });
  }
  bool is_done() {
    std::lock_guard<std::mutex> lock(mutex);
    return done;
  }
};

// ---- a DLPack producer, as a framework exporting a tensor would be ----

// One tensor made by dlpack_make. Kept after its deleter ran, so a second call is seen and counted
// instead of touching freed memory.
struct DlpackMade {
  DLManagedTensor managed;
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;
  void* allocation = nullptr;
  bool on_device = false;
  bool deleted = false;
};

struct DlpackState {
  std::mutex mutex;
  std::map<DLManagedTensor*, std::unique_ptr<DlpackMade>> made;
  long long made_count = 0;
  long long deleter_calls = 0;
  long long repeated_deletes = 0;
};

inline DlpackState& dlpack_state() {
  static DlpackState s;
  return s;
}

inline void dlpack_delete(DLManagedTensor* self) {
  DlpackState& d = dlpack_state();
  std::lock_guard<std::mutex> lock(d.mutex);
  auto it = d.made.find(self);
  if (it == d.made.end()) return;
  DlpackMade& m = *it->second;
  if (m.deleted) {
    d.repeated_deletes++;
    return;
  }
  m.deleted = true;
  d.deleter_calls++;
  if (m.on_device) {
    release(DEVICE, m.allocation);
  } else {
    std::free(m.allocation);
  }
}

// A tensor with memory on the fake's physical device `physical` (device types kDLCUDA and 21,
// kDLAscend) or in host memory (any other), its numel * element bytes after byte_offset filled with
// the tests' pattern (HostBytes.pattern in Java) of seed.
inline DLManagedTensor* dlpack_make(int physical, int32_t device_type, int32_t device_id,
                                    uint8_t code, uint8_t bits, uint16_t lanes, int32_t ndim,
                                    const int64_t* shape, const int64_t* strides,
                                    uint64_t byte_offset, int seed) {
  auto m = std::make_unique<DlpackMade>();
  size_t numel = 1;
  for (int i = 0; i < ndim; i++) {
    m->shape.push_back(shape[i]);
    if (strides != nullptr) m->strides.push_back(strides[i]);
    numel *= static_cast<size_t>(shape[i] < 0 ? 0 : shape[i]);
  }
  size_t bytes = numel * ((static_cast<size_t>(bits) * lanes + 7) / 8);
  size_t total = bytes + byte_offset;
  m->on_device = device_type == RT_kDLCUDA || device_type == RT_kDLAscend;
  m->allocation = m->on_device ? allocate(DEVICE, total == 0 ? 1 : total, physical)
                               : std::malloc(total == 0 ? 1 : total);
  if (m->allocation == nullptr) return nullptr;
  unsigned char* data = static_cast<unsigned char*>(m->allocation) + byte_offset;
  for (size_t i = 0; i < bytes; i++) {
    data[i] = static_cast<unsigned char>((i * 131 + static_cast<size_t>(seed) * 7 + (i >> 9)) & 0xff);
  }
  DLTensor& t = m->managed.dl_tensor;
  t.data = m->allocation;
  t.device.device_type = device_type;
  t.device.device_id = device_id;
  t.ndim = ndim;
  t.dtype.code = code;
  t.dtype.bits = bits;
  t.dtype.lanes = lanes;
  t.shape = m->shape.data();
  t.strides = strides != nullptr ? m->strides.data() : nullptr;
  t.byte_offset = byte_offset;
  m->managed.manager_ctx = m.get();
  m->managed.deleter = dlpack_delete;
  DLManagedTensor* handle = &m->managed;
  DlpackState& d = dlpack_state();
  std::lock_guard<std::mutex> lock(d.mutex);
  d.made[handle] = std::move(m);
  d.made_count++;
  return handle;
}

}  // namespace fake

// Control entry points, called by the tests through rtensor's test hooks.
extern "C" {
// The next call of `function` after `after_calls` successful ones returns `code` (once).
inline int fake_inject_error_impl(const char* function, int code, int after_calls) {
  fake::State& s = fake::state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.injections[function] = fake::Injection{code, after_calls};
  return 0;
}

inline long long fake_copied_bytes_impl(int counter) {
  if (counter < 0 || counter >= fake::COPY_COUNTERS) return -1;
  fake::State& s = fake::state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return s.copied[counter];
}

inline void fake_note_host_copy_impl(size_t bytes) {
  fake::count_copy(fake::COPIED_H2H, nullptr, bytes);
}

// 0 tensors made, 1 deleter calls, 2 deleter calls on a tensor already deleted, 3 not deleted yet.
inline long long fake_dlpack_count_impl(int which) {
  fake::DlpackState& d = fake::dlpack_state();
  std::lock_guard<std::mutex> lock(d.mutex);
  switch (which) {
    case 0: return d.made_count;
    case 1: return d.deleter_calls;
    case 2: return d.repeated_deletes;
    case 3: return d.made_count - d.deleter_calls;
    default: return -1;
  }
}

inline int fake_copy_visible(const std::vector<int>& visible, int* out, int max) {
  int n = 0;
  for (int d : visible) {
    if (n < max) out[n] = d;
    n++;
  }
  return n < max ? n : max;
}
}
