// Device runtimes behind one flat C++ API bound by JavaCPP (io.rtensor.device.internal.DeviceOps).
// Backends: 0 = CPU (plain host memory), 1 = CUDA driver API (libcuda.so.1), 2 = Ascend ACL
// (libascendcl.so). The vendor libraries are opened with dlopen at run time and never linked, so
// the library builds and its CPU backend works on machines with neither runtime.
//
// Every operation returns the runtime's own status code (0 = success). On failure the calling
// thread's last error (name and text, from the runtime) is set; Java reads it right after the call
// on the same thread. rtensor's own failures use negative codes (see RT_E_*).
#pragma once

#include <dlfcn.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "rtensor_acl_api.h"
#include "rtensor_cuda_api.h"
#include "rtensor_host.h"

namespace rtensor {

enum : int { BACKEND_CPU = 0, BACKEND_CUDA = 1, BACKEND_ACL = 2, BACKEND_COUNT = 3 };
enum : int { COPY_D2H = 0, COPY_H2D = 1, COPY_D2D = 2 };
enum : int {
  LOAD_OK = 0,
  LOAD_NOT_ATTEMPTED = 1,
  LOAD_LIBRARY_NOT_FOUND = 2,
  LOAD_SYMBOL_MISSING = 3,
  LOAD_DRIVER_TOO_OLD = 4,
  LOAD_INIT_FAILED = 5,
};
// rtensor's own error codes: negative, so they never collide with a runtime's codes.
enum : int {
  RT_E_NOT_LOADED = -1,
  RT_E_UNSUPPORTED = -2,
  RT_E_INVALID_ARGUMENT = -3,
  RT_E_NOT_READY = -4,
  RT_E_HOST_OUT_OF_MEMORY = -5,
  RT_E_ALREADY_INITIALIZED = -6,
};
constexpr int MAX_DEVICES = 64;

namespace detail {

struct ErrorState {
  char name[96];
  char text[512];
};
inline thread_local ErrorState last_error = {{0}, {0}};

inline int fail(int code, const char* name, const char* text) {
  std::snprintf(last_error.name, sizeof(last_error.name), "%s", name ? name : "UNKNOWN");
  std::snprintf(last_error.text, sizeof(last_error.text), "%s", text ? text : "");
  return code;
}

struct CudaApi {
#define RTENSOR_CUDA_FIELD(name, symbol, params) rt_cuda_fn_##name name = nullptr;
  RTENSOR_CUDA_ENTRIES(RTENSOR_CUDA_FIELD)
#undef RTENSOR_CUDA_FIELD
};

struct AclApi {
#define RTENSOR_ACL_FIELD(name, symbol, ret, params) rt_acl_fn_##name name = nullptr;
  RTENSOR_ACL_ENTRIES(RTENSOR_ACL_FIELD)
  RTENSOR_ACL_OPTIONAL_ENTRIES(RTENSOR_ACL_FIELD)
#undef RTENSOR_ACL_FIELD
};

// The environment variables a runtime reads once, when it initialises (cuInit / aclInit): after
// that, changing them in this process has no effect on it, so rtensor refuses to (set_env).
constexpr int MAX_INIT_ENV = 2;
inline const char* const cuda_init_env[MAX_INIT_ENV] = {"CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER"};
inline const char* const acl_init_env[MAX_INIT_ENV] = {"ASCEND_RT_VISIBLE_DEVICES", nullptr};

inline const char* const* init_env(int backend) {
  return backend == BACKEND_CUDA ? cuda_init_env : backend == BACKEND_ACL ? acl_init_env : nullptr;
}

// One variable as it was when the runtime initialised.
struct EnvSnapshot {
  bool set = false;
  std::string value;
};

// Serialises rtensor's own reads and writes of the process environment (getenv is not safe against
// a concurrent setenv). Code outside rtensor that touches the environment is not covered.
inline std::mutex env_mutex;

struct Runtime {
  std::mutex mutex;
  std::atomic<int> status{LOAD_NOT_ATTEMPTED};
  std::string library;
  std::string message = "not loaded yet";
  void* handle = nullptr;
  int driver_version = 0;
  CudaApi cuda;
  AclApi acl;
  CUcontext contexts[MAX_DEVICES] = {};
  // Whether cuInit / aclInit has been called in this process (by rtensor), and the variables of
  // init_env() as they were then.
  bool init_called = false;
  EnvSnapshot env_at_init[MAX_INIT_ENV];
  // CUDA: cuInit answered CUDA_ERROR_NO_DEVICE (nothing visible): loaded, with zero devices.
  bool no_devices = false;
  // ACL: whether aclInit is in effect, and a generation bumped by aclFinalize so that every
  // thread binds its device again afterwards.
  std::atomic<bool> acl_ready{false};
  std::atomic<int> acl_generation{0};
  // A test hook only the fake runtimes export (fake_note_host_copy): told of every staging copy
  // rtensor makes for this runtime, so tests can count host copies. Null for a real runtime.
  void (*note_host_copy)(size_t) = nullptr;
};

inline Runtime runtimes[BACKEND_COUNT];

// Resolves every entry point of one runtime from an open handle. On a missing symbol returns false
// and names it in *missing.
inline bool resolve_cuda(void* handle, CudaApi* api, std::string* missing) {
#define RTENSOR_CUDA_RESOLVE(name, symbol, params)                          \
  api->name = reinterpret_cast<rt_cuda_fn_##name>(dlsym(handle, symbol)); \
  if (api->name == nullptr) {                                             \
    *missing = symbol;                                                    \
    return false;                                                         \
  }
  RTENSOR_CUDA_ENTRIES(RTENSOR_CUDA_RESOLVE)
#undef RTENSOR_CUDA_RESOLVE
  return true;
}

inline bool resolve_acl(void* handle, AclApi* api, std::string* missing) {
#define RTENSOR_ACL_RESOLVE(name, symbol, ret, params)                     \
  api->name = reinterpret_cast<rt_acl_fn_##name>(dlsym(handle, symbol)); \
  if (api->name == nullptr) {                                            \
    *missing = symbol;                                                   \
    return false;                                                        \
  }
  RTENSOR_ACL_ENTRIES(RTENSOR_ACL_RESOLVE)
#undef RTENSOR_ACL_RESOLVE
#define RTENSOR_ACL_RESOLVE_OPTIONAL(name, symbol, ret, params) \
  api->name = reinterpret_cast<rt_acl_fn_##name>(dlsym(handle, symbol));
  RTENSOR_ACL_OPTIONAL_ENTRIES(RTENSOR_ACL_RESOLVE_OPTIONAL)
#undef RTENSOR_ACL_RESOLVE_OPTIONAL
  return true;
}

// Records the backend's init-time variables; called with the runtime's mutex held, right before
// cuInit / aclInit.
inline void snapshot_init_env(int backend, Runtime& rt) {
  std::lock_guard<std::mutex> lock(env_mutex);
  const char* const* names = init_env(backend);
  for (int i = 0; i < MAX_INIT_ENV; i++) {
    const char* v = names[i] ? std::getenv(names[i]) : nullptr;
    rt.env_at_init[i].set = v != nullptr;
    rt.env_at_init[i].value = v ? v : "";
  }
  rt.init_called = true;
}

inline std::string describe_init_env(int backend, const Runtime& rt, int index) {
  const char* name = init_env(backend)[index];
  const EnvSnapshot& e = rt.env_at_init[index];
  return std::string(name) + (e.set ? "='" + e.value + "'" : " unset");
}

inline const char* backend_label(int backend) {
  return backend == BACKEND_CUDA ? "CUDA driver" : backend == BACKEND_ACL ? "Ascend ACL" : "CPU";
}

// Opens and checks a runtime library. Fills status/message; on success leaves the handle open and
// the API resolved. Does not initialise the runtime.
inline int open_runtime(int backend, const char* path, void** handle_out, CudaApi* cuda,
                        AclApi* acl, int* version, std::string* message) {
  dlerror();
  void* handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    *message = std::string(backend_label(backend)) + " library '" + path +
               "' could not be opened: " + (why ? why : "unknown dlopen error");
    return LOAD_LIBRARY_NOT_FOUND;
  }
  std::string missing;
  bool ok = backend == BACKEND_CUDA ? resolve_cuda(handle, cuda, &missing)
                                    : resolve_acl(handle, acl, &missing);
  if (!ok) {
    dlclose(handle);
    if (backend == BACKEND_CUDA) {
      *message = std::string("CUDA driver '") + path + "' does not export " + missing +
                 ": the driver is too old or not the NVIDIA driver API (need CUDA " +
                 std::to_string(RT_CUDA_MIN_DRIVER_VERSION / 1000) + ".0 or newer)";
    } else {
      *message = std::string("Ascend ACL library '") + path + "' does not export " + missing +
                 ": CANN is too old or this is not libascendcl";
    }
    return LOAD_SYMBOL_MISSING;
  }
  if (backend == BACKEND_CUDA) {
    int v = 0;
    CUresult r = cuda->cuDriverGetVersion(&v);
    if (r != RT_CUDA_SUCCESS || v < RT_CUDA_MIN_DRIVER_VERSION) {
      dlclose(handle);
      *message = std::string("CUDA driver '") + path + "' reports version " + std::to_string(v) +
                 "; rtensor needs " + std::to_string(RT_CUDA_MIN_DRIVER_VERSION) +
                 " (CUDA 11.0) or newer";
      return LOAD_DRIVER_TOO_OLD;
    }
    *version = v;
  }
  *handle_out = handle;
  *message = std::string(backend_label(backend)) + " loaded from '" + path + "'";
  return LOAD_OK;
}

inline const char* cuda_error_name(CudaApi& api, CUresult r) {
  const char* s = nullptr;
  if (api.cuGetErrorName == nullptr || api.cuGetErrorName(r, &s) != RT_CUDA_SUCCESS || !s) {
    return "CUDA_ERROR_UNKNOWN";
  }
  return s;
}

inline int cuda_fail(CUresult r) {
  CudaApi& api = runtimes[BACKEND_CUDA].cuda;
  const char* text = nullptr;
  if (api.cuGetErrorString == nullptr || api.cuGetErrorString(r, &text) != RT_CUDA_SUCCESS) {
    text = "unrecognized error code";
  }
  return fail(r, cuda_error_name(api, r), text);
}

// ACL has no call that names an error code: the names rtensor knows come from its table.
inline const char* acl_error_name(int code) {
  switch (code) {
#define RTENSOR_ACL_NAME(name, value) \
  case value:                         \
    return #name;
    RTENSOR_ACL_RESULTS(RTENSOR_ACL_NAME)
#undef RTENSOR_ACL_NAME
    default: return "ACL_ERROR";
  }
}

inline int acl_fail(aclError r) {
  AclApi& api = runtimes[BACKEND_ACL].acl;
  const char* text = api.aclGetRecentErrMsg ? api.aclGetRecentErrMsg() : nullptr;
  return fail(r, acl_error_name(r), text ? text : "no message from aclGetRecentErrMsg");
}

inline int check_cuda(CUresult r) { return r == RT_CUDA_SUCCESS ? 0 : cuda_fail(r); }
inline int check_acl(aclError r) { return r == RT_ACL_SUCCESS ? 0 : acl_fail(r); }

inline int not_loaded(int backend) {
  Runtime& rt = runtimes[backend];
  return fail(RT_E_NOT_LOADED, "RTENSOR_RUNTIME_NOT_LOADED", rt.message.c_str());
}

// Makes the device's primary context current on this thread, retaining it on first use. The
// primary context is the one the CUDA runtime (and the frameworks built on it) use, so memory they
// allocated in this process is addressable here.
inline int cuda_enter(int dev) {
  Runtime& rt = runtimes[BACKEND_CUDA];
  if (rt.status.load() != LOAD_OK) return not_loaded(BACKEND_CUDA);
  if (rt.no_devices) {
    return fail(RT_CUDA_ERROR_INVALID_DEVICE, "CUDA_ERROR_INVALID_DEVICE",
                "no CUDA device is visible to this process");
  }
  if (dev < 0 || dev >= MAX_DEVICES) {
    return fail(RT_E_INVALID_ARGUMENT, "RTENSOR_INVALID_DEVICE", "device ordinal out of range");
  }
  CUcontext ctx = __atomic_load_n(&rt.contexts[dev], __ATOMIC_ACQUIRE);
  if (ctx == nullptr) {
    std::lock_guard<std::mutex> lock(rt.mutex);
    ctx = rt.contexts[dev];
    if (ctx == nullptr) {
      CUdevice device = 0;
      int r = check_cuda(rt.cuda.cuDeviceGet(&device, dev));
      if (r != 0) return r;
      r = check_cuda(rt.cuda.cuDevicePrimaryCtxRetain(&ctx, device));
      if (r != 0) return r;
      __atomic_store_n(&rt.contexts[dev], ctx, __ATOMIC_RELEASE);
    }
  }
  return check_cuda(rt.cuda.cuCtxSetCurrent(ctx));
}

inline thread_local int acl_current_device = -1;
inline thread_local int acl_thread_generation = -1;

// Initialises ACL again if release_devices finalized it.
inline int acl_ready() {
  Runtime& rt = runtimes[BACKEND_ACL];
  if (rt.status.load() != LOAD_OK) return not_loaded(BACKEND_ACL);
  if (!rt.acl_ready.load()) {
    std::lock_guard<std::mutex> lock(rt.mutex);
    if (!rt.acl_ready.load()) {
      aclError init = rt.acl.aclInit(nullptr);
      if (init != RT_ACL_SUCCESS && init != RT_ACL_ERROR_REPEAT_INITIALIZE) return acl_fail(init);
      rt.acl_ready.store(true);
    }
  }
  return 0;
}

// ACL binds a device to the calling thread with aclrtSetDevice; done once per thread and device
// (and again after release_devices finalized ACL, which also re-initialises it on next use).
inline int acl_enter(int dev) {
  Runtime& rt = runtimes[BACKEND_ACL];
  int ready = acl_ready();
  if (ready != 0) return ready;
  int generation = rt.acl_generation.load();
  if (acl_current_device == dev && acl_thread_generation == generation) return 0;
  int r = check_acl(rt.acl.aclrtSetDevice(dev));
  if (r == 0) {
    acl_current_device = dev;
    acl_thread_generation = generation;
  }
  return r;
}

inline int enter(int backend, int dev) {
  switch (backend) {
    case BACKEND_CPU:
      return dev == 0 ? 0 : fail(RT_E_INVALID_ARGUMENT, "RTENSOR_INVALID_DEVICE", "CPU has one device, 0");
    case BACKEND_CUDA: return cuda_enter(dev);
    case BACKEND_ACL: return acl_enter(dev);
    default: return fail(RT_E_INVALID_ARGUMENT, "RTENSOR_INVALID_BACKEND", "unknown backend");
  }
}

inline CudaApi& cu() { return runtimes[BACKEND_CUDA].cuda; }
inline AclApi& acl() { return runtimes[BACKEND_ACL].acl; }

// The CPU backend's streams and events: copies run synchronously; an event holds a time stamp.
struct CpuEvent {
  std::chrono::steady_clock::time_point when;
  bool recorded = false;
};

inline void* to_ptr(uint64_t p) { return reinterpret_cast<void*>(static_cast<uintptr_t>(p)); }

}  // namespace detail

