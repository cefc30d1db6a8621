// A fake CUDA driver for the CPU-only tests: exports exactly the driver entry points rtensor's loader
// resolves (rtensor_cuda_api.h), each checked against the loader's function-pointer type at compile
// time, backed by host memory. Built by the test build into target/fake/libfakecuda.so.
//
// Behaviour kept from the real driver: nothing works before cuInit (CUDA_ERROR_NOT_INITIALIZED);
// memory and stream calls need a current context (CUDA_ERROR_INVALID_CONTEXT); device pointers that
// are not inside a live cuMemAlloc allocation are refused (CUDA_ERROR_INVALID_VALUE); asynchronous
// copies run in order on the stream's worker thread and only an event or a stream synchronize
// waits for them. cuInit reads CUDA_VISIBLE_DEVICES once, as the driver does (see
// fake::parse_cuda_visible): device ordinals are the visible physical devices in that order, each
// with its own PCI bus id ("0000:1<physical>:00.0", hexadecimal) and its own memory, and cuInit
// answers CUDA_ERROR_NO_DEVICE when none is visible. The machine has RTENSOR_FAKE_DEVICE_COUNT
// physical devices, 2 by default. Variants: -DFAKE_DRIVER_VERSION=10020 (a driver that is too
// old), -DFAKE_OMIT_V2_ASYNC (a driver without cuMemcpyDtoHAsync_v2).
//
// IPC works across real processes: every cuMemAlloc allocation is a memfd (fake_runtime_common.h);
// cuIpcGetMemHandle writes the exporting pid and that memfd's descriptor into the handle, and
// cuIpcOpenMemHandle in another process of the same user maps /proc/<pid>/fd/<fd>. What it answers
// follows the driver (see each entry).
#include <atomic>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <type_traits>

#include "fake_runtime_common.h"
#include "rtensor_cuda_api.h"

#ifndef FAKE_DRIVER_VERSION
#define FAKE_DRIVER_VERSION 12040
#endif

