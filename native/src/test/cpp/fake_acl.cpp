// A fake Ascend ACL runtime for the CPU-only tests: exports exactly the AscendCL entry points
// rtensor's loader resolves (rtensor_acl_api.h), each checked against the loader's function-pointer
// type at compile time, backed by host memory. Built by the test build into
// target/fake/libfakeacl.so.
//
// Behaviour kept from the real runtime: nothing works before aclInit (ACL_ERROR_UNINITIALIZE);
// memory and stream calls need a device set on the calling thread; device pointers outside a live
// aclrtMalloc allocation are refused; destMax smaller than count is ACL_ERROR_INVALID_PARAM;
// asynchronous copies run in order on the stream's worker thread. The first aclInit reads
// ASCEND_RT_VISIBLE_DEVICES (see fake::parse_acl_visible): device ids are the visible physical
// devices in that order, each with its own memory, and aclrtGetPhyDevIdByLogicDevId maps an id back
// to its physical device (no container: the logical id is the physical one). The machine has
// RTENSOR_FAKE_DEVICE_COUNT physical devices, 1 by default. Variant: -DFAKE_OMIT_PHY_ID (a CANN
// older than 7, without aclrtGetPhyDevIdByLogicDevId).
#include <atomic>
#include <cstdio>
#include <type_traits>

#include "fake_runtime_common.h"
#include "rtensor_acl_api.h"