// ---- loading -------------------------------------------------------------------------------------

// Loads a runtime once per process from `path`. Later calls return the first outcome. The CPU
// backend is always loaded.
inline int load_runtime(int backend, const char* path) {
  using namespace detail;
  if (backend == BACKEND_CPU) return LOAD_OK;
  if (backend != BACKEND_CUDA && backend != BACKEND_ACL) return LOAD_LIBRARY_NOT_FOUND;
  Runtime& rt = runtimes[backend];
  std::lock_guard<std::mutex> lock(rt.mutex);
  if (rt.status.load() != LOAD_NOT_ATTEMPTED) return rt.status.load();
  rt.library = path ? path : "";
  int status = open_runtime(backend, rt.library.c_str(), &rt.handle, &rt.cuda, &rt.acl,
                            &rt.driver_version, &rt.message);
  if (status == LOAD_OK) {
    snapshot_init_env(backend, rt);
    if (backend == BACKEND_CUDA) {
      CUresult r = rt.cuda.cuInit(0);
      if (r == RT_CUDA_ERROR_NO_DEVICE) {
        // The driver works but shows this process no device (CUDA_VISIBLE_DEVICES): a runtime
        // with zero devices, not a failed load.
        rt.no_devices = true;
        rt.message += "; no device is visible to this process (cuInit: CUDA_ERROR_NO_DEVICE, " +
                      describe_init_env(backend, rt, 0) + ")";
      } else if (r != RT_CUDA_SUCCESS) {
        rt.message = std::string("cuInit failed: ") + cuda_error_name(rt.cuda, r) + " (" +
                     std::to_string(r) + ")";
        status = LOAD_INIT_FAILED;
      }
    } else {
      aclError r = rt.acl.aclInit(nullptr);
      if (r != RT_ACL_SUCCESS && r != RT_ACL_ERROR_REPEAT_INITIALIZE) {
        rt.message = std::string("aclInit failed: ") + acl_error_name(r) + " (" +
                     std::to_string(r) + ")";
        status = LOAD_INIT_FAILED;
      } else {
        rt.acl_ready.store(true);
      }
    }
  }
  if (status == LOAD_OK) {
    rt.note_host_copy =
        reinterpret_cast<void (*)(size_t)>(dlsym(rt.handle, "fake_note_host_copy"));
  }
  rt.status.store(status);
  return status;
}