// Fails to compile when an exported fake does not have the loader's documented signature.
#define FAKE_CHECK(entry, symbol)                                                        \
  static_assert(std::is_same<decltype(&symbol), rt_cuda_fn_##entry>::value,              \
                #symbol " does not match the declared signature of " #entry);

// The fake's context: the struct the opaque CUcontext handle points to.
struct CUctx_st {
  int device;    // the ordinal
  int physical;  // the physical device it maps to
};

namespace {

constexpr int kDefaultPhysicalDevices = 2;
std::atomic<bool> initialized{false};
std::mutex init_mutex;
bool devices_read = false;
// Ordinal -> physical device, fixed by the first cuInit.
int visible[fake::kMaxPhysical];
int visible_count = 0;
CUctx_st contexts[fake::kMaxPhysical];
std::atomic<int> retained[fake::kMaxPhysical];
thread_local CUctx_st* current = nullptr;

bool valid_device(CUdevice dev) { return dev >= 0 && dev < visible_count; }

// The common prologue: count, injected error, initialisation, and (when asked) a current context.
CUresult begin(const char* name, bool needs_context) {
  int injected = fake::on_call(name);
  if (injected != 0) return injected;
  if (!initialized.load()) return RT_CUDA_ERROR_NOT_INITIALIZED;
  if (needs_context && current == nullptr) return RT_CUDA_ERROR_INVALID_CONTEXT;
  return RT_CUDA_SUCCESS;
}

bool device_range(CUdeviceptr p, size_t n) {
  return fake::contains(fake::DEVICE, static_cast<uintptr_t>(p), n);
}

void* host(CUdeviceptr p) { return reinterpret_cast<void*>(static_cast<uintptr_t>(p)); }

struct CUstream_impl {
  fake::Stream stream;
};

// Runs work on a stream, or at once on the default (null) stream.
void submit(CUstream s, std::function<void()> work) {
  if (s == nullptr) {
    work();
  } else {
    reinterpret_cast<CUstream_impl*>(s)->stream.submit(std::move(work));
  }
}

}  // namespace

extern "C" {

CUresult cuInit(unsigned int flags) {
  int injected = fake::on_call("cuInit");
  if (injected != 0) return injected;
  if (flags != 0) return RT_CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(init_mutex);
  if (!devices_read) {
    // The driver reads the variable once per process, at its first initialisation.
    int count = fake::physical_count(kDefaultPhysicalDevices);
    std::vector<int> shown = fake::parse_cuda_visible(std::getenv("CUDA_VISIBLE_DEVICES"), count);
    visible_count = static_cast<int>(shown.size());
    for (int i = 0; i < visible_count; i++) {
      visible[i] = shown[i];
      contexts[i] = CUctx_st{i, shown[i]};
    }
    devices_read = true;
  }
  if (visible_count == 0) return RT_CUDA_ERROR_NO_DEVICE;
  initialized = true;
  return RT_CUDA_SUCCESS;
}
FAKE_CHECK(cuInit, cuInit)

CUresult cuDriverGetVersion(int* version) {
  fake::on_call("cuDriverGetVersion");
  if (version == nullptr) return RT_CUDA_ERROR_INVALID_VALUE;
  *version = FAKE_DRIVER_VERSION;
  return RT_CUDA_SUCCESS;
}
FAKE_CHECK(cuDriverGetVersion, cuDriverGetVersion)

CUresult cuDeviceGetCount(int* count) {
  CUresult r = begin("cuDeviceGetCount", false);
  if (r != 0) return r;
  *count = visible_count;
  return RT_CUDA_SUCCESS;
}
FAKE_CHECK(cuDeviceGetCount, cuDeviceGetCount)

CUresult cuDeviceGet(CUdevice* device, int ordinal) {
  CUresult r = begin("cuDeviceGet", false);
  if (r != 0) return r;
  if (!valid_device(ordinal)) return RT_CUDA_ERROR_INVALID_DEVICE;
  *device = ordinal;
  return RT_CUDA_SUCCESS;
}
FAKE_CHECK(cuDeviceGet, cuDeviceGet)

CUresult cuDeviceGetName(char* name, int len, CUdevice dev) {
  CUresult r = begin("cuDeviceGetName", false);
  if (r != 0) return r;
  if (!valid_device(dev)) return RT_CUDA_ERROR_INVALID_DEVICE;
  std::snprintf(name, len, "rtensor fake CUDA device %d", dev);
  return RT_CUDA_SUCCESS;
}
FAKE_CHECK(cuDeviceGetName, cuDeviceGetName)

CUresult cuDeviceGetPCIBusId(char* pci_bus_id, int len, CUdevice dev) {
  CUresult r = begin("cuDeviceGetPCIBusId", false);
  if (r != 0) return r;
  if (pci_bus_id == nullptr || len <= 0) return RT_CUDA_ERROR_INVALID_VALUE;
  if (!valid_device(dev)) return RT_CUDA_ERROR_INVALID_DEVICE;
  // [domain]:[bus]:[device].[function] in hexadecimal; one bus per physical device.
  std::snprintf(pci_bus_id, len, "0000:%02X:00.0", 0x10 + visible[dev]);
  return RT_CUDA_SUCCESS;
}
FAKE_CHECK(cuDeviceGetPCIBusId, cuDeviceGetPCIBusId)

CUresult cuDeviceTotalMem_v2(size_t* bytes, CUdevice dev) {
  CUresult r = begin("cuDeviceTotalMem_v2", false);
  if (r != 0) return r;
  if (!valid_device(dev)) return RT_CUDA_ERROR_INVALID_DEVICE;
  size_t used = 0;
  fake::device_usage(visible[dev], &used, bytes);
  return RT_CUDA_SUCCESS;
}
FAKE_CHECK(cuDeviceTotalMem, cuDeviceTotalMem_v2)

CUresult cuDevicePrimaryCtxRetain(CUcontext* pctx, CUdevice dev) {
  CUresult r = begin("cuDevicePrimaryCtxRetain", false);
  if (r != 0) return r;
  if (!valid_device(dev)) return RT_CUDA_ERROR_INVALID_DEVICE;
  retained[dev]++;
  *pctx = &contexts[dev];
  return RT_CUDA_SUCCESS;
}
FAKE_CHECK(cuDevicePrimaryCtxRetain, cuDevicePrimaryCtxRetain)

CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev) {
  CUresult r = begin("cuDevicePrimaryCtxRelease_v2", false);
  if (r != 0) return r;
  if (!valid_device(dev)) return RT_CUDA_ERROR_INVALID_DEVICE;
  if (retained[dev].load() <= 0) return RT_CUDA_ERROR_INVALID_CONTEXT;
  retained[dev]--;
  return RT_CUDA_SUCCESS;
}
FAKE_CHECK(cuDevicePrimaryCtxRelease, cuDevicePrimaryCtxRelease_v2)

CUresult cuCtxSetCurrent(CUcontext ctx) {
  CUresult r = begin("cuCtxSetCurrent", false);
  if (r != 0) return r;
  current = ctx;
  return RT_CUDA_SUCCESS;
}
FAKE_CHECK(cuCtxSetCurrent, cuCtxSetCurrent)

CUresult cuMemGetInfo_v2(size_t* free_bytes, size_t* total_bytes) {
  CUresult r = begin("cuMemGetInfo_v2", true);
  if (r != 0) return r;
  size_t used = 0;
  fake::device_usage(current->physical, &used, total_bytes);
  *free_bytes = *total_bytes - used;
  return RT_CUDA_SUCCESS;
}
FAKE_CHECK(cuMemGetInfo, cuMemGetInfo_v2)

CUresult cuMemAlloc_v2(CUdeviceptr* dptr, size_t bytesize) {
  CUresult r = begin("cuMemAlloc_v2", true);
  if (r != 0) return r;
  if (bytesize == 0) return RT_CUDA_ERROR_INVALID_VALUE;
  void* p = fake::allocate(fake::DEVICE, bytesize, current->physical);
  if (p == nullptr) return RT_CUDA_ERROR_OUT_OF_MEMORY;
  *dptr = reinterpret_cast<uintptr_t>(p);
  return RT_CUDA_SUCCESS;
}
FAKE_CHECK(cuMemAlloc, cuMemAlloc_v2)

CUresult cuMemFree_v2(CUdeviceptr dptr) {
  CUresult r = begin("cuMemFree_v2", true);
  if (r != 0) return r;
  return fake::release(fake::DEVICE, host(dptr)) ? RT_CUDA_SUCCESS : RT_CUDA_ERROR_INVALID_VALUE;
}
FAKE_CHECK(cuMemFree, cuMemFree_v2)

CUresult cuMemAllocHost_v2(void** pp, size_t bytesize) {
  CUresult r = begin("cuMemAllocHost_v2", true);
  if (r != 0) return r;
  void* p = fake::allocate(fake::PINNED, bytesize);
  if (p == nullptr) return RT_CUDA_ERROR_OUT_OF_MEMORY;
  *pp = p;
  return RT_CUDA_SUCCESS;
}
FAKE_CHECK(cuMemAllocHost, cuMemAllocHost_v2)

CUresult cuMemFreeHost(void* p) {
  CUresult r = begin("cuMemFreeHost", true);
  if (r != 0) return r;
  return fake::release(fake::PINNED, p) ? RT_CUDA_SUCCESS : RT_CUDA_ERROR_INVALID_VALUE;
}
FAKE_CHECK(cuMemFreeHost, cuMemFreeHost)

CUresult cuMemHostRegister_v2(void* p, size_t bytesize, unsigned int flags) {
  CUresult r = begin("cuMemHostRegister_v2", true);
  if (r != 0) return r;
  if (p == nullptr || bytesize == 0 || (flags & ~0xFu) != 0) return RT_CUDA_ERROR_INVALID_VALUE;
  return fake::track(fake::REGISTERED, p, bytesize) ? RT_CUDA_SUCCESS
                                                     : RT_CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED;
}
FAKE_CHECK(cuMemHostRegister, cuMemHostRegister_v2)

CUresult cuMemHostUnregister(void* p) {
  CUresult r = begin("cuMemHostUnregister", true);
  if (r != 0) return r;
  return fake::release(fake::REGISTERED, p) ? RT_CUDA_SUCCESS
                                             : RT_CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED;
}
FAKE_CHECK(cuMemHostUnregister, cuMemHostUnregister)

CUresult cuMemcpyDtoH_v2(void* dst, CUdeviceptr src, size_t bytes) {
  CUresult r = begin("cuMemcpyDtoH_v2", true);
  if (r != 0) return r;
  if (dst == nullptr || !device_range(src, bytes)) return RT_CUDA_ERROR_INVALID_VALUE;
  fake::count_copy(fake::COPIED_D2H, dst, bytes);
  fake::copy_now(dst, host(src), bytes);
  return RT_CUDA_SUCCESS;
}
FAKE_CHECK(cuMemcpyDtoH, cuMemcpyDtoH_v2)

CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void* src, size_t bytes) {
  CUresult r = begin("cuMemcpyHtoD_v2", true);
  if (r != 0) return r;
  if (src == nullptr || !device_range(dst, bytes)) return RT_CUDA_ERROR_INVALID_VALUE;
  fake::count_copy(fake::COPIED_H2D, src, bytes);
  fake::copy_now(host(dst), src, bytes);
  return RT_CUDA_SUCCESS;
}
FAKE_CHECK(cuMemcpyHtoD, cuMemcpyHtoD_v2)

