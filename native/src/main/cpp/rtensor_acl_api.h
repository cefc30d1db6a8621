// The Ascend CANN AscendCL (ACL) entry points rtensor uses, declared from Huawei's documentation so
// the project builds without CANN installed. libascendcl.so is opened with dlopen at run time; these
// are the types of the pointers dlsym returns. The fake ACL used by the tests includes this header
// and checks its entry points against these types; the vendor-header check
// (native/src/test/cpp/vendor/check_acl_api.cpp, run by the test build) compiles it beside the
// AscendCL headers (acl/acl.h) and asserts every signature, enumerator and error code against them.
//
// Source: CANN application development API reference (AscendCL), hiascend.com, e.g.
//   canncommercial/800/apiref/appdevgapi: aclInit, aclFinalize, aclrtSetDevice, aclrtResetDevice,
//   aclrtGetDeviceCount, aclrtMalloc (aclcppdevg_03_0095), aclrtFree, aclrtMallocHost,
//   aclrtFreeHost, aclrtMemcpy (aclcppdevg_03_0105), aclrtMemcpyAsync, aclrtCreateStream,
//   aclrtSynchronizeStream, aclrtDestroyStream, aclrtGetMemInfo (aclcppdevg_03_0107),
//   aclGetRecentErrMsg; enumerations aclrtMemcpyKind, aclrtMemMallocPolicy, aclrtMemAttr.
//   Optional (resolved when present, absent before CANN 7): aclrtGetPhyDevIdByLogicDevId
//   (API/runtimeapi/aclcppdevg_03_2060). Its "logical" id is the id the process passes to
//   aclrtSetDevice, i.e. the index into ASCEND_RT_VISIBLE_DEVICES (envvar/envref_07_0028).
#pragma once

#include <cstddef>
#include <cstdint>

extern "C" {

// "typedef int aclError"; ACL_SUCCESS is 0.
typedef int aclError;
// "typedef void *aclrtStream".
typedef void* aclrtStream;

// typedef enum aclrtMemcpyKind { ACL_MEMCPY_HOST_TO_HOST, ACL_MEMCPY_HOST_TO_DEVICE,
//   ACL_MEMCPY_DEVICE_TO_HOST, ACL_MEMCPY_DEVICE_TO_DEVICE, ... } aclrtMemcpyKind;
typedef enum aclrtMemcpyKind {
  ACL_MEMCPY_HOST_TO_HOST = 0,
  ACL_MEMCPY_HOST_TO_DEVICE = 1,
  ACL_MEMCPY_DEVICE_TO_HOST = 2,
  ACL_MEMCPY_DEVICE_TO_DEVICE = 3,
} aclrtMemcpyKind;

// typedef enum aclrtMemMallocPolicy { ACL_MEM_MALLOC_HUGE_FIRST, ACL_MEM_MALLOC_HUGE_ONLY,
//   ACL_MEM_MALLOC_NORMAL_ONLY, ... } aclrtMemMallocPolicy;
typedef enum aclrtMemMallocPolicy {
  ACL_MEM_MALLOC_HUGE_FIRST = 0,
  ACL_MEM_MALLOC_HUGE_ONLY = 1,
  ACL_MEM_MALLOC_NORMAL_ONLY = 2,
} aclrtMemMallocPolicy;

// typedef enum aclrtMemAttr { ACL_DDR_MEM, ACL_HBM_MEM, ... } aclrtMemAttr;
typedef enum aclrtMemAttr {
  ACL_DDR_MEM = 0,
  ACL_HBM_MEM = 1,
} aclrtMemAttr;

}  // extern "C"

// aclError values rtensor names: X(name, value), each becoming RT_<name>. Most are the
// "static const int" codes of acl_base.h (acl_base_rt.h in CANN 8); the ACL_ERROR_RT_* ones are
// #defines of error_codes/rt_error_codes.h. rtensor names the errors it reports from this table,
// and the vendor-header check (native/src/test/cpp/vendor) asserts every value against CANN's.
#define RTENSOR_ACL_RESULTS(X)                \
  X(ACL_SUCCESS, 0)                           \
  X(ACL_ERROR_INVALID_PARAM, 100000)          \
  X(ACL_ERROR_UNINITIALIZE, 100001)           \
  X(ACL_ERROR_REPEAT_INITIALIZE, 100002)      \
  X(ACL_ERROR_BAD_ALLOC, 200000)              \
  X(ACL_ERROR_INVALID_DEVICE, 200002)         \
  X(ACL_ERROR_RT_CONTEXT_NULL, 107002)        \
  X(ACL_ERROR_RT_MEMORY_ALLOCATION, 207001)