inline int load_status(int backend) {
  if (backend == BACKEND_CPU) return LOAD_OK;
  if (backend < 0 || backend >= BACKEND_COUNT) return LOAD_LIBRARY_NOT_FOUND;
  return detail::runtimes[backend].status.load();
}

inline const char* load_message(int backend) {
  if (backend == BACKEND_CPU) return "CPU backend (plain host memory)";
  if (backend < 0 || backend >= BACKEND_COUNT) return "unknown backend";
  return detail::runtimes[backend].message.c_str();
}

inline int driver_version(int backend) {
  if (backend < 0 || backend >= BACKEND_COUNT) return 0;
  return detail::runtimes[backend].driver_version;
}

inline thread_local std::string probe_text;

// Opens a library, checks its entry points and closes it again without installing it: how tests
// and the probe report on a library that is not the one loaded.
inline int probe_library(int backend, const char* path) {
  using namespace detail;
  if (backend != BACKEND_CUDA && backend != BACKEND_ACL) {
    probe_text = "only CUDA and ACL libraries can be probed";
    return LOAD_LIBRARY_NOT_FOUND;
  }
  void* handle = nullptr;
  CudaApi cuda;
  AclApi acl;
  int version = 0;
  int status = open_runtime(backend, path, &handle, &cuda, &acl, &version, &probe_text);
  if (handle != nullptr) dlclose(handle);
  return status;
}

inline const char* probe_message() { return probe_text.c_str(); }

inline const char* last_error_name() { return detail::last_error.name; }
inline const char* last_error_text() { return detail::last_error.text; }

// ---- process environment -------------------------------------------------------------------------
// The variables the device runtimes read live in the C environment of the process (environ), not
// in the JVM's copy behind System.getenv.

// The backend that reads `name` once at initialisation, or -1.
inline int env_guard(const char* name) {
  for (int backend : {BACKEND_CUDA, BACKEND_ACL}) {
    for (int i = 0; i < detail::MAX_INIT_ENV; i++) {
      const char* guarded = detail::init_env(backend)[i];
      if (guarded != nullptr && std::strcmp(guarded, name) == 0) return backend;
    }
  }
  return -1;
}

// Whether cuInit / aclInit has been called in this process through rtensor.
inline int runtime_initialized(int backend) {
  if (backend != BACKEND_CUDA && backend != BACKEND_ACL) return 0;
  detail::Runtime& rt = detail::runtimes[backend];
  std::lock_guard<std::mutex> lock(rt.mutex);
  return rt.init_called ? 1 : 0;
}