CUresult cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, size_t bytes) {
  CUresult r = begin("cuMemcpyDtoD_v2", true);
  if (r != 0) return r;
  if (!device_range(src, bytes) || !device_range(dst, bytes)) return RT_CUDA_ERROR_INVALID_VALUE;
  fake::count_copy(fake::COPIED_D2D, nullptr, bytes);
  fake::copy_now(host(dst), host(src), bytes);
  return RT_CUDA_SUCCESS;
}
FAKE_CHECK(cuMemcpyDtoD, cuMemcpyDtoD_v2)

#ifndef FAKE_OMIT_V2_ASYNC
CUresult cuMemcpyDtoHAsync_v2(void* dst, CUdeviceptr src, size_t bytes, CUstream stream) {
  CUresult r = begin("cuMemcpyDtoHAsync_v2", true);
  if (r != 0) return r;
  if (dst == nullptr || !device_range(src, bytes)) return RT_CUDA_ERROR_INVALID_VALUE;
  fake::count_copy(fake::COPIED_D2H, dst, bytes);
  submit(stream, [=] { fake::copy_now(dst, host(src), bytes); });
  return RT_CUDA_SUCCESS;
}
FAKE_CHECK(cuMemcpyDtoHAsync, cuMemcpyDtoHAsync_v2)
#endif

CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void* src, size_t bytes, CUstream stream) {
  CUresult r = begin("cuMemcpyHtoDAsync_v2", true);
  if (r != 0) return r;
  if (src == nullptr || !device_range(dst, bytes)) return RT_CUDA_ERROR_INVALID_VALUE;
  fake::count_copy(fake::COPIED_H2D, src, bytes);
  submit(stream, [=] { fake::copy_now(host(dst), src, bytes); });
  return RT_CUDA_SUCCESS;
}
FAKE_CHECK(cuMemcpyHtoDAsync, cuMemcpyHtoDAsync_v2)

CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream stream) {
  CUresult r = begin("cuMemcpyDtoDAsync_v2", true);
  if (r != 0) return r;
  if (!device_range(src, bytes) || !device_range(dst, bytes)) return RT_CUDA_ERROR_INVALID_VALUE;
  fake::count_copy(fake::COPIED_D2D, nullptr, bytes);
  submit(stream, [=] { fake::copy_now(host(dst), host(src), bytes); });
  return RT_CUDA_SUCCESS;
}
FAKE_CHECK(cuMemcpyDtoDAsync, cuMemcpyDtoDAsync_v2)

CUresult cuMemsetD8_v2(CUdeviceptr dst, unsigned char value, size_t count) {
  CUresult r = begin("cuMemsetD8_v2", true);
  if (r != 0) return r;
  if (!device_range(dst, count)) return RT_CUDA_ERROR_INVALID_VALUE;
  std::memset(host(dst), value, count);
  return RT_CUDA_SUCCESS;
}
FAKE_CHECK(cuMemsetD8, cuMemsetD8_v2)

