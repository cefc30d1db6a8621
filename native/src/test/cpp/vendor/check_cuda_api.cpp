// Compiles rtensor's CUDA driver declarations (rtensor_cuda_api.h) beside NVIDIA's own cuda.h and
// fails to compile where they differ. Built by check-vendor-headers.sh with cuda.h from a pinned
// NVIDIA wheel; it is never linked or run. The fake driver checks its entry points against
// rtensor's declarations (FAKE_CHECK in fake_cuda.cpp), so through this file the fake is checked
// against the vendor too.
//
// Asserted, for every entry of RTENSOR_CUDA_ENTRIES:
//   - the exported symbol rtensor resolves is the one cuda.h binds the name to (cuda.h #defines
//     cuMemAlloc to cuMemAlloc_v2 and so on: the name is stringized after macro expansion);
//   - the function-pointer type equals the type of NVIDIA's declaration, parameter by parameter,
//     where the only difference allowed is rtensor's "typedef int CUresult" for NVIDIA's enum
//     (checked to be int-sized);
// and for every code of RTENSOR_CUDA_RESULTS and flag of RTENSOR_CUDA_FLAGS, that cuda.h has the
// enumerator with the same value; that the scalar and handle typedefs are NVIDIA's; and that
// rtensor's CUipcMemHandle, passed by value to cuIpcOpenMemHandle, has the size, alignment and
// layout of NVIDIA's (a struct of CU_IPC_HANDLE_SIZE chars), so the two are the same in the ABI.
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <cuda.h>

// rtensor's declarations in a namespace of their own, so that CUresult and the typedefs do not
// clash with NVIDIA's. The opaque handle typedefs ("typedef struct CUctx_st* CUcontext") name the
// global structs cuda.h declared, so they compare equal when they point at the same struct.
namespace decl {
#include "rtensor_cuda_api.h"
}

namespace {

// NVIDIA's type as rtensor spells it: CUresult is an int for rtensor, pointers and const-ness kept.
template <class T>
struct as_declared {
  using type = T;
};
template <>
struct as_declared<::CUresult> {
  using type = int;
};
// rtensor's CUipcMemHandle is its own struct (in namespace decl); its layout is asserted below.
template <>
struct as_declared<::CUipcMemHandle> {
  using type = decl::CUipcMemHandle;
};
template <class T>
struct as_declared<T*> {
  using type = typename as_declared<T>::type*;
};
template <class T>
struct as_declared<const T> {
  using type = const typename as_declared<T>::type;
};
template <class R, class... A>
struct as_declared<R (*)(A...)> {
  using type = typename as_declared<R>::type (*)(typename as_declared<A>::type...);
};

constexpr bool same_text(const char* a, const char* b) {
  while (*a != 0 && *a == *b) {
    a++;
    b++;
  }
  return *a == *b;
}

}  // namespace

#define RT_STRINGIZE_EXPANDED(x) RT_STRINGIZE(x)
#define RT_STRINGIZE(x) #x

static_assert(sizeof(::CUresult) == sizeof(int), "CUresult is not int-sized");
static_assert(std::is_enum_v<::CUresult>, "CUresult is not cuda.h's enum");
static_assert(std::is_same_v<decl::CUdeviceptr, ::CUdeviceptr>, "CUdeviceptr differs from cuda.h");
static_assert(std::is_same_v<decl::CUdevice, ::CUdevice>, "CUdevice differs from cuda.h");
static_assert(std::is_same_v<decl::CUcontext, ::CUcontext>, "CUcontext differs from cuda.h");
static_assert(std::is_same_v<decl::CUstream, ::CUstream>, "CUstream differs from cuda.h");
static_assert(std::is_same_v<decl::CUevent, ::CUevent>, "CUevent differs from cuda.h");

static_assert(RT_CU_IPC_HANDLE_SIZE == CU_IPC_HANDLE_SIZE, "CU_IPC_HANDLE_SIZE differs from cuda.h");
static_assert(sizeof(decl::CUipcMemHandle) == sizeof(::CUipcMemHandle) &&
                  sizeof(::CUipcMemHandle) == 64,
              "CUipcMemHandle is not cuda.h's 64 bytes");
static_assert(alignof(decl::CUipcMemHandle) == alignof(::CUipcMemHandle),
              "CUipcMemHandle's alignment differs from cuda.h");
static_assert(std::is_same_v<decltype(decl::CUipcMemHandle::reserved),
                             decltype(::CUipcMemHandle::reserved)>,
              "CUipcMemHandle's bytes differ from cuda.h's char reserved[CU_IPC_HANDLE_SIZE]");
static_assert(offsetof(decl::CUipcMemHandle, reserved) == 0 &&
                  offsetof(::CUipcMemHandle, reserved) == 0,
              "CUipcMemHandle's bytes do not start the struct");
static_assert(std::is_standard_layout_v<decl::CUipcMemHandle> &&
                  std::is_trivially_copyable_v<decl::CUipcMemHandle> &&
                  std::is_standard_layout_v<::CUipcMemHandle> &&
                  std::is_trivially_copyable_v<::CUipcMemHandle>,
              "CUipcMemHandle is not a plain struct in both declarations");

// `name` expands to the symbol cuda.h binds it to (cuMemAlloc -> cuMemAlloc_v2) everywhere but
// next to ##, where it stays the plain name of rtensor's typedef.
#define RT_CHECK_ENTRY(name, symbol, params)                                              \
  static_assert(same_text(symbol, RT_STRINGIZE_EXPANDED(name)),                           \
                "rtensor resolves " symbol " for " #name ", cuda.h binds " #name " to "   \
                RT_STRINGIZE_EXPANDED(name));                                              \
  static_assert(std::is_same_v<as_declared<decltype(&::name)>::type, decl::rt_cuda_fn_##name>, \
                "the declared signature of " #name " (" symbol ") differs from cuda.h's");
RTENSOR_CUDA_ENTRIES(RT_CHECK_ENTRY)
#undef RT_CHECK_ENTRY

#define RT_CHECK_VALUE(name, value)                                  \
  static_assert(static_cast<long long>(name) == (value),            \
                #name " is not " #value " in cuda.h");               \
  static_assert(static_cast<long long>(decl::RT_##name) == (value), \
                "RT_" #name " is not its table value");
RTENSOR_CUDA_RESULTS(RT_CHECK_VALUE)
RTENSOR_CUDA_FLAGS(RT_CHECK_VALUE)
#undef RT_CHECK_VALUE

// How many entry points, result codes and flags were checked, for the build log.
#define RT_COUNT(...) +1
constexpr int kEntries = 0 RTENSOR_CUDA_ENTRIES(RT_COUNT);
constexpr int kResults = 0 RTENSOR_CUDA_RESULTS(RT_COUNT);
constexpr int kFlags = 0 RTENSOR_CUDA_FLAGS(RT_COUNT);
#undef RT_COUNT

#include <cstdio>

int main() {
  std::printf("cuda.h %d: %d entry points, %d result codes, %d flags match\n", CUDA_VERSION,
              kEntries, kResults, kFlags);
  return 0;
}