// setenv(name, value) (unsetenv when value is null) in the process environment. A variable a
// runtime reads at initialisation (env_guard) is refused with RT_E_ALREADY_INITIALIZED once that
// runtime has initialised, unless the value is the one it initialised with.
inline int set_env(const char* name, const char* value) {
  using namespace detail;
  if (name == nullptr || name[0] == 0 || std::strchr(name, '=') != nullptr) {
    return fail(RT_E_INVALID_ARGUMENT, "RTENSOR_INVALID_ARGUMENT", "invalid variable name");
  }
  int guard = env_guard(name);
  std::unique_lock<std::mutex> runtime_lock;
  if (guard >= 0) {
    Runtime& rt = runtimes[guard];
    runtime_lock = std::unique_lock<std::mutex>(rt.mutex);
    if (rt.init_called) {
      int index = 0;
      while (std::strcmp(init_env(guard)[index], name) != 0) index++;
      const EnvSnapshot& then = rt.env_at_init[index];
      bool same = value == nullptr ? !then.set : then.set && then.value == value;
      if (!same) {
        std::string text = std::string(name) + " cannot change: the " + backend_label(guard) +
                           " in this process initialised (" +
                           (guard == BACKEND_CUDA ? "cuInit" : "aclInit") + ") with " +
                           describe_init_env(guard, rt, index) +
                           " and reads it only then; set it before the runtime's first use, or "
                           "start a new process";
        return fail(RT_E_ALREADY_INITIALIZED, "RTENSOR_RUNTIME_ALREADY_INITIALIZED", text.c_str());
      }
    }
  }
  std::lock_guard<std::mutex> lock(env_mutex);
  int r = value == nullptr ? unsetenv(name) : setenv(name, value, 1);
  if (r != 0) return fail(RT_E_INVALID_ARGUMENT, "RTENSOR_SETENV_FAILED", std::strerror(errno));
  return 0;
}

// Copies the variable's value (NUL-terminated, truncated to length - 1 bytes) into buffer and
// returns its full length in bytes, or -1 when it is unset.
inline int get_env(const char* name, char* buffer, int length) {
  std::lock_guard<std::mutex> lock(detail::env_mutex);
  const char* v = name ? std::getenv(name) : nullptr;
  if (v == nullptr) return -1;
  size_t n = std::strlen(v);
  if (length > 0) std::snprintf(buffer, static_cast<size_t>(length), "%s", v);
  return static_cast<int>(n);
}

// ---- devices -------------------------------------------------------------------------------------

inline int device_count(int backend, int* count) {
  using namespace detail;
  *count = 0;
  if (backend == BACKEND_CPU) {
    *count = 1;
    return 0;
  }
  if (load_status(backend) != LOAD_OK) return not_loaded(backend);
  if (backend == BACKEND_CUDA) {
    if (runtimes[BACKEND_CUDA].no_devices) return 0;
    return check_cuda(cu().cuDeviceGetCount(count));
  }
  uint32_t n = 0;
  int r = check_acl(acl().aclrtGetDeviceCount(&n));
  *count = static_cast<int>(n);
  return r;
}

inline int device_name(int backend, int dev, char* buffer, int length) {
  using namespace detail;
  if (length <= 0) return fail(RT_E_INVALID_ARGUMENT, "RTENSOR_INVALID_ARGUMENT", "empty buffer");
  buffer[0] = 0;
  int r = enter(backend, dev);
  if (r != 0) return r;
  if (backend == BACKEND_CUDA) {
    CUdevice device = 0;
    r = check_cuda(cu().cuDeviceGet(&device, dev));
    if (r != 0) return r;
    r = check_cuda(cu().cuDeviceGetName(buffer, length, device));
  } else if (backend == BACKEND_ACL) {
    std::snprintf(buffer, length, "Ascend NPU %d", dev);
  } else {
    std::snprintf(buffer, length, "host memory");
  }
  buffer[length - 1] = 0;
  return r;
}

// Which physical device an ordinal of this process is, stable across processes whatever their
// visibility variables: the PCI bus id for CUDA ("0000:1A:00.0", cuDeviceGetPCIBusId), "npu:<id>"
// for ACL (aclrtGetPhyDevIdByLogicDevId), "cpu" for the CPU. Needs no context or bound device.
inline int physical_id(int backend, int dev, char* buffer, int length) {
  using namespace detail;
  if (length < 16) return fail(RT_E_INVALID_ARGUMENT, "RTENSOR_INVALID_ARGUMENT", "buffer too small");
  buffer[0] = 0;
  if (backend == BACKEND_CPU) {
    if (dev != 0) return fail(RT_E_INVALID_ARGUMENT, "RTENSOR_INVALID_DEVICE", "CPU has one device, 0");
    std::snprintf(buffer, length, "cpu");
    return 0;
  }
  if (backend == BACKEND_CUDA) {
    if (load_status(backend) != LOAD_OK) return not_loaded(backend);
    if (runtimes[BACKEND_CUDA].no_devices) {
      return fail(RT_CUDA_ERROR_INVALID_DEVICE, "CUDA_ERROR_INVALID_DEVICE",
                  "no CUDA device is visible to this process");
    }
    CUdevice device = 0;
    int r = check_cuda(cu().cuDeviceGet(&device, dev));
    if (r != 0) return r;
    r = check_cuda(cu().cuDeviceGetPCIBusId(buffer, length, device));
    buffer[length - 1] = 0;
    return r;
  }
  if (backend != BACKEND_ACL) {
    return fail(RT_E_INVALID_ARGUMENT, "RTENSOR_INVALID_BACKEND", "unknown backend");
  }
  int r = acl_ready();
  if (r != 0) return r;
  if (acl().aclrtGetPhyDevIdByLogicDevId == nullptr) {
    return fail(RT_E_UNSUPPORTED, "RTENSOR_UNSUPPORTED",
                "this CANN does not export aclrtGetPhyDevIdByLogicDevId (CANN 7 or newer)");
  }
  int32_t physical = -1;
  r = check_acl(acl().aclrtGetPhyDevIdByLogicDevId(dev, &physical));
  if (r == 0) std::snprintf(buffer, length, "npu:%d", static_cast<int>(physical));
  return r;
}

// Total memory of a device: cuDeviceTotalMem (no context needed), the ACL HBM total, or the
// host's physical memory.
inline int device_total_memory(int backend, int dev, size_t* total) {
  using namespace detail;
  *total = 0;
  if (backend == BACKEND_CUDA) {
    if (load_status(backend) != LOAD_OK) return not_loaded(backend);
    CUdevice device = 0;
    int r = check_cuda(cu().cuDeviceGet(&device, dev));
    if (r != 0) return r;
    return check_cuda(cu().cuDeviceTotalMem(total, device));
  }
  int r = enter(backend, dev);
  if (r != 0) return r;
  size_t free_bytes = 0;
  if (backend == BACKEND_ACL) return check_acl(acl().aclrtGetMemInfo(ACL_HBM_MEM, &free_bytes, total));
  *total = static_cast<size_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return 0;
}