CUresult cuStreamCreate(CUstream* stream, unsigned int flags) {
  CUresult r = begin("cuStreamCreate", true);
  if (r != 0) return r;
  if (flags > 1) return RT_CUDA_ERROR_INVALID_VALUE;
  *stream = reinterpret_cast<CUstream>(new CUstream_impl());
  return RT_CUDA_SUCCESS;
}
FAKE_CHECK(cuStreamCreate, cuStreamCreate)

CUresult cuStreamSynchronize(CUstream stream) {
  CUresult r = begin("cuStreamSynchronize", true);
  if (r != 0) return r;
  if (stream != nullptr) reinterpret_cast<CUstream_impl*>(stream)->stream.wait_idle();
  return RT_CUDA_SUCCESS;
}
FAKE_CHECK(cuStreamSynchronize, cuStreamSynchronize)

CUresult cuStreamDestroy_v2(CUstream stream) {
  CUresult r = begin("cuStreamDestroy_v2", true);
  if (r != 0) return r;
  if (stream == nullptr) return RT_CUDA_ERROR_INVALID_HANDLE;
  delete reinterpret_cast<CUstream_impl*>(stream);  // drains pending work first
  return RT_CUDA_SUCCESS;
}
FAKE_CHECK(cuStreamDestroy, cuStreamDestroy_v2)

CUresult cuEventCreate(CUevent* event, unsigned int flags) {
  CUresult r = begin("cuEventCreate", true);
  if (r != 0) return r;
  if (flags > 0xF) return RT_CUDA_ERROR_INVALID_VALUE;
  *event = reinterpret_cast<CUevent>(new fake::Event((flags & RT_CU_EVENT_DISABLE_TIMING) == 0));
  return RT_CUDA_SUCCESS;
}
FAKE_CHECK(cuEventCreate, cuEventCreate)

CUresult cuEventRecord(CUevent event, CUstream stream) {
  CUresult r = begin("cuEventRecord", true);
  if (r != 0) return r;
  if (event == nullptr) return RT_CUDA_ERROR_INVALID_HANDLE;
  fake::Event* e = reinterpret_cast<fake::Event*>(event);
  e->arm();
  submit(stream, [e] { e->complete(); });
  return RT_CUDA_SUCCESS;
}
FAKE_CHECK(cuEventRecord, cuEventRecord)

CUresult cuEventSynchronize(CUevent event) {
  CUresult r = begin("cuEventSynchronize", true);
  if (r != 0) return r;
  if (event == nullptr) return RT_CUDA_ERROR_INVALID_HANDLE;
  reinterpret_cast<fake::Event*>(event)->wait();
  return RT_CUDA_SUCCESS;
}
FAKE_CHECK(cuEventSynchronize, cuEventSynchronize)

CUresult cuEventQuery(CUevent event) {
  CUresult r = begin("cuEventQuery", true);
  if (r != 0) return r;
  if (event == nullptr) return RT_CUDA_ERROR_INVALID_HANDLE;
  return reinterpret_cast<fake::Event*>(event)->is_done() ? RT_CUDA_SUCCESS
                                                           : RT_CUDA_ERROR_NOT_READY;
}
FAKE_CHECK(cuEventQuery, cuEventQuery)

CUresult cuEventElapsedTime(float* millis, CUevent start, CUevent end) {
  CUresult r = begin("cuEventElapsedTime", true);
  if (r != 0) return r;
  fake::Event* a = reinterpret_cast<fake::Event*>(start);
  fake::Event* b = reinterpret_cast<fake::Event*>(end);
  if (a == nullptr || b == nullptr) return RT_CUDA_ERROR_INVALID_HANDLE;
  if (!a->recorded || !b->recorded || !a->timing || !b->timing) return RT_CUDA_ERROR_INVALID_HANDLE;
  if (!a->is_done() || !b->is_done()) return RT_CUDA_ERROR_NOT_READY;
  *millis = std::chrono::duration<float, std::milli>(b->when - a->when).count();
  return RT_CUDA_SUCCESS;
}
FAKE_CHECK(cuEventElapsedTime, cuEventElapsedTime)

