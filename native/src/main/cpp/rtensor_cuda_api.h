// The CUDA driver API entry points rtensor uses, declared from NVIDIA's documentation so the project
// builds without CUDA installed. The driver is opened with dlopen at run time; these are the types
// of the pointers dlsym returns. The fake driver used by the tests includes this same header and
// checks each of its entry points against these types; the vendor-header check
// (native/src/test/cpp/vendor/check_cuda_api.cpp, run by the test build) compiles this header
// beside NVIDIA's own cuda.h and asserts every signature, exported symbol name (the _v2 mapping),
// result code and flag below against it, so a declaration that drifts from the driver fails CI.
//
// Source: NVIDIA CUDA Driver API reference, https://docs.nvidia.com/cuda/cuda-driver-api/
//   group__CUDA__TYPES (CUresult, CUdeviceptr, CUcontext, CUstream, CUevent),
//   group__CUDA__INITIALIZE (cuInit), group__CUDA__VERSION (cuDriverGetVersion),
//   group__CUDA__DEVICE (cuDeviceGet, cuDeviceGetCount, cuDeviceGetName, cuDeviceTotalMem),
//   group__CUDA__MEM (cuDeviceGetPCIBusId: "[domain]:[bus]:[device].[function]", hexadecimal,
//   13 characters with the terminating NUL),
//   group__CUDA__PRIMARY__CTX (cuDevicePrimaryCtxRetain, cuDevicePrimaryCtxRelease),
//   group__CUDA__CTX (cuCtxSetCurrent), group__CUDA__MEM (cuMemAlloc, cuMemFree, cuMemAllocHost,
//   cuMemFreeHost, cuMemHostRegister, cuMemHostUnregister, cuMemcpy*, cuMemsetD8, cuMemGetInfo),
//   group__CUDA__STREAM, group__CUDA__EVENT, group__CUDA__ERROR (cuGetErrorName, cuGetErrorString),
//   group__CUDA__MEM (cuMemGetAddressRange, cuIpcGetMemHandle, cuIpcOpenMemHandle,
//   cuIpcCloseMemHandle: "IPC functionality is restricted to devices with support for unified
//   addressing on Linux"), group__CUDA__TYPES (CUipcMemHandle, CU_IPC_HANDLE_SIZE 64,
//   CUipcMem_flags).
// The exported symbol of several entry points carries a _v2 suffix (cuda.h maps the plain name to
// it with a #define since CUDA 3.2, the 64-bit CUdeviceptr ABI); the loader asks for those symbols.
#pragma once

#include <cstddef>

extern "C" {

// "typedef enum cudaError_enum { ... } CUresult": an int-sized enum; 0 is CUDA_SUCCESS.
typedef int CUresult;
// "typedef unsigned long long CUdeviceptr_v2; typedef CUdeviceptr_v2 CUdeviceptr" on 64-bit hosts.
typedef unsigned long long CUdeviceptr;
// "typedef int CUdevice_v1; typedef CUdevice_v1 CUdevice": an ordinal.
typedef int CUdevice;
// Opaque handles: "typedef struct CUctx_st *CUcontext" and likewise for streams and events.
typedef struct CUctx_st* CUcontext;
typedef struct CUstream_st* CUstream;
typedef struct CUevent_st* CUevent;
// "#define CU_IPC_HANDLE_SIZE 64; typedef struct CUipcMemHandle_st { char reserved[CU_IPC_HANDLE_SIZE];
// } CUipcMemHandle_v1; typedef CUipcMemHandle_v1 CUipcMemHandle": 64 opaque bytes, passed by value.
#define RT_CU_IPC_HANDLE_SIZE 64
typedef struct CUipcMemHandle_st {
  char reserved[RT_CU_IPC_HANDLE_SIZE];
} CUipcMemHandle;

}  // extern "C"

