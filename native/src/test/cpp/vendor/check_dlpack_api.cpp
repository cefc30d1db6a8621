// Compiles rtensor's DLPack declarations (rtensor_dlpack_api.h) beside dlpack.h itself (v1.3, as
// apache-tvm-ffi ships it) and fails to compile where they differ. Built by check-vendor-headers.sh;
// never linked against anything.
//
// Asserted: the size and alignment of DLDevice, DLDataType, DLTensor and DLManagedTensor, the offset
// and type of every field (DLDeviceType is an int32_t enum there, an int32_t here; the deleter takes
// the struct it belongs to), and every device type and type code rtensor names. kDLAscend is not
// in dlpack.h v1.3 and so is not checked (see rtensor_dlpack_api.h).
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <dlpack/dlpack.h>

namespace decl {
#include "rtensor_dlpack_api.h"
}

#define RT_SAME_LAYOUT(type)                                                              \
  static_assert(sizeof(::type) == sizeof(decl::type), #type " differs in size");         \
  static_assert(alignof(::type) == alignof(decl::type), #type " differs in alignment");
RT_SAME_LAYOUT(DLDevice)
RT_SAME_LAYOUT(DLDataType)
RT_SAME_LAYOUT(DLTensor)
RT_SAME_LAYOUT(DLManagedTensor)

#define RT_SAME_FIELD(type, field, vendor_type, our_type)                                    \
  static_assert(offsetof(::type, field) == offsetof(decl::type, field),                     \
                #type "." #field " is at another offset");                                   \
  static_assert(std::is_same_v<decltype(::type::field), vendor_type>,                        \
                #type "." #field " is not " #vendor_type " in dlpack.h");                    \
  static_assert(std::is_same_v<decltype(decl::type::field), our_type>,                       \
                #type "." #field " is not declared as " #our_type);

static_assert(std::is_same_v<std::underlying_type_t<::DLDeviceType>, int32_t>,
              "DLDeviceType is not an int32_t enum");
RT_SAME_FIELD(DLDevice, device_type, ::DLDeviceType, int32_t)
RT_SAME_FIELD(DLDevice, device_id, int32_t, int32_t)
RT_SAME_FIELD(DLDataType, code, uint8_t, uint8_t)
RT_SAME_FIELD(DLDataType, bits, uint8_t, uint8_t)
RT_SAME_FIELD(DLDataType, lanes, uint16_t, uint16_t)
RT_SAME_FIELD(DLTensor, data, void*, void*)
RT_SAME_FIELD(DLTensor, device, ::DLDevice, decl::DLDevice)
RT_SAME_FIELD(DLTensor, ndim, int32_t, int32_t)
RT_SAME_FIELD(DLTensor, dtype, ::DLDataType, decl::DLDataType)
RT_SAME_FIELD(DLTensor, shape, int64_t*, int64_t*)
RT_SAME_FIELD(DLTensor, strides, int64_t*, int64_t*)
RT_SAME_FIELD(DLTensor, byte_offset, uint64_t, uint64_t)
RT_SAME_FIELD(DLManagedTensor, dl_tensor, ::DLTensor, decl::DLTensor)
RT_SAME_FIELD(DLManagedTensor, manager_ctx, void*, void*)
RT_SAME_FIELD(DLManagedTensor, deleter, void (*)(::DLManagedTensor*),
              void (*)(decl::DLManagedTensor*))

#define RT_CHECK_VALUE(name, value)                                                   \
  static_assert(static_cast<long long>(::name) == (value), #name " is not " #value); \
  static_assert(static_cast<long long>(decl::RT_##name) == (value), "RT_" #name " differs");
RTENSOR_DLPACK_DEVICE_TYPES(RT_CHECK_VALUE)
RTENSOR_DLPACK_TYPE_CODES(RT_CHECK_VALUE)
#undef RT_CHECK_VALUE

#define RT_COUNT(...) +1
constexpr int kValues = 0 RTENSOR_DLPACK_DEVICE_TYPES(RT_COUNT) RTENSOR_DLPACK_TYPE_CODES(RT_COUNT);
#undef RT_COUNT

#include <cstdio>

int main() {
  std::printf("dlpack.h %d.%d: 4 structs, 15 fields, %d device types and type codes match\n",
              DLPACK_MAJOR_VERSION, DLPACK_MINOR_VERSION, kValues);
  return 0;
}
