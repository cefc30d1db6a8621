// Compiles rtensor's AscendCL declarations (rtensor_acl_api.h) beside the AscendCL headers of CANN
// (acl/acl.h) and fails to compile where they differ. Built by check-vendor-headers.sh with the
// headers from a pinned wheel that ships them; never linked against ACL. The fake ACL checks its
// entry points against rtensor's declarations (FAKE_CHECK in fake_acl.cpp), so through this file the
// fake is checked against the vendor too.
//
// Asserted: for every entry of RTENSOR_ACL_ENTRIES and RTENSOR_ACL_OPTIONAL_ENTRIES, that the
// exported symbol rtensor resolves is the function's name and that the function-pointer type equals
// the type of the vendor's declaration (rtensor's copies of the three enums standing for the
// vendor's, checked to have the same size and enumerator values); for every code of
// RTENSOR_ACL_RESULTS, that the vendor defines it with the same value; and that aclError and
// aclrtStream are the vendor's types.
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include <acl/acl.h>

// rtensor's declarations in a namespace of their own, so that its copies of the enums do not clash
// with the vendor's.
namespace decl {
#include "rtensor_acl_api.h"
}

namespace {

// The vendor's type as rtensor spells it: its enums are rtensor's copies, the rest is unchanged.
template <class T>
struct as_declared {
  using type = T;
};
template <>
struct as_declared<::aclrtMemcpyKind> {
  using type = decl::aclrtMemcpyKind;
};
template <>
struct as_declared<::aclrtMemMallocPolicy> {
  using type = decl::aclrtMemMallocPolicy;
};
template <>
struct as_declared<::aclrtMemAttr> {
  using type = decl::aclrtMemAttr;
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

static_assert(std::is_same_v<decl::aclError, ::aclError>, "aclError differs from acl_base.h");
static_assert(std::is_same_v<decl::aclrtStream, ::aclrtStream>, "aclrtStream differs");
static_assert(sizeof(decl::aclrtMemcpyKind) == sizeof(::aclrtMemcpyKind), "aclrtMemcpyKind size");
static_assert(sizeof(decl::aclrtMemMallocPolicy) == sizeof(::aclrtMemMallocPolicy),
              "aclrtMemMallocPolicy size");
static_assert(sizeof(decl::aclrtMemAttr) == sizeof(::aclrtMemAttr), "aclrtMemAttr size");

// Every enumerator rtensor_acl_api.h declares.
#define RT_ACL_ENUMERATORS(X)   \
  X(ACL_MEMCPY_HOST_TO_HOST)    \
  X(ACL_MEMCPY_HOST_TO_DEVICE)  \
  X(ACL_MEMCPY_DEVICE_TO_HOST)  \
  X(ACL_MEMCPY_DEVICE_TO_DEVICE) \
  X(ACL_MEM_MALLOC_HUGE_FIRST)  \
  X(ACL_MEM_MALLOC_HUGE_ONLY)   \
  X(ACL_MEM_MALLOC_NORMAL_ONLY) \
  X(ACL_DDR_MEM)                \
  X(ACL_HBM_MEM)
#define RT_CHECK_ENUMERATOR(name)                                                      \
  static_assert(static_cast<long long>(decl::name) == static_cast<long long>(::name), \
                #name " differs from the vendor's value");
RT_ACL_ENUMERATORS(RT_CHECK_ENUMERATOR)
#undef RT_CHECK_ENUMERATOR

#define RT_CHECK_ENTRY(name, symbol, ret, params)                                          \
  static_assert(same_text(symbol, #name), "rtensor resolves " symbol " for " #name);      \
  static_assert(std::is_same_v<as_declared<decltype(&::name)>::type, decl::rt_acl_fn_##name>, \
                "the declared signature of " #name " differs from the vendor's");
RTENSOR_ACL_ENTRIES(RT_CHECK_ENTRY)
RTENSOR_ACL_OPTIONAL_ENTRIES(RT_CHECK_ENTRY)
#undef RT_CHECK_ENTRY

// The ACL_ERROR_RT_* codes are macros, the others constants: both are looked up unqualified.
#define RT_CHECK_VALUE(name, value)                                  \
  static_assert(static_cast<long long>(name) == (value),            \
                #name " is not " #value " in the vendor's headers"); \
  static_assert(static_cast<long long>(decl::RT_##name) == (value), \
                "RT_" #name " is not its table value");
RTENSOR_ACL_RESULTS(RT_CHECK_VALUE)
#undef RT_CHECK_VALUE

#define RT_COUNT(...) +1
constexpr int kEntries = 0 RTENSOR_ACL_ENTRIES(RT_COUNT) RTENSOR_ACL_OPTIONAL_ENTRIES(RT_COUNT);
constexpr int kResults = 0 RTENSOR_ACL_RESULTS(RT_COUNT);
constexpr int kEnumerators = 0 RT_ACL_ENUMERATORS(RT_COUNT);
#undef RT_COUNT

#include <cstdio>

int main() {
  std::printf("acl/acl.h: %d entry points, %d error codes, %d enumerators match\n", kEntries,
              kResults, kEnumerators);
  return 0;
}