// Result codes rtensor names (CUresult enumerators of cuda.h): X(enumerator, value). Each becomes
// RT_<enumerator> below; the fake driver names its codes from this table, and the vendor-header
// check (native/src/test/cpp/vendor) asserts every value against NVIDIA's cuda.h.
#define RTENSOR_CUDA_RESULTS(X)                                                              \
  X(CUDA_SUCCESS, 0)                                                                         \
  X(CUDA_ERROR_INVALID_VALUE, 1)                                                             \
  X(CUDA_ERROR_OUT_OF_MEMORY, 2)                                                             \
  X(CUDA_ERROR_NOT_INITIALIZED, 3)                                                           \
  /* cuInit's answer when no device is visible, e.g. CUDA_VISIBLE_DEVICES is empty. */       \
  X(CUDA_ERROR_NO_DEVICE, 100)                                                               \
  X(CUDA_ERROR_INVALID_DEVICE, 101)                                                          \
  X(CUDA_ERROR_INVALID_CONTEXT, 201)                                                         \
  /* IPC: a handle could not be mapped or unmapped. */                                       \
  X(CUDA_ERROR_MAP_FAILED, 205)                                                              \
  X(CUDA_ERROR_ALREADY_MAPPED, 208)                                                          \
  X(CUDA_ERROR_INVALID_HANDLE, 400)                                                          \
  /* cuMemGetAddressRange: the pointer is in no allocation. */                               \
  X(CUDA_ERROR_NOT_FOUND, 500)                                                               \
  X(CUDA_ERROR_NOT_READY, 600)                                                               \
  X(CUDA_ERROR_ILLEGAL_ADDRESS, 700)                                                         \
  /* IPC: the device cannot map memory of one more peer. */                                \
  X(CUDA_ERROR_TOO_MANY_PEERS, 711)                                                          \
  X(CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED, 712)                                          \
  X(CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED, 713)                                              \
  /* IPC on a platform or device that does not support it. */                                \
  X(CUDA_ERROR_NOT_SUPPORTED, 801)

// Flags rtensor passes (documented values): X(enumerator, value), each becoming RT_<enumerator>.
#define RTENSOR_CUDA_FLAGS(X)          \
  X(CU_STREAM_NON_BLOCKING, 0x1)       \
  X(CU_EVENT_DEFAULT, 0x0)             \
  X(CU_EVENT_DISABLE_TIMING, 0x2)      \
  X(CU_MEMHOSTREGISTER_PORTABLE, 0x1)  \
  X(CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS, 0x1)

#define RTENSOR_CUDA_ENUMERATOR(name, value) RT_##name = value,
enum : int { RTENSOR_CUDA_RESULTS(RTENSOR_CUDA_ENUMERATOR) };
enum : unsigned int { RTENSOR_CUDA_FLAGS(RTENSOR_CUDA_ENUMERATOR) };
#undef RTENSOR_CUDA_ENUMERATOR

// The oldest driver accepted: CUDA 11.0 (cuDriverGetVersion reports 1000 * major + 10 * minor).
// cuDevicePrimaryCtxRelease_v2 and the other symbols below exist from that release on.
constexpr int RT_CUDA_MIN_DRIVER_VERSION = 11000;