// Gives back what rtensor holds per device: the CUDA primary contexts it retained (retained again
// on next use), or for ACL the calling thread's device (aclrtResetDevice) and ACL itself
// (aclFinalize; initialised again on next use). Only when no other thread is using the runtime.
inline int release_devices(int backend) {
  using namespace detail;
  if (backend == BACKEND_CPU) return 0;
  if (load_status(backend) != LOAD_OK) return not_loaded(backend);
  Runtime& rt = runtimes[backend];
  std::lock_guard<std::mutex> lock(rt.mutex);
  if (backend == BACKEND_ACL) {
    if (!rt.acl_ready.load()) return 0;
    if (acl_current_device >= 0 && acl_thread_generation == rt.acl_generation.load()) {
      int r = check_acl(rt.acl.aclrtResetDevice(acl_current_device));
      if (r != 0) return r;
    }
    acl_current_device = -1;
    int r = check_acl(rt.acl.aclFinalize());
    if (r != 0) return r;
    rt.acl_ready.store(false);
    rt.acl_generation.fetch_add(1);
    return 0;
  }
  int first_error = 0;
  for (int dev = 0; dev < MAX_DEVICES; dev++) {
    if (rt.contexts[dev] == nullptr) continue;
    int r = check_cuda(rt.cuda.cuDevicePrimaryCtxRelease(dev));
    if (r == 0) {
      __atomic_store_n(&rt.contexts[dev], static_cast<CUcontext>(nullptr), __ATOMIC_RELEASE);
    } else if (first_error == 0) {
      first_error = r;
    }
  }
  return first_error;
}

// free_total[0] = free bytes, free_total[1] = total bytes.
inline int mem_info(int backend, int dev, size_t* free_total) {
  using namespace detail;
  free_total[0] = free_total[1] = 0;
  int r = enter(backend, dev);
  if (r != 0) return r;
  if (backend == BACKEND_CUDA) return check_cuda(cu().cuMemGetInfo(&free_total[0], &free_total[1]));
  if (backend == BACKEND_ACL) {
    return check_acl(acl().aclrtGetMemInfo(ACL_HBM_MEM, &free_total[0], &free_total[1]));
  }
  long pages = sysconf(_SC_PHYS_PAGES), avail = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  free_total[0] = static_cast<size_t>(avail) * static_cast<size_t>(page);
  free_total[1] = static_cast<size_t>(pages) * static_cast<size_t>(page);
  return 0;
}

// ---- memory --------------------------------------------------------------------------------------

inline int mem_alloc(int backend, int dev, size_t size, uint64_t* out) {
  using namespace detail;
  *out = 0;
  int r = enter(backend, dev);
  if (r != 0) return r;
  if (backend == BACKEND_CUDA) {
    CUdeviceptr p = 0;
    r = check_cuda(cu().cuMemAlloc(&p, size));
    *out = p;
    return r;
  }
  void* p = nullptr;
  if (backend == BACKEND_ACL) {
    r = check_acl(acl().aclrtMalloc(&p, size, ACL_MEM_MALLOC_HUGE_FIRST));
  } else if (posix_memalign(&p, 256, size == 0 ? 1 : size) != 0) {
    r = fail(RT_E_HOST_OUT_OF_MEMORY, "RTENSOR_HOST_OUT_OF_MEMORY", "posix_memalign failed");
    p = nullptr;
  }
  *out = reinterpret_cast<uintptr_t>(p);
  return r;
}

inline int mem_free(int backend, int dev, uint64_t ptr) {
  using namespace detail;
  int r = enter(backend, dev);
  if (r != 0) return r;
  if (backend == BACKEND_CUDA) return check_cuda(cu().cuMemFree(ptr));
  if (backend == BACKEND_ACL) return check_acl(acl().aclrtFree(to_ptr(ptr)));
  std::free(to_ptr(ptr));
  return 0;
}

// Page-locked host memory (cuMemAllocHost / aclrtMallocHost); plain aligned memory on the CPU.
inline int host_alloc(int backend, int dev, size_t size, uint64_t* out) {
  using namespace detail;
  *out = 0;
  int r = enter(backend, dev);
  if (r != 0) return r;
  void* p = nullptr;
  if (backend == BACKEND_CUDA) {
    r = check_cuda(cu().cuMemAllocHost(&p, size));
  } else if (backend == BACKEND_ACL) {
    r = check_acl(acl().aclrtMallocHost(&p, size));
  } else if (posix_memalign(&p, 4096, size == 0 ? 1 : size) != 0) {
    r = fail(RT_E_HOST_OUT_OF_MEMORY, "RTENSOR_HOST_OUT_OF_MEMORY", "posix_memalign failed");
    p = nullptr;
  }
  *out = reinterpret_cast<uintptr_t>(p);
  return r;
}

inline int host_free(int backend, int dev, uint64_t ptr) {
  using namespace detail;
  int r = enter(backend, dev);
  if (r != 0) return r;
  if (backend == BACKEND_CUDA) return check_cuda(cu().cuMemFreeHost(to_ptr(ptr)));
  if (backend == BACKEND_ACL) return check_acl(acl().aclrtFreeHost(to_ptr(ptr)));
  std::free(to_ptr(ptr));
  return 0;
}

// Page-locks existing host memory (CUDA only; a no-op on the CPU backend).
inline int host_register(int backend, int dev, uint64_t ptr, size_t size) {
  using namespace detail;
  int r = enter(backend, dev);
  if (r != 0) return r;
  if (backend == BACKEND_CUDA) {
    return check_cuda(cu().cuMemHostRegister(to_ptr(ptr), size, RT_CU_MEMHOSTREGISTER_PORTABLE));
  }
  if (backend == BACKEND_ACL) {
    return fail(RT_E_UNSUPPORTED, "RTENSOR_UNSUPPORTED", "ACL has no host registration in rtensor");
  }
  return 0;
}

inline int host_unregister(int backend, int dev, uint64_t ptr) {
  using namespace detail;
  int r = enter(backend, dev);
  if (r != 0) return r;
  if (backend == BACKEND_CUDA) return check_cuda(cu().cuMemHostUnregister(to_ptr(ptr)));
  if (backend == BACKEND_ACL) {
    return fail(RT_E_UNSUPPORTED, "RTENSOR_UNSUPPORTED", "ACL has no host registration in rtensor");
  }
  return 0;
}

// ---- inter-process memory (CUDA IPC) ------------------------------------------------------------
// CUDA shares whole allocations between processes: an IPC handle names the allocation that holds a
// pointer, and the process that opens it gets that allocation's base mapped. rtensor exports a
// range as the handle plus the range's offset from the allocation base. Other backends answer
// RT_E_UNSUPPORTED.

constexpr int IPC_HANDLE_BYTES = RT_CU_IPC_HANDLE_SIZE;

inline int ipc_unsupported(int backend) {
  return detail::fail(RT_E_UNSUPPORTED, "RTENSOR_UNSUPPORTED",
                      backend == BACKEND_ACL
                          ? "inter-process memory is not bound for the Ascend ACL backend"
                          : "inter-process memory is only bound for CUDA");
}

