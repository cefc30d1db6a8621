// Shared machinery of the fake device runtimes used by the CPU-only tests: "device" memory backed by
// host memory and tracked so that bad pointers are refused, streams that run their work in order
// on a worker thread (so asynchronous completion and ordering are real), call counting and error
// injection. The entry points themselves live in fake_cuda.cpp and fake_acl.cpp.
#pragma once

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

namespace fake {

enum MemoryKind : int { DEVICE = 0, PINNED = 1, REGISTERED = 2 };

struct Injection {
  int code;
  int after;  // calls still to succeed before the failure
};

struct State {
  std::mutex mutex;
  std::map<uintptr_t, size_t> memory[3];
  size_t live[3] = {0, 0, 0};
  std::map<std::string, long long> counts;
  std::map<std::string, Injection> injections;
  size_t device_capacity = size_t(8) << 30;
  int copy_delay_us = 0;
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

inline bool contains(MemoryKind kind, uintptr_t p, size_t n) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  auto& m = s.memory[kind];
  auto it = m.upper_bound(p);
  if (it == m.begin()) return false;
  --it;
  return p >= it->first && p + n <= it->first + it->second;
}

// Allocates tracked memory; 0 when the fake device capacity would be exceeded.
inline void* allocate(MemoryKind kind, size_t size) {
  State& s = state();
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    if (kind == DEVICE && s.live[DEVICE] + size > s.device_capacity) return nullptr;
  }
  void* p = nullptr;
  if (posix_memalign(&p, 256, size == 0 ? 1 : size) != 0) return nullptr;
  std::lock_guard<std::mutex> lock(s.mutex);
  s.memory[kind][reinterpret_cast<uintptr_t>(p)] = size;
  s.live[kind] += size;
  return p;
}

// Frees tracked memory that starts at p; false if p is not the start of a live allocation.
inline bool release(MemoryKind kind, void* p) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  auto it = s.memory[kind].find(reinterpret_cast<uintptr_t>(p));
  if (it == s.memory[kind].end()) return false;
  s.live[kind] -= it->second;
  s.memory[kind].erase(it);
  if (kind != REGISTERED) std::free(p);
  return true;
}

inline bool track(MemoryKind kind, void* p, size_t size) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  auto [it, inserted] = s.memory[kind].emplace(reinterpret_cast<uintptr_t>(p), size);
  if (inserted) s.live[kind] += size;
  return inserted;
}

inline void device_usage(size_t* used, size_t* capacity) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  *used = s.live[DEVICE];
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
}