// X-macro of every entry point: X(function type name, exported symbol, parameter list).
// The function type for entry e is rt_cuda_fn_<e>; one place lists each signature.
#define RTENSOR_CUDA_ENTRIES(X)                                                              \
  /* CUresult cuInit(unsigned int Flags) */                                                  \
  X(cuInit, "cuInit", (unsigned int flags))                                                  \
  /* CUresult cuDriverGetVersion(int* driverVersion) */                                      \
  X(cuDriverGetVersion, "cuDriverGetVersion", (int* version))                                \
  /* CUresult cuDeviceGetCount(int* count) */                                                \
  X(cuDeviceGetCount, "cuDeviceGetCount", (int* count))                                      \
  /* CUresult cuDeviceGet(CUdevice* device, int ordinal) */                                  \
  X(cuDeviceGet, "cuDeviceGet", (CUdevice * device, int ordinal))                            \
  /* CUresult cuDeviceGetName(char* name, int len, CUdevice dev) */                          \
  X(cuDeviceGetName, "cuDeviceGetName", (char* name, int len, CUdevice dev))                 \
  /* CUresult cuDeviceTotalMem(size_t* bytes, CUdevice dev) -> symbol cuDeviceTotalMem_v2 */ \
  X(cuDeviceTotalMem, "cuDeviceTotalMem_v2", (size_t * bytes, CUdevice dev))                 \
  /* CUresult cuDeviceGetPCIBusId(char* pciBusId, int len, CUdevice dev) */                  \
  X(cuDeviceGetPCIBusId, "cuDeviceGetPCIBusId", (char* pci_bus_id, int len, CUdevice dev))   \
  /* CUresult cuDevicePrimaryCtxRetain(CUcontext* pctx, CUdevice dev) */                     \
  X(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", (CUcontext * pctx, CUdevice dev))  \
  /* CUresult cuDevicePrimaryCtxRelease(CUdevice dev) -> cuDevicePrimaryCtxRelease_v2 */     \
  X(cuDevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease_v2", (CUdevice dev))               \
  /* CUresult cuCtxSetCurrent(CUcontext ctx) */                                              \
  X(cuCtxSetCurrent, "cuCtxSetCurrent", (CUcontext ctx))                                     \
  /* CUresult cuMemGetInfo(size_t* free, size_t* total) -> cuMemGetInfo_v2 */                \
  X(cuMemGetInfo, "cuMemGetInfo_v2", (size_t * free_bytes, size_t * total_bytes))            \
  /* CUresult cuMemAlloc(CUdeviceptr* dptr, size_t bytesize) -> cuMemAlloc_v2 */             \
  X(cuMemAlloc, "cuMemAlloc_v2", (CUdeviceptr * dptr, size_t bytesize))                      \
  /* CUresult cuMemFree(CUdeviceptr dptr) -> cuMemFree_v2 */                                 \
  X(cuMemFree, "cuMemFree_v2", (CUdeviceptr dptr))                                           \
  /* CUresult cuMemAllocHost(void** pp, size_t bytesize) -> cuMemAllocHost_v2 */             \
  X(cuMemAllocHost, "cuMemAllocHost_v2", (void** pp, size_t bytesize))                       \
  /* CUresult cuMemFreeHost(void* p) */                                                      \
  X(cuMemFreeHost, "cuMemFreeHost", (void* p))                                               \
  /* CUresult cuMemHostRegister(void* p, size_t bytesize, unsigned int Flags) -> _v2 */      \
  X(cuMemHostRegister, "cuMemHostRegister_v2", (void* p, size_t bytesize, unsigned int flags)) \
  /* CUresult cuMemHostUnregister(void* p) */                                                \
  X(cuMemHostUnregister, "cuMemHostUnregister", (void* p))                                   \
  /* CUresult cuMemcpyDtoH(void* dstHost, CUdeviceptr srcDevice, size_t ByteCount) -> _v2 */ \
  X(cuMemcpyDtoH, "cuMemcpyDtoH_v2", (void* dst, CUdeviceptr src, size_t bytes))             \
  /* CUresult cuMemcpyHtoD(CUdeviceptr dstDevice, const void* srcHost, size_t ByteCount) */  \
  X(cuMemcpyHtoD, "cuMemcpyHtoD_v2", (CUdeviceptr dst, const void* src, size_t bytes))       \
  /* CUresult cuMemcpyDtoD(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount) */ \
  X(cuMemcpyDtoD, "cuMemcpyDtoD_v2", (CUdeviceptr dst, CUdeviceptr src, size_t bytes))       \
  /* CUresult cuMemcpyDtoHAsync(void* dstHost, CUdeviceptr srcDevice, size_t, CUstream) */   \
  X(cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2",                                               \
    (void* dst, CUdeviceptr src, size_t bytes, CUstream stream))                             \
  /* CUresult cuMemcpyHtoDAsync(CUdeviceptr dstDevice, const void* srcHost, size_t, CUstream) */ \
  X(cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2",                                               \
    (CUdeviceptr dst, const void* src, size_t bytes, CUstream stream))                       \
  /* CUresult cuMemcpyDtoDAsync(CUdeviceptr dst, CUdeviceptr src, size_t, CUstream) */       \
  X(cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2",                                               \
    (CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream stream))                       \
  /* CUresult cuMemsetD8(CUdeviceptr dstDevice, unsigned char uc, size_t N) -> _v2 */        \
  X(cuMemsetD8, "cuMemsetD8_v2", (CUdeviceptr dst, unsigned char value, size_t count))       \
  /* CUresult cuStreamCreate(CUstream* phStream, unsigned int Flags) */                      \
  X(cuStreamCreate, "cuStreamCreate", (CUstream * stream, unsigned int flags))               \
  /* CUresult cuStreamSynchronize(CUstream hStream) */                                       \
  X(cuStreamSynchronize, "cuStreamSynchronize", (CUstream stream))                           \
  /* CUresult cuStreamDestroy(CUstream hStream) -> cuStreamDestroy_v2 */                     \
  X(cuStreamDestroy, "cuStreamDestroy_v2", (CUstream stream))                                \
  /* CUresult cuEventCreate(CUevent* phEvent, unsigned int Flags) */                         \
  X(cuEventCreate, "cuEventCreate", (CUevent * event, unsigned int flags))                   \
  /* CUresult cuEventRecord(CUevent hEvent, CUstream hStream) */                             \
  X(cuEventRecord, "cuEventRecord", (CUevent event, CUstream stream))                        \
  /* CUresult cuEventSynchronize(CUevent hEvent) */                                          \
  X(cuEventSynchronize, "cuEventSynchronize", (CUevent event))                               \
  /* CUresult cuEventQuery(CUevent hEvent): CUDA_ERROR_NOT_READY while pending */            \
  X(cuEventQuery, "cuEventQuery", (CUevent event))                                           \
  /* CUresult cuEventElapsedTime(float* pMilliseconds, CUevent hStart, CUevent hEnd) */      \
  X(cuEventElapsedTime, "cuEventElapsedTime", (float* millis, CUevent start, CUevent end))   \
  /* CUresult cuEventDestroy(CUevent hEvent) -> cuEventDestroy_v2 */                         \
  X(cuEventDestroy, "cuEventDestroy_v2", (CUevent event))                                    \
  /* CUresult cuMemGetAddressRange(CUdeviceptr* pbase, size_t* psize, CUdeviceptr dptr)   */ \
  /*   -> cuMemGetAddressRange_v2 */                                                         \
  X(cuMemGetAddressRange, "cuMemGetAddressRange_v2",                                         \
    (CUdeviceptr * base, size_t * size, CUdeviceptr dptr))                                   \
  /* CUresult cuIpcGetMemHandle(CUipcMemHandle* pHandle, CUdeviceptr dptr) */                \
  X(cuIpcGetMemHandle, "cuIpcGetMemHandle", (CUipcMemHandle * handle, CUdeviceptr dptr))     \
  /* CUresult cuIpcOpenMemHandle(CUdeviceptr* pdptr, CUipcMemHandle handle, unsigned int    */ \
  /*   Flags) -> cuIpcOpenMemHandle_v2 (cuda.h maps the name since CUDA 11.0) */             \
  X(cuIpcOpenMemHandle, "cuIpcOpenMemHandle_v2",                                             \
    (CUdeviceptr * dptr, CUipcMemHandle handle, unsigned int flags))                         \
  /* CUresult cuIpcCloseMemHandle(CUdeviceptr dptr) */                                       \
  X(cuIpcCloseMemHandle, "cuIpcCloseMemHandle", (CUdeviceptr dptr))                          \
  /* CUresult cuGetErrorName(CUresult error, const char** pStr) */                           \
  X(cuGetErrorName, "cuGetErrorName", (CUresult error, const char** str))                    \
  /* CUresult cuGetErrorString(CUresult error, const char** pStr) */                         \
  X(cuGetErrorString, "cuGetErrorString", (CUresult error, const char** str))

#define RTENSOR_CUDA_TYPEDEF(name, symbol, params) typedef CUresult(*rt_cuda_fn_##name) params;
RTENSOR_CUDA_ENTRIES(RTENSOR_CUDA_TYPEDEF)
#undef RTENSOR_CUDA_TYPEDEF