// Exports [ptr, ptr + length) of device memory: cuMemGetAddressRange finds the allocation holding
// ptr, cuIpcGetMemHandle makes the handle from its base. Fills handle_out with the
// IPC_HANDLE_BYTES handle bytes and *offset_out with ptr - base. A range that runs past its
// allocation is RT_E_INVALID_ARGUMENT.
inline int ipc_export(int backend, int dev, uint64_t ptr, size_t length, char* handle_out,
                      uint64_t* offset_out) {
  using namespace detail;
  *offset_out = 0;
  if (backend != BACKEND_CUDA) return ipc_unsupported(backend);
  int r = enter(backend, dev);
  if (r != 0) return r;
  CUdeviceptr base = 0;
  size_t size = 0;
  r = check_cuda(cu().cuMemGetAddressRange(&base, &size, ptr));
  if (r != 0) return r;
  uint64_t offset = ptr - base;
  if (offset > size || length > size - offset) {
    std::string text = "the range of " + std::to_string(length) + " bytes at offset " +
                       std::to_string(offset) + " runs past its allocation of " +
                       std::to_string(size) + " bytes";
    return fail(RT_E_INVALID_ARGUMENT, "RTENSOR_INVALID_ARGUMENT", text.c_str());
  }
  CUipcMemHandle handle;
  r = check_cuda(cu().cuIpcGetMemHandle(&handle, base));
  if (r != 0) return r;
  std::memcpy(handle_out, handle.reserved, IPC_HANDLE_BYTES);
  *offset_out = offset;
  return 0;
}

// Maps the allocation an IPC handle names into this process on the device's primary context
// (cuIpcOpenMemHandle with CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS) and returns its base in *base_out.
// When the driver reports the mapping's size (cuMemGetAddressRange) and [offset, offset + length)
// does not fit in it, the mapping is closed again and the answer is RT_E_INVALID_ARGUMENT.
inline int ipc_open(int backend, int dev, const char* handle_bytes, uint64_t offset,
                    size_t length, uint64_t* base_out) {
  using namespace detail;
  *base_out = 0;
  if (backend != BACKEND_CUDA) return ipc_unsupported(backend);
  int r = enter(backend, dev);
  if (r != 0) return r;
  CUipcMemHandle handle;
  std::memcpy(handle.reserved, handle_bytes, IPC_HANDLE_BYTES);
  CUdeviceptr base = 0;
  r = check_cuda(cu().cuIpcOpenMemHandle(&base, handle, RT_CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS));
  if (r != 0) return r;
  CUdeviceptr start = 0;
  size_t size = 0;
  if (cu().cuMemGetAddressRange(&start, &size, base) == RT_CUDA_SUCCESS && start == base &&
      (offset > size || length > size - offset)) {
    cu().cuIpcCloseMemHandle(base);
    std::string text = "the handle names " + std::to_string(length) + " bytes at offset " +
                       std::to_string(offset) + " of an allocation of only " +
                       std::to_string(size) + " bytes";
    return fail(RT_E_INVALID_ARGUMENT, "RTENSOR_INVALID_ARGUMENT", text.c_str());
  }
  *base_out = base;
  return 0;
}

// Unmaps what ipc_open mapped (cuIpcCloseMemHandle on its base).
inline int ipc_close(int backend, int dev, uint64_t base) {
  using namespace detail;
  if (backend != BACKEND_CUDA) return ipc_unsupported(backend);
  int r = enter(backend, dev);
  if (r != 0) return r;
  return check_cuda(cu().cuIpcCloseMemHandle(base));
}

// ---- copies --------------------------------------------------------------------------------------

inline aclrtMemcpyKind acl_kind(int kind) {
  return kind == COPY_D2H   ? ACL_MEMCPY_DEVICE_TO_HOST
         : kind == COPY_H2D ? ACL_MEMCPY_HOST_TO_DEVICE
                            : ACL_MEMCPY_DEVICE_TO_DEVICE;
}

inline int memcpy_sync(int backend, int dev, int kind, uint64_t dst, uint64_t src, size_t bytes) {
  using namespace detail;
  int r = enter(backend, dev);
  if (r != 0) return r;
  if (backend == BACKEND_CUDA) {
    switch (kind) {
      case COPY_D2H: return check_cuda(cu().cuMemcpyDtoH(to_ptr(dst), src, bytes));
      case COPY_H2D: return check_cuda(cu().cuMemcpyHtoD(dst, to_ptr(src), bytes));
      case COPY_D2D: return check_cuda(cu().cuMemcpyDtoD(dst, src, bytes));
      default: return fail(RT_E_INVALID_ARGUMENT, "RTENSOR_INVALID_ARGUMENT", "copy kind");
    }
  }
  if (backend == BACKEND_ACL) {
    return check_acl(acl().aclrtMemcpy(to_ptr(dst), bytes, to_ptr(src), bytes, acl_kind(kind)));
  }
  if (bytes > 0) std::memmove(to_ptr(dst), to_ptr(src), bytes);
  return 0;
}

inline int memcpy_async(int backend, int dev, int kind, uint64_t dst, uint64_t src, size_t bytes,
                        uint64_t stream) {
  using namespace detail;
  int r = enter(backend, dev);
  if (r != 0) return r;
  if (backend == BACKEND_CUDA) {
    CUstream s = reinterpret_cast<CUstream>(to_ptr(stream));
    switch (kind) {
      case COPY_D2H: return check_cuda(cu().cuMemcpyDtoHAsync(to_ptr(dst), src, bytes, s));
      case COPY_H2D: return check_cuda(cu().cuMemcpyHtoDAsync(dst, to_ptr(src), bytes, s));
      case COPY_D2D: return check_cuda(cu().cuMemcpyDtoDAsync(dst, src, bytes, s));
      default: return fail(RT_E_INVALID_ARGUMENT, "RTENSOR_INVALID_ARGUMENT", "copy kind");
    }
  }
  if (backend == BACKEND_ACL) {
    return check_acl(acl().aclrtMemcpyAsync(to_ptr(dst), bytes, to_ptr(src), bytes, acl_kind(kind),
                                            to_ptr(stream)));
  }
  if (bytes > 0) std::memmove(to_ptr(dst), to_ptr(src), bytes);
  return 0;
}

// Fills device memory with a byte value (cuMemsetD8; on ACL through a host buffer and one copy).
inline int memset_d8(int backend, int dev, uint64_t ptr, int value, size_t bytes) {
  using namespace detail;
  int r = enter(backend, dev);
  if (r != 0) return r;
  if (backend == BACKEND_CUDA) {
    return check_cuda(cu().cuMemsetD8(ptr, static_cast<unsigned char>(value), bytes));
  }
  if (backend == BACKEND_ACL) {
    void* host = std::malloc(bytes == 0 ? 1 : bytes);
    if (host == nullptr) return fail(RT_E_HOST_OUT_OF_MEMORY, "RTENSOR_HOST_OUT_OF_MEMORY", "malloc");
    std::memset(host, value, bytes);
    r = check_acl(acl().aclrtMemcpy(to_ptr(ptr), bytes, host, bytes, ACL_MEMCPY_HOST_TO_DEVICE));
    std::free(host);
    return r;
  }
  std::memset(to_ptr(ptr), value, bytes);
  return 0;
}