#define FAKE_CHECK(entry)                                                                      \
  static_assert(std::is_same<decltype(&entry), rt_acl_fn_##entry>::value,                      \
                #entry " does not match the declared signature");

namespace {

std::atomic<bool> initialized{false};
constexpr int kDefaultPhysicalDevices = 1;
std::mutex init_mutex;
bool devices_read = false;
// Device id (the index into ASCEND_RT_VISIBLE_DEVICES) -> physical device, fixed by the first
// aclInit.
int visible[fake::kMaxPhysical];
int visible_count = 0;
thread_local int current_device = -1;
thread_local std::string recent_message;

aclError fail(aclError code, const char* message) {
  recent_message = message;
  return code;
}

aclError begin(const char* name, bool needs_device) {
  int injected = fake::on_call(name);
  if (injected != 0) return fail(injected, "injected failure");
  if (!initialized.load()) return fail(RT_ACL_ERROR_UNINITIALIZE, "aclInit has not been called");
  if (needs_device && current_device < 0) return fail(RT_ACL_ERROR_RT_CONTEXT_NULL, "no device set on this thread");
  return RT_ACL_SUCCESS;
}

bool device_range(const void* p, size_t n) {
  return fake::contains(fake::DEVICE, reinterpret_cast<uintptr_t>(p), n);
}

// Checks the pointers of a copy against its direction.
aclError check_copy(void* dst, size_t dest_max, const void* src, size_t count,
                    aclrtMemcpyKind kind) {
  if (dst == nullptr || src == nullptr) return fail(RT_ACL_ERROR_INVALID_PARAM, "null pointer");
  if (dest_max < count) return fail(RT_ACL_ERROR_INVALID_PARAM, "count is larger than destMax");
  bool src_device = kind == ACL_MEMCPY_DEVICE_TO_HOST || kind == ACL_MEMCPY_DEVICE_TO_DEVICE;
  bool dst_device = kind == ACL_MEMCPY_HOST_TO_DEVICE || kind == ACL_MEMCPY_DEVICE_TO_DEVICE;
  if (src_device && !device_range(src, count)) {
    return fail(RT_ACL_ERROR_INVALID_PARAM, "source is not device memory of this size");
  }
  if (dst_device && !device_range(dst, count)) {
    return fail(RT_ACL_ERROR_INVALID_PARAM, "destination is not device memory of this size");
  }
  return RT_ACL_SUCCESS;
}

void count_copy(void* dst, const void* src, size_t count, aclrtMemcpyKind kind) {
  switch (kind) {
    case ACL_MEMCPY_HOST_TO_DEVICE: fake::count_copy(fake::COPIED_H2D, src, count); break;
    case ACL_MEMCPY_DEVICE_TO_HOST: fake::count_copy(fake::COPIED_D2H, dst, count); break;
    case ACL_MEMCPY_DEVICE_TO_DEVICE: fake::count_copy(fake::COPIED_D2D, nullptr, count); break;
    default: fake::count_copy(fake::COPIED_H2H, nullptr, count); break;
  }
}

}  // namespace

extern "C" {

aclError aclInit(const char* config_path) {
  int injected = fake::on_call("aclInit");
  if (injected != 0) return fail(injected, "injected failure");
  (void)config_path;
  {
    std::lock_guard<std::mutex> lock(init_mutex);
    if (!devices_read) {
      int count = fake::physical_count(kDefaultPhysicalDevices);
      std::vector<int> shown =
          fake::parse_acl_visible(std::getenv("ASCEND_RT_VISIBLE_DEVICES"), count);
      visible_count = static_cast<int>(shown.size());
      for (int i = 0; i < visible_count; i++) visible[i] = shown[i];
      devices_read = true;
    }
  }
  if (initialized.exchange(true)) return fail(RT_ACL_ERROR_REPEAT_INITIALIZE, "already initialized");
  return RT_ACL_SUCCESS;
}
FAKE_CHECK(aclInit)

aclError aclFinalize() {
  aclError r = begin("aclFinalize", false);
  if (r != 0) return r;
  initialized = false;
  return RT_ACL_SUCCESS;
}
FAKE_CHECK(aclFinalize)

aclError aclrtSetDevice(int32_t device_id) {
  aclError r = begin("aclrtSetDevice", false);
  if (r != 0) return r;
  if (device_id < 0 || device_id >= visible_count) {
    return fail(RT_ACL_ERROR_INVALID_DEVICE, "device id out of range");
  }
  current_device = device_id;
  return RT_ACL_SUCCESS;
}
FAKE_CHECK(aclrtSetDevice)

aclError aclrtResetDevice(int32_t device_id) {
  aclError r = begin("aclrtResetDevice", false);
  if (r != 0) return r;
  if (device_id != current_device) return fail(RT_ACL_ERROR_INVALID_DEVICE, "device not set");
  current_device = -1;
  return RT_ACL_SUCCESS;
}
FAKE_CHECK(aclrtResetDevice)

aclError aclrtGetDeviceCount(uint32_t* count) {
  aclError r = begin("aclrtGetDeviceCount", false);
  if (r != 0) return r;
  *count = static_cast<uint32_t>(visible_count);
  return RT_ACL_SUCCESS;
}
FAKE_CHECK(aclrtGetDeviceCount)

aclError aclrtMalloc(void** dev_ptr, size_t size, aclrtMemMallocPolicy policy) {
  aclError r = begin("aclrtMalloc", true);
  if (r != 0) return r;
  if (size == 0 || policy > ACL_MEM_MALLOC_NORMAL_ONLY) {
    return fail(RT_ACL_ERROR_INVALID_PARAM, "size is 0 or the policy is unknown");
  }
  *dev_ptr = fake::allocate(fake::DEVICE, size, visible[current_device]);
  return *dev_ptr ? RT_ACL_SUCCESS : fail(RT_ACL_ERROR_BAD_ALLOC, "device memory exhausted");
}
FAKE_CHECK(aclrtMalloc)

aclError aclrtFree(void* dev_ptr) {
  aclError r = begin("aclrtFree", true);
  if (r != 0) return r;
  return fake::release(fake::DEVICE, dev_ptr) ? RT_ACL_SUCCESS
                                              : fail(RT_ACL_ERROR_INVALID_PARAM, "not allocated");
}
FAKE_CHECK(aclrtFree)

aclError aclrtMallocHost(void** host_ptr, size_t size) {
  aclError r = begin("aclrtMallocHost", true);
  if (r != 0) return r;
  if (size == 0) return fail(RT_ACL_ERROR_INVALID_PARAM, "size is 0");
  *host_ptr = fake::allocate(fake::PINNED, size);
  return *host_ptr ? RT_ACL_SUCCESS : fail(RT_ACL_ERROR_BAD_ALLOC, "host memory exhausted");
}
FAKE_CHECK(aclrtMallocHost)

aclError aclrtFreeHost(void* host_ptr) {
  aclError r = begin("aclrtFreeHost", true);
  if (r != 0) return r;
  return fake::release(fake::PINNED, host_ptr) ? RT_ACL_SUCCESS
                                               : fail(RT_ACL_ERROR_INVALID_PARAM, "not allocated");
}
FAKE_CHECK(aclrtFreeHost)

aclError aclrtMemcpy(void* dst, size_t dest_max, const void* src, size_t count,
                     aclrtMemcpyKind kind) {
  aclError r = begin("aclrtMemcpy", true);
  if (r != 0) return r;
  r = check_copy(dst, dest_max, src, count, kind);
  if (r != 0) return r;
  count_copy(dst, src, count, kind);
  fake::copy_now(dst, src, count);
  return RT_ACL_SUCCESS;
}
FAKE_CHECK(aclrtMemcpy)

aclError aclrtMemcpyAsync(void* dst, size_t dest_max, const void* src, size_t count,
                          aclrtMemcpyKind kind, aclrtStream stream) {
  aclError r = begin("aclrtMemcpyAsync", true);
  if (r != 0) return r;
  r = check_copy(dst, dest_max, src, count, kind);
  if (r != 0) return r;
  count_copy(dst, src, count, kind);
  if (stream == nullptr) {
    fake::copy_now(dst, src, count);
  } else {
    static_cast<fake::Stream*>(stream)->submit([=] { fake::copy_now(dst, src, count); });
  }
  return RT_ACL_SUCCESS;
}
FAKE_CHECK(aclrtMemcpyAsync)

aclError aclrtCreateStream(aclrtStream* stream) {
  aclError r = begin("aclrtCreateStream", true);
  if (r != 0) return r;
  *stream = new fake::Stream();
  return RT_ACL_SUCCESS;
}
FAKE_CHECK(aclrtCreateStream)

aclError aclrtSynchronizeStream(aclrtStream stream) {
  aclError r = begin("aclrtSynchronizeStream", true);
  if (r != 0) return r;
  if (stream != nullptr) static_cast<fake::Stream*>(stream)->wait_idle();
  return RT_ACL_SUCCESS;
}
FAKE_CHECK(aclrtSynchronizeStream)

aclError aclrtDestroyStream(aclrtStream stream) {
  aclError r = begin("aclrtDestroyStream", true);
  if (r != 0) return r;
  if (stream == nullptr) return fail(RT_ACL_ERROR_INVALID_PARAM, "null stream");
  delete static_cast<fake::Stream*>(stream);
  return RT_ACL_SUCCESS;
}
FAKE_CHECK(aclrtDestroyStream)

aclError aclrtGetMemInfo(aclrtMemAttr attr, size_t* free_bytes, size_t* total_bytes) {
  aclError r = begin("aclrtGetMemInfo", true);
  if (r != 0) return r;
  (void)attr;
  size_t used = 0;
  fake::device_usage(visible[current_device], &used, total_bytes);
  *free_bytes = *total_bytes - used;
  return RT_ACL_SUCCESS;
}
FAKE_CHECK(aclrtGetMemInfo)

#ifndef FAKE_OMIT_PHY_ID
aclError aclrtGetPhyDevIdByLogicDevId(const int32_t logic_dev_id, int32_t* const phy_dev_id) {
  aclError r = begin("aclrtGetPhyDevIdByLogicDevId", false);
  if (r != 0) return r;
  if (phy_dev_id == nullptr) return fail(RT_ACL_ERROR_INVALID_PARAM, "null output");
  if (logic_dev_id < 0 || logic_dev_id >= visible_count) {
    return fail(RT_ACL_ERROR_INVALID_DEVICE, "device id out of range");
  }
  *phy_dev_id = visible[logic_dev_id];
  return RT_ACL_SUCCESS;
}
FAKE_CHECK(aclrtGetPhyDevIdByLogicDevId)
#endif

const char* aclGetRecentErrMsg() {
  fake::on_call("aclGetRecentErrMsg");
  return recent_message.empty() ? nullptr : recent_message.c_str();
}
FAKE_CHECK(aclGetRecentErrMsg)

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
  int physical = device_id >= 0 && device_id < visible_count ? visible[device_id] : 0;
  return fake::dlpack_make(physical, device_type, device_id, code, bits, lanes, ndim, shape,
                           strides, byte_offset, seed);
}

long long fake_dlpack_count(int which) { return fake_dlpack_count_impl(which); }

int fake_parse_visible(const char* value, int physical_count, int* out, int max) {
  return fake_copy_visible(fake::parse_acl_visible(value, physical_count), out, max);
}

int fake_physical_device_of(uint64_t ptr) { return fake::holder_of(static_cast<uintptr_t>(ptr)); }

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