CUresult cuEventDestroy_v2(CUevent event) {
  CUresult r = begin("cuEventDestroy_v2", true);
  if (r != 0) return r;
  if (event == nullptr) return RT_CUDA_ERROR_INVALID_HANDLE;
  fake::Event* e = reinterpret_cast<fake::Event*>(event);
  e->wait();  // the marker may still be queued; the real driver defers the release likewise
  delete e;
  return RT_CUDA_SUCCESS;
}
FAKE_CHECK(cuEventDestroy, cuEventDestroy_v2)

// ---- addresses and IPC ----

// cuMemGetAddressRange: the allocation (or IPC mapping) holding dptr. A pointer in none is
// CUDA_ERROR_NOT_FOUND, one of the codes the reference documents for the call; null outputs are
// ignored, as documented.
CUresult cuMemGetAddressRange_v2(CUdeviceptr* base, size_t* size, CUdeviceptr dptr) {
  CUresult r = begin("cuMemGetAddressRange_v2", true);
  if (r != 0) return r;
  uintptr_t start = 0;
  size_t bytes = 0;
  if (!fake::device_allocation_of(static_cast<uintptr_t>(dptr), &start, &bytes, nullptr)) {
    return RT_CUDA_ERROR_NOT_FOUND;
  }
  if (base != nullptr) *base = start;
  if (size != nullptr) *size = bytes;
  return RT_CUDA_SUCCESS;
}
FAKE_CHECK(cuMemGetAddressRange, cuMemGetAddressRange_v2)