// Copies between host memory and a runtime's page-locked staging memory (either way), with
// streaming stores (stream_copy_bytes): the one host copy of a staged transfer.
inline void staging_copy(int backend, uint64_t dst, uint64_t src, size_t bytes) {
  using namespace detail;
  stream_copy_bytes(to_ptr(dst), to_ptr(src), bytes);
  if (backend > BACKEND_CPU && backend < BACKEND_COUNT) {
    void (*note)(size_t) = runtimes[backend].note_host_copy;
    if (note != nullptr) note(bytes);
  }
}

// ---- streams and events --------------------------------------------------------------------------

inline int stream_create(int backend, int dev, uint64_t* out) {
  using namespace detail;
  *out = 0;
  int r = enter(backend, dev);
  if (r != 0) return r;
  if (backend == BACKEND_CUDA) {
    CUstream s = nullptr;
    r = check_cuda(cu().cuStreamCreate(&s, RT_CU_STREAM_NON_BLOCKING));
    *out = reinterpret_cast<uintptr_t>(s);
  } else if (backend == BACKEND_ACL) {
    aclrtStream s = nullptr;
    r = check_acl(acl().aclrtCreateStream(&s));
    *out = reinterpret_cast<uintptr_t>(s);
  } else {
    *out = reinterpret_cast<uintptr_t>(new int(0));
  }
  return r;
}

inline int stream_sync(int backend, int dev, uint64_t stream) {
  using namespace detail;
  int r = enter(backend, dev);
  if (r != 0) return r;
  if (backend == BACKEND_CUDA) {
    return check_cuda(cu().cuStreamSynchronize(reinterpret_cast<CUstream>(to_ptr(stream))));
  }
  if (backend == BACKEND_ACL) return check_acl(acl().aclrtSynchronizeStream(to_ptr(stream)));
  return 0;
}

inline int stream_destroy(int backend, int dev, uint64_t stream) {
  using namespace detail;
  int r = enter(backend, dev);
  if (r != 0) return r;
  if (backend == BACKEND_CUDA) {
    return check_cuda(cu().cuStreamDestroy(reinterpret_cast<CUstream>(to_ptr(stream))));
  }
  if (backend == BACKEND_ACL) return check_acl(acl().aclrtDestroyStream(to_ptr(stream)));
  delete static_cast<int*>(to_ptr(stream));
  return 0;
}

inline int events_unsupported() {
  return detail::fail(RT_E_UNSUPPORTED, "RTENSOR_UNSUPPORTED",
                      "events are not bound for the Ascend ACL backend; synchronize the stream");
}

// timing = 0 creates a lighter event that only marks completion (CU_EVENT_DISABLE_TIMING).
inline int event_create(int backend, int dev, int timing, uint64_t* out) {
  using namespace detail;
  *out = 0;
  int r = enter(backend, dev);
  if (r != 0) return r;
  if (backend == BACKEND_CUDA) {
    CUevent e = nullptr;
    r = check_cuda(cu().cuEventCreate(&e, timing ? RT_CU_EVENT_DEFAULT : RT_CU_EVENT_DISABLE_TIMING));
    *out = reinterpret_cast<uintptr_t>(e);
    return r;
  }
  if (backend == BACKEND_ACL) return events_unsupported();
  *out = reinterpret_cast<uintptr_t>(new CpuEvent());
  return 0;
}

inline int event_record(int backend, int dev, uint64_t event, uint64_t stream) {
  using namespace detail;
  int r = enter(backend, dev);
  if (r != 0) return r;
  if (backend == BACKEND_CUDA) {
    return check_cuda(cu().cuEventRecord(reinterpret_cast<CUevent>(to_ptr(event)),
                                         reinterpret_cast<CUstream>(to_ptr(stream))));
  }
  if (backend == BACKEND_ACL) return events_unsupported();
  CpuEvent* e = static_cast<CpuEvent*>(to_ptr(event));
  e->when = std::chrono::steady_clock::now();
  e->recorded = true;
  return 0;
}

inline int event_sync(int backend, int dev, uint64_t event) {
  using namespace detail;
  int r = enter(backend, dev);
  if (r != 0) return r;
  if (backend == BACKEND_CUDA) {
    return check_cuda(cu().cuEventSynchronize(reinterpret_cast<CUevent>(to_ptr(event))));
  }
  if (backend == BACKEND_ACL) return events_unsupported();
  return 0;
}

// 0 when the work before the event is done, RT_E_NOT_READY while it is pending.
inline int event_query(int backend, int dev, uint64_t event) {
  using namespace detail;
  int r = enter(backend, dev);
  if (r != 0) return r;
  if (backend == BACKEND_CUDA) {
    CUresult q = cu().cuEventQuery(reinterpret_cast<CUevent>(to_ptr(event)));
    if (q == RT_CUDA_ERROR_NOT_READY) return RT_E_NOT_READY;
    return check_cuda(q);
  }
  if (backend == BACKEND_ACL) return events_unsupported();
  return 0;
}

inline int event_elapsed(int backend, int dev, uint64_t start, uint64_t end, float* millis) {
  using namespace detail;
  *millis = 0;
  int r = enter(backend, dev);
  if (r != 0) return r;
  if (backend == BACKEND_CUDA) {
    return check_cuda(cu().cuEventElapsedTime(millis, reinterpret_cast<CUevent>(to_ptr(start)),
                                              reinterpret_cast<CUevent>(to_ptr(end))));
  }
  if (backend == BACKEND_ACL) return events_unsupported();
  CpuEvent* a = static_cast<CpuEvent*>(to_ptr(start));
  CpuEvent* b = static_cast<CpuEvent*>(to_ptr(end));
  if (!a->recorded || !b->recorded) {
    return fail(RT_E_INVALID_ARGUMENT, "RTENSOR_EVENT_NOT_RECORDED", "event was never recorded");
  }
  *millis = std::chrono::duration<float, std::milli>(b->when - a->when).count();
  return 0;
}

inline int event_destroy(int backend, int dev, uint64_t event) {
  using namespace detail;
  int r = enter(backend, dev);
  if (r != 0) return r;
  if (backend == BACKEND_CUDA) {
    return check_cuda(cu().cuEventDestroy(reinterpret_cast<CUevent>(to_ptr(event))));
  }
  if (backend == BACKEND_ACL) return events_unsupported();
  delete static_cast<CpuEvent*>(to_ptr(event));
  return 0;
}

// ---- raw copies: the baseline of benchmarks -----------------------------------------------------
// A copy made the way a program calling the runtime itself makes it: the device's context made
// current, one asynchronous copy queued on a stream and the stream synchronized, each a direct call
// of the entry point the loader resolved. None of rtensor's own steps are in between (no argument
// checks, no context bookkeeping, no event, no ticket; error text only when the runtime fails).
// Benchmarks time rtensor's copies against it. The caller has checked the ranges (Java does).