#define RTENSOR_ACL_ENUMERATOR(name, value) RT_##name = value,
enum : int { RTENSOR_ACL_RESULTS(RTENSOR_ACL_ENUMERATOR) };
#undef RTENSOR_ACL_ENUMERATOR

// X-macro of every entry point: X(name, exported symbol, return type, parameter list).
#define RTENSOR_ACL_ENTRIES(X)                                                                  \
  /* aclError aclInit(const char* configPath) */                                                \
  X(aclInit, "aclInit", aclError, (const char* config_path))                                    \
  /* aclError aclFinalize() */                                                                  \
  X(aclFinalize, "aclFinalize", aclError, ())                                                   \
  /* aclError aclrtSetDevice(int32_t deviceId) */                                               \
  X(aclrtSetDevice, "aclrtSetDevice", aclError, (int32_t device_id))                            \
  /* aclError aclrtResetDevice(int32_t deviceId) */                                             \
  X(aclrtResetDevice, "aclrtResetDevice", aclError, (int32_t device_id))                        \
  /* aclError aclrtGetDeviceCount(uint32_t* count) */                                           \
  X(aclrtGetDeviceCount, "aclrtGetDeviceCount", aclError, (uint32_t * count))                   \
  /* aclError aclrtMalloc(void** devPtr, size_t size, aclrtMemMallocPolicy policy) */           \
  X(aclrtMalloc, "aclrtMalloc", aclError, (void** dev_ptr, size_t size, aclrtMemMallocPolicy policy)) \
  /* aclError aclrtFree(void* devPtr) */                                                        \
  X(aclrtFree, "aclrtFree", aclError, (void* dev_ptr))                                          \
  /* aclError aclrtMallocHost(void** hostPtr, size_t size) */                                   \
  X(aclrtMallocHost, "aclrtMallocHost", aclError, (void** host_ptr, size_t size))               \
  /* aclError aclrtFreeHost(void* hostPtr) */                                                   \
  X(aclrtFreeHost, "aclrtFreeHost", aclError, (void* host_ptr))                                 \
  /* aclError aclrtMemcpy(void* dst, size_t destMax, const void* src, size_t count,             \
     aclrtMemcpyKind kind) */                                                                   \
  X(aclrtMemcpy, "aclrtMemcpy", aclError,                                                       \
    (void* dst, size_t dest_max, const void* src, size_t count, aclrtMemcpyKind kind))          \
  /* aclError aclrtMemcpyAsync(void* dst, size_t destMax, const void* src, size_t count,        \
     aclrtMemcpyKind kind, aclrtStream stream) */                                               \
  X(aclrtMemcpyAsync, "aclrtMemcpyAsync", aclError,                                             \
    (void* dst, size_t dest_max, const void* src, size_t count, aclrtMemcpyKind kind,           \
     aclrtStream stream))                                                                       \
  /* aclError aclrtCreateStream(aclrtStream* stream) */                                         \
  X(aclrtCreateStream, "aclrtCreateStream", aclError, (aclrtStream * stream))                   \
  /* aclError aclrtSynchronizeStream(aclrtStream stream) */                                     \
  X(aclrtSynchronizeStream, "aclrtSynchronizeStream", aclError, (aclrtStream stream))           \
  /* aclError aclrtDestroyStream(aclrtStream stream) */                                         \
  X(aclrtDestroyStream, "aclrtDestroyStream", aclError, (aclrtStream stream))                   \
  /* aclError aclrtGetMemInfo(aclrtMemAttr attr, size_t* free, size_t* total) */                \
  X(aclrtGetMemInfo, "aclrtGetMemInfo", aclError,                                               \
    (aclrtMemAttr attr, size_t * free_bytes, size_t * total_bytes))                             \
  /* const char* aclGetRecentErrMsg() */                                                        \
  X(aclGetRecentErrMsg, "aclGetRecentErrMsg", const char*, ())

// Entry points a runtime may lack (newer than the oldest CANN rtensor loads): resolved when
// present; the operations that need them report RT_E_UNSUPPORTED otherwise.
#define RTENSOR_ACL_OPTIONAL_ENTRIES(X)                                                         \
  /* aclError aclrtGetPhyDevIdByLogicDevId(const int32_t logicDevId, int32_t* const phyDevId) */ \
  X(aclrtGetPhyDevIdByLogicDevId, "aclrtGetPhyDevIdByLogicDevId", aclError,                      \
    (const int32_t logic_dev_id, int32_t* const phy_dev_id))

#define RTENSOR_ACL_TYPEDEF(name, symbol, ret, params) typedef ret(*rt_acl_fn_##name) params;
RTENSOR_ACL_ENTRIES(RTENSOR_ACL_TYPEDEF)
RTENSOR_ACL_OPTIONAL_ENTRIES(RTENSOR_ACL_TYPEDEF)
#undef RTENSOR_ACL_TYPEDEF