namespace {

// The fake's 64 handle bytes: which process exported which memfd.
struct FakeIpcHandle {
  uint32_t magic;
  uint32_t version;
  int64_t pid;
  int32_t fd;
  int32_t physical;
  uint64_t size;
  uint64_t serial;  // of the allocation in the exporter (its memfd's name carries it)
  char unused[24];
};
static_assert(sizeof(FakeIpcHandle) == RT_CU_IPC_HANDLE_SIZE, "the fake's handle is not 64 bytes");
constexpr uint32_t kIpcMagic = 0x49465452;  // "RTFI"
constexpr uint32_t kIpcVersion = 1;

// Opens the exporter's memfd through /proc and checks that the descriptor still names the exported
// allocation (the number may have been reused after cuMemFree). -1 when it does not.
int open_exported(const FakeIpcHandle& h) {
  std::string path = "/proc/" + std::to_string(h.pid) + "/fd/" + std::to_string(h.fd);
  char link[PATH_MAX];
  ssize_t n = readlink(path.c_str(), link, sizeof(link) - 1);
  if (n <= 0) return -1;
  link[n] = 0;
  std::string expected = "/memfd:" + fake::backing_name(h.pid, h.serial);
  if (std::strncmp(link, expected.c_str(), expected.size()) != 0 ||
      (link[expected.size()] != 0 && link[expected.size()] != ' ')) {
    return -1;
  }
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat st;
  if (fstat(fd, &st) != 0 || static_cast<uint64_t>(st.st_size) < h.size) {
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

// Exports the allocation holding dptr (the reference asks for its base; the fake, like the driver
// in practice, takes any pointer into it). A pointer in no live cuMemAlloc allocation of this
// process, an IPC mapping included, is CUDA_ERROR_INVALID_VALUE.
CUresult cuIpcGetMemHandle(CUipcMemHandle* handle, CUdeviceptr dptr) {
  CUresult r = begin("cuIpcGetMemHandle", true);
  if (r != 0) return r;
  if (handle == nullptr) return RT_CUDA_ERROR_INVALID_VALUE;
  FakeIpcHandle h{};
  if (!fake::exportable(static_cast<uintptr_t>(dptr), &h.fd, &h.serial, &h.size, &h.physical)) {
    return RT_CUDA_ERROR_INVALID_VALUE;
  }
  h.magic = kIpcMagic;
  h.version = kIpcVersion;
  h.pid = getpid();
  std::memcpy(handle->reserved, &h, sizeof(h));
  return RT_CUDA_SUCCESS;
}
FAKE_CHECK(cuIpcGetMemHandle, cuIpcGetMemHandle)

// Maps another process's allocation. As the reference says of cuIpcOpenMemHandle: Flags must be
// CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS (else CUDA_ERROR_INVALID_VALUE), and "if the memory handle
// has already been opened by the current context, the reference count on the handle is incremented
// by 1 and the existing device pointer is returned". A handle that is not the fake's, or whose
// exporter is gone or freed the allocation, is CUDA_ERROR_INVALID_HANDLE (documented for the call);
// a failed mmap is CUDA_ERROR_MAP_FAILED. A handle of this very process is CUDA_ERROR_INVALID_CONTEXT:
// the reference does not say, but that is what the driver answers ("cuIpcOpenMemHandle() failed:
// invalid device context", openucx/ucx pull request 11603, opening a handle in its own process).
CUresult cuIpcOpenMemHandle_v2(CUdeviceptr* dptr, CUipcMemHandle handle, unsigned int flags) {
  CUresult r = begin("cuIpcOpenMemHandle_v2", true);
  if (r != 0) return r;
  if (dptr == nullptr || flags != RT_CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS) {
    return RT_CUDA_ERROR_INVALID_VALUE;
  }
  FakeIpcHandle h;
  std::memcpy(&h, handle.reserved, sizeof(h));
  if (h.magic != kIpcMagic || h.version != kIpcVersion || h.pid <= 0 || h.fd < 0 ||
      h.size == 0 || h.physical < 0 || h.physical >= fake::kMaxPhysical) {
    return RT_CUDA_ERROR_INVALID_HANDLE;
  }
  if (h.pid == getpid()) return RT_CUDA_ERROR_INVALID_CONTEXT;
  uintptr_t mapped = 0;
  if (fake::ipc_reopen(h.pid, h.serial, &mapped)) {
    *dptr = mapped;
    return RT_CUDA_SUCCESS;
  }
  int fd = open_exported(h);
  if (fd < 0) return RT_CUDA_ERROR_INVALID_HANDLE;
  void* p = mmap(nullptr, h.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);  // the mapping keeps the pages
  if (p == MAP_FAILED) return RT_CUDA_ERROR_MAP_FAILED;
  *dptr = fake::ipc_track(p, h.size, h.physical, h.pid, h.serial);
  return RT_CUDA_SUCCESS;
}
FAKE_CHECK(cuIpcOpenMemHandle, cuIpcOpenMemHandle_v2)

// "Decrements the reference count of the memory returned by cuIpcOpenMemHandle by 1. When the
// reference count reaches 0, this API unmaps the memory." A pointer that is no open mapping's is
// CUDA_ERROR_INVALID_VALUE.
CUresult cuIpcCloseMemHandle(CUdeviceptr dptr) {
  CUresult r = begin("cuIpcCloseMemHandle", true);
  if (r != 0) return r;
  return fake::ipc_release(static_cast<uintptr_t>(dptr)) ? RT_CUDA_SUCCESS
                                                         : RT_CUDA_ERROR_INVALID_VALUE;
}
FAKE_CHECK(cuIpcCloseMemHandle, cuIpcCloseMemHandle)

// Names every code of rtensor's table (RTENSOR_CUDA_RESULTS), as the driver does.
CUresult cuGetErrorName(CUresult error, const char** str) {
  fake::on_call("cuGetErrorName");
  switch (error) {
#define FAKE_ERROR_NAME(name, value) \
  case value:                        \
    *str = #name;                    \
    return RT_CUDA_SUCCESS;
    RTENSOR_CUDA_RESULTS(FAKE_ERROR_NAME)
#undef FAKE_ERROR_NAME
    default: *str = nullptr; return RT_CUDA_ERROR_INVALID_VALUE;
  }
}
FAKE_CHECK(cuGetErrorName, cuGetErrorName)

// The driver's texts for the codes of rtensor's table.
CUresult cuGetErrorString(CUresult error, const char** str) {
  fake::on_call("cuGetErrorString");
  switch (error) {
    case RT_CUDA_SUCCESS: *str = "no error"; return 0;
    case RT_CUDA_ERROR_INVALID_VALUE: *str = "invalid argument"; return 0;
    case RT_CUDA_ERROR_OUT_OF_MEMORY: *str = "out of memory"; return 0;
    case RT_CUDA_ERROR_NOT_INITIALIZED: *str = "initialization error"; return 0;
    case RT_CUDA_ERROR_NO_DEVICE: *str = "no CUDA-capable device is detected"; return 0;
    case RT_CUDA_ERROR_INVALID_DEVICE: *str = "invalid device ordinal"; return 0;
    case RT_CUDA_ERROR_INVALID_CONTEXT: *str = "invalid device context"; return 0;
    case RT_CUDA_ERROR_MAP_FAILED: *str = "mapping of buffer object failed"; return 0;
    case RT_CUDA_ERROR_ALREADY_MAPPED: *str = "resource already mapped"; return 0;
    case RT_CUDA_ERROR_INVALID_HANDLE: *str = "invalid resource handle"; return 0;
    case RT_CUDA_ERROR_NOT_FOUND: *str = "named symbol not found"; return 0;
    case RT_CUDA_ERROR_NOT_READY: *str = "device not ready"; return 0;
    case RT_CUDA_ERROR_ILLEGAL_ADDRESS: *str = "an illegal memory access was encountered"; return 0;
    case RT_CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED:
      *str = "part or all of the requested memory range is already mapped";
      return 0;
    case RT_CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED:
      *str = "pointer does not correspond to a registered memory region";
      return 0;
    case RT_CUDA_ERROR_TOO_MANY_PEERS: *str = "peer mapping resources exhausted"; return 0;
    case RT_CUDA_ERROR_NOT_SUPPORTED: *str = "operation not supported"; return 0;
    default: *str = nullptr; return RT_CUDA_ERROR_INVALID_VALUE;
  }
}
FAKE_CHECK(cuGetErrorString, cuGetErrorString)

// ---- control entry points for the tests ----

int fake_inject_error(const char* function, int code, int after_calls) {
  return fake_inject_error_impl(function, code, after_calls);
}

long long fake_call_count(const char* function) {
  fake::State& s = fake::state();
  std::lock_guard<std::mutex> lock(s.mutex);
  auto it = s.counts.find(function);
  return it == s.counts.end() ? 0 : it->second;
}

long long fake_live_bytes(int kind) {
  if (kind < 0 || kind > 2) return -1;
  fake::State& s = fake::state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return static_cast<long long>(s.live[kind]);
}

long long fake_copied_bytes(int counter) { return fake_copied_bytes_impl(counter); }

void fake_note_host_copy(size_t bytes) { fake_note_host_copy_impl(bytes); }

DLManagedTensor* fake_dlpack_make(int32_t device_type, int32_t device_id, uint8_t code,
                                  uint8_t bits, uint16_t lanes, int32_t ndim,
                                  const int64_t* shape, const int64_t* strides,
                                  uint64_t byte_offset, int seed) {
  int physical = valid_device(device_id) ? visible[device_id] : 0;
  return fake::dlpack_make(physical, device_type, device_id, code, bits, lanes, ndim, shape,
                           strides, byte_offset, seed);
}

long long fake_dlpack_count(int which) { return fake_dlpack_count_impl(which); }

int fake_parse_visible(const char* value, int physical_count, int* out, int max) {
  return fake_copy_visible(fake::parse_cuda_visible(value, physical_count), out, max);
}

int fake_physical_device_of(uint64_t ptr) { return fake::holder_of(static_cast<uintptr_t>(ptr)); }

// How many IPC mappings this process holds open: each cuIpcOpenMemHandle not yet closed (a handle
// opened twice counts twice).
long long fake_ipc_open_mappings() { return fake::ipc_open_count(); }

int fake_set_copy_delay_us(int micros) {
  fake::state().copy_delay_us = micros;
  return 0;
}

int fake_reset() {
  fake::State& s = fake::state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.injections.clear();
  s.copy_delay_us = 0;
  return 0;
}

}  // extern "C"