// The handle raw_copy_sync takes for a device: CUDA's primary context of `dev` (retained, as any
// rtensor call on the device retains it); 0 for the other backends.
inline int raw_context(int backend, int dev, uint64_t* out) {
  using namespace detail;
  *out = 0;
  int r = enter(backend, dev);
  if (r != 0 || backend != BACKEND_CUDA) return r;
  *out = reinterpret_cast<uintptr_t>(
      __atomic_load_n(&runtimes[BACKEND_CUDA].contexts[dev], __ATOMIC_ACQUIRE));
  return 0;
}

// CUDA: cuCtxSetCurrent(context), cuMemcpyDtoHAsync / cuMemcpyHtoDAsync / cuMemcpyDtoDAsync on
// `stream`, cuStreamSynchronize(stream). ACL: the thread's device bound as rtensor binds it (once
// per thread), aclrtMemcpyAsync, aclrtSynchronizeStream. CPU: memmove.
inline int raw_copy_sync(int backend, int dev, int kind, uint64_t context, uint64_t dst,
                         uint64_t src, size_t bytes, uint64_t stream) {
  using namespace detail;
  if (backend == BACKEND_CUDA) {
    CudaApi& api = cu();
    CUstream s = reinterpret_cast<CUstream>(to_ptr(stream));
    CUresult r = api.cuCtxSetCurrent(reinterpret_cast<CUcontext>(to_ptr(context)));
    if (r == RT_CUDA_SUCCESS) {
      switch (kind) {
        case COPY_D2H: r = api.cuMemcpyDtoHAsync(to_ptr(dst), src, bytes, s); break;
        case COPY_H2D: r = api.cuMemcpyHtoDAsync(dst, to_ptr(src), bytes, s); break;
        case COPY_D2D: r = api.cuMemcpyDtoDAsync(dst, src, bytes, s); break;
        default: return fail(RT_E_INVALID_ARGUMENT, "RTENSOR_INVALID_ARGUMENT", "copy kind");
      }
    }
    if (r == RT_CUDA_SUCCESS) r = api.cuStreamSynchronize(s);
    return r == RT_CUDA_SUCCESS ? 0 : cuda_fail(r);
  }
  if (backend == BACKEND_ACL) {
    int r = acl_enter(dev);
    if (r != 0) return r;
    aclError e = acl().aclrtMemcpyAsync(to_ptr(dst), bytes, to_ptr(src), bytes, acl_kind(kind),
                                        to_ptr(stream));
    if (e == RT_ACL_SUCCESS) e = acl().aclrtSynchronizeStream(to_ptr(stream));
    return check_acl(e);
  }
  if (backend == BACKEND_CPU) {
    if (bytes > 0) std::memmove(to_ptr(dst), to_ptr(src), bytes);
    return 0;
  }
  return fail(RT_E_INVALID_ARGUMENT, "RTENSOR_INVALID_BACKEND", "unknown backend");
}

// ---- test hooks ----------------------------------------------------------------------------------
// Control entry points that only the fake runtimes (native/src/test/cpp) export. Looked up in the
// loaded library by name; a real runtime does not have them and the hooks return RT_E_UNSUPPORTED.

inline void* fake_symbol(int backend, const char* name) {
  if (backend != BACKEND_CUDA && backend != BACKEND_ACL) return nullptr;
  detail::Runtime& rt = detail::runtimes[backend];
  if (rt.status.load() != LOAD_OK || rt.handle == nullptr) return nullptr;
  return dlsym(rt.handle, name);
}

// 1 when the loaded library of the backend is one of the project's fake runtimes (it exports their
// control entry points), else 0.
inline int is_fake(int backend) { return fake_symbol(backend, "fake_reset") != nullptr ? 1 : 0; }

inline int fake_inject_error(int backend, const char* function, int code, int after_calls) {
  auto fn = reinterpret_cast<int (*)(const char*, int, int)>(fake_symbol(backend, "fake_inject_error"));
  return fn ? fn(function, code, after_calls) : RT_E_UNSUPPORTED;
}

inline long long fake_call_count(int backend, const char* function) {
  auto fn = reinterpret_cast<long long (*)(const char*)>(fake_symbol(backend, "fake_call_count"));
  return fn ? fn(function) : static_cast<long long>(RT_E_UNSUPPORTED);
}

inline long long fake_live_bytes(int backend, int kind) {
  auto fn = reinterpret_cast<long long (*)(int)>(fake_symbol(backend, "fake_live_bytes"));
  return fn ? fn(kind) : static_cast<long long>(RT_E_UNSUPPORTED);
}

// Bytes the fake has copied, by counter (see fake::CopyCounter): 0 host-to-device, 1
// device-to-host, 2 device-to-device, 3 host-to-host, 4 host-to-device from pageable memory, 5
// device-to-host into pageable memory.
inline long long fake_copied_bytes(int backend, int counter) {
  auto fn = reinterpret_cast<long long (*)(int)>(fake_symbol(backend, "fake_copied_bytes"));
  return fn ? fn(counter) : static_cast<long long>(RT_E_UNSUPPORTED);
}

inline int fake_set_copy_delay_us(int backend, int micros) {
  auto fn = reinterpret_cast<int (*)(int)>(fake_symbol(backend, "fake_set_copy_delay_us"));
  return fn ? fn(micros) : RT_E_UNSUPPORTED;
}

// The fake's reading of a visibility variable (its CUDA_VISIBLE_DEVICES or
// ASCEND_RT_VISIBLE_DEVICES rules) on a machine of `physical_count` devices: fills out with the
// visible physical devices in ordinal order and returns how many (at most max).
inline int fake_parse_visible(int backend, const char* value, int physical_count, int* out, int max) {
  auto fn = reinterpret_cast<int (*)(const char*, int, int*, int)>(
      fake_symbol(backend, "fake_parse_visible"));
  return fn ? fn(value, physical_count, out, max) : RT_E_UNSUPPORTED;
}

// The physical device holding the fake device allocation that contains ptr, or -1.
inline int fake_physical_device_of(int backend, uint64_t ptr) {
  auto fn = reinterpret_cast<int (*)(uint64_t)>(fake_symbol(backend, "fake_physical_device_of"));
  return fn ? fn(ptr) : RT_E_UNSUPPORTED;
}

// How many IPC mappings the fake CUDA driver holds open in this process (opens not yet closed).
inline long long fake_ipc_open_mappings(int backend) {
  auto fn = reinterpret_cast<long long (*)()>(fake_symbol(backend, "fake_ipc_open_mappings"));
  return fn ? fn() : static_cast<long long>(RT_E_UNSUPPORTED);
}

inline int fake_reset(int backend) {
  auto fn = reinterpret_cast<int (*)()>(fake_symbol(backend, "fake_reset"));
  return fn ? fn() : RT_E_UNSUPPORTED;
}

}  // namespace rtensor
