// The DLPack exchange structs (the "legacy" DLManagedTensor that PyTorch, JAX, CuPy and numpy hand
// each other through __dlpack__ capsules named "dltensor"), declared from the DLPack specification
// so the project needs no copy of dlpack.h. The layout has not changed from DLPack v0.6 to v1.3;
// the vendor-header check (native/src/test/cpp/vendor/check_dlpack_api.cpp, run by the test build)
// compiles this header beside dlpack.h v1.3 and asserts every size, offset, field type and value.
//
// Source: dmlc/dlpack include/dlpack/dlpack.h, data-apis.org "DLPack: Python specification":
//   DLDevice {DLDeviceType device_type (an int32_t enum); int32_t device_id},
//   DLDataType {uint8_t code; uint8_t bits; uint16_t lanes},
//   DLTensor {void* data; DLDevice device; int32_t ndim; DLDataType dtype; int64_t* shape;
//             int64_t* strides (in elements; NULL for compact row-major before v1.0);
//             uint64_t byte_offset},
//   DLManagedTensor {DLTensor dl_tensor; void* manager_ctx; void (*deleter)(DLManagedTensor*)}:
//   the consumer calls deleter(self) exactly once when it no longer needs the tensor.
#pragma once

#include <cstdint>

extern "C" {

// "typedef enum : int32_t { kDLCPU = 1, ... } DLDeviceType" in C++; rtensor keeps the int32_t.
typedef struct {
  int32_t device_type;
  int32_t device_id;
} DLDevice;

typedef struct {
  uint8_t code;
  uint8_t bits;
  uint16_t lanes;
} DLDataType;

typedef struct {
  void* data;
  DLDevice device;
  int32_t ndim;
  DLDataType dtype;
  int64_t* shape;
  int64_t* strides;
  uint64_t byte_offset;
} DLTensor;

typedef struct DLManagedTensor {
  DLTensor dl_tensor;
  void* manager_ctx;
  void (*deleter)(struct DLManagedTensor* self);
} DLManagedTensor;

}  // extern "C"

// Device types rtensor maps to its runtimes (DLDeviceType): X(enumerator, value), each becoming
// RT_<enumerator>.
#define RTENSOR_DLPACK_DEVICE_TYPES(X) \
  X(kDLCPU, 1)                         \
  X(kDLCUDA, 2)

// kDLAscend is not in a DLPack release yet (v1.3 ends at kDLTrn = 18): dmlc/dlpack's main branch
// adds kDLTPU = 19, kDLTPUHost = 20 and kDLAscend = 21 after v1.3. rtensor uses that value; the
// vendor check cannot assert it until a release carries it.
constexpr int32_t RT_kDLAscend = 21;

// Type codes rtensor maps to its dtypes (DLDataTypeCode): X(enumerator, value).
#define RTENSOR_DLPACK_TYPE_CODES(X) \
  X(kDLInt, 0)                       \
  X(kDLUInt, 1)                      \
  X(kDLFloat, 2)                     \
  X(kDLBfloat, 4)                    \
  X(kDLBool, 6)

#define RTENSOR_DLPACK_ENUMERATOR(name, value) RT_##name = value,
enum : int32_t { RTENSOR_DLPACK_DEVICE_TYPES(RTENSOR_DLPACK_ENUMERATOR) };
enum : int32_t { RTENSOR_DLPACK_TYPE_CODES(RTENSOR_DLPACK_ENUMERATOR) };
#undef RTENSOR_DLPACK_ENUMERATOR
