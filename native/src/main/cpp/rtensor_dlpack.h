// DLPack import and export for rtensor's device tensors, bound by JavaCPP together with
// rtensor_device.h (io.rtensor.device.internal.DeviceOps), whose runtimes free owned memory.
//
// Memory a tensor lives in is held by a lease: a reference count kept here, in native code, so that
// the last reference may be dropped by Java (closing a tensor) or by a foreign consumer calling the
// deleter of an exported DLManagedTensor, on any thread, without the JVM. A lease is either owned
// (allocated by rtensor with mem_alloc, freed with mem_free) or imported (a producer's
// DLManagedTensor, whose deleter is called exactly once, when the last reference goes).
#pragma once

#include <atomic>
#include <cstdint>
#include <new>

#include "rtensor_device.h"
#include "rtensor_dlpack_api.h"

namespace rtensor {

namespace detail {

enum : int { LEASE_OWNED = 0, LEASE_IMPORTED = 1 };

struct Lease {
  std::atomic<long long> refs{1};
  int kind = LEASE_OWNED;
  int backend = BACKEND_CPU;
  int device = 0;
  uint64_t ptr = 0;                      // owned: the allocation
  DLManagedTensor* producer = nullptr;  // imported: the producer's tensor
};

inline std::atomic<long long> live_leases{0};

// What a DLManagedTensor exported by rtensor carries along: the lease it holds a reference to, and
// the shape and strides its DLTensor points at.
struct Export {
  DLManagedTensor managed;
  Lease* lease;
  int64_t dims[1];  // shape[ndim] then strides[ndim], allocated past the struct
};

// Frees the lease's memory once its last reference is gone; 0 or the runtime's error code.
inline int drop(Lease* lease) {
  if (lease->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return 0;
  int r = 0;
  if (lease->kind == LEASE_IMPORTED) {
    DLManagedTensor* producer = lease->producer;
    if (producer != nullptr && producer->deleter != nullptr) producer->deleter(producer);
  } else {
    r = mem_free(lease->backend, lease->device, lease->ptr);
  }
  delete lease;
  live_leases.fetch_sub(1);
  return r;
}

// The deleter of every DLManagedTensor rtensor exports: drops the export's reference. A failure to
// free has no one to report to here; the runtime's last error stays set on this thread.
inline void export_deleter(DLManagedTensor* self) {
  if (self == nullptr) return;
  Export* e = static_cast<Export*>(self->manager_ctx);
  Lease* lease = e->lease;
  ::operator delete(e);
  drop(lease);
}

inline Lease* lease_of(uint64_t handle) {
  return reinterpret_cast<Lease*>(static_cast<uintptr_t>(handle));
}

}  // namespace detail

// Allocates `bytes` of device memory into a new owned lease: out[0] = the lease, out[1] = the
// memory. 0, or the runtime's error code (last error set).
inline int lease_allocate(int backend, int dev, size_t bytes, uint64_t* out) {
  using namespace detail;
  out[0] = out[1] = 0;
  uint64_t ptr = 0;
  int r = mem_alloc(backend, dev, bytes, &ptr);
  if (r != 0) return r;
  Lease* lease = new (std::nothrow) Lease();
  if (lease == nullptr) {
    mem_free(backend, dev, ptr);
    return fail(RT_E_HOST_OUT_OF_MEMORY, "RTENSOR_HOST_OUT_OF_MEMORY", "lease");
  }
  lease->backend = backend;
  lease->device = dev;
  lease->ptr = ptr;
  live_leases.fetch_add(1);
  out[0] = reinterpret_cast<uintptr_t>(lease);
  out[1] = ptr;
  return 0;
}

// Takes ownership of a producer's DLManagedTensor: from here on its deleter is called exactly once,
// when the lease's last reference is dropped. If not even the lease can be allocated, the deleter
// is called at once and RT_E_HOST_OUT_OF_MEMORY returned. *out = the lease.
inline int lease_import(uint64_t managed, uint64_t* out) {
  using namespace detail;
  *out = 0;
  DLManagedTensor* m = reinterpret_cast<DLManagedTensor*>(static_cast<uintptr_t>(managed));
  if (m == nullptr) {
    return fail(RT_E_INVALID_ARGUMENT, "RTENSOR_INVALID_ARGUMENT", "null DLManagedTensor");
  }
  Lease* lease = new (std::nothrow) Lease();
  if (lease == nullptr) {
    if (m->deleter != nullptr) m->deleter(m);
    return fail(RT_E_HOST_OUT_OF_MEMORY, "RTENSOR_HOST_OUT_OF_MEMORY", "lease");
  }
  lease->kind = LEASE_IMPORTED;
  lease->producer = m;
  live_leases.fetch_add(1);
  *out = reinterpret_cast<uintptr_t>(lease);
  return 0;
}

// Reads a DLManagedTensor's DLTensor: meta = {device_type, device_id, ndim, code, bits, lanes,
// data, byte_offset, has strides}; shape and strides get ndim entries when ndim <= max_ndim
// (RT_E_INVALID_ARGUMENT otherwise, or for a negative ndim or missing shape).
inline int dlpack_describe(uint64_t managed, int64_t* meta, int64_t* shape, int64_t* strides,
                           int max_ndim) {
  using namespace detail;
  const DLManagedTensor* m =
      reinterpret_cast<const DLManagedTensor*>(static_cast<uintptr_t>(managed));
  if (m == nullptr) {
    return fail(RT_E_INVALID_ARGUMENT, "RTENSOR_INVALID_ARGUMENT", "null DLManagedTensor");
  }
  const DLTensor& t = m->dl_tensor;
  meta[0] = t.device.device_type;
  meta[1] = t.device.device_id;
  meta[2] = t.ndim;
  meta[3] = t.dtype.code;
  meta[4] = t.dtype.bits;
  meta[5] = t.dtype.lanes;
  meta[6] = static_cast<int64_t>(reinterpret_cast<uintptr_t>(t.data));
  meta[7] = static_cast<int64_t>(t.byte_offset);
  meta[8] = t.strides != nullptr ? 1 : 0;
  if (t.ndim < 0 || t.ndim > max_ndim) {
    return fail(RT_E_INVALID_ARGUMENT, "RTENSOR_DLPACK_NDIM", "ndim out of range");
  }
  if (t.ndim > 0 && t.shape == nullptr) {
    return fail(RT_E_INVALID_ARGUMENT, "RTENSOR_DLPACK_SHAPE", "null shape");
  }
  for (int i = 0; i < t.ndim; i++) {
    shape[i] = t.shape[i];
    strides[i] = t.strides != nullptr ? t.strides[i] : 0;
  }
  return 0;
}

// Another reference to a lease; returns the count after it.
inline long long lease_retain(uint64_t lease) {
  return detail::lease_of(lease)->refs.fetch_add(1, std::memory_order_relaxed) + 1;
}

// Drops a reference; the last frees the memory (mem_free) or calls the producer's deleter. 0, or
// the runtime's error code from freeing (last error set).
inline int lease_release(uint64_t lease) { return detail::drop(detail::lease_of(lease)); }

// Exports `data` (inside the lease's memory) as a new DLManagedTensor holding one more reference to
// the lease, with compact row-major strides; *out = its address. The consumer calls its deleter
// once.
inline int dlpack_export(uint64_t lease, uint64_t data, int device_type, int device_id, int code,
                         int bits, int ndim, const int64_t* shape, uint64_t* out) {
  using namespace detail;
  *out = 0;
  if (ndim < 0 || (ndim > 0 && shape == nullptr)) {
    return fail(RT_E_INVALID_ARGUMENT, "RTENSOR_INVALID_ARGUMENT", "ndim or shape");
  }
  size_t size = sizeof(Export) + sizeof(int64_t) * (2 * static_cast<size_t>(ndim));
  Export* e = static_cast<Export*>(::operator new(size, std::nothrow));
  if (e == nullptr) return fail(RT_E_HOST_OUT_OF_MEMORY, "RTENSOR_HOST_OUT_OF_MEMORY", "export");
  int64_t* dims = e->dims;
  int64_t stride = 1;
  for (int i = ndim - 1; i >= 0; i--) {
    dims[i] = shape[i];
    dims[ndim + i] = stride;
    stride *= shape[i] > 0 ? shape[i] : 1;
  }
  DLTensor& t = e->managed.dl_tensor;
  t.data = to_ptr(data);
  t.device.device_type = device_type;
  t.device.device_id = device_id;
  t.ndim = ndim;
  t.dtype.code = static_cast<uint8_t>(code);
  t.dtype.bits = static_cast<uint8_t>(bits);
  t.dtype.lanes = 1;
  t.shape = dims;
  t.strides = dims + ndim;
  t.byte_offset = 0;
  e->managed.manager_ctx = e;
  e->managed.deleter = export_deleter;
  e->lease = lease_of(lease);
  lease_retain(lease);
  *out = reinterpret_cast<uintptr_t>(&e->managed);
  return 0;
}

// Calls a DLManagedTensor's deleter, as a consumer that is done with it does.
inline void dlpack_delete(uint64_t managed) {
  DLManagedTensor* m = reinterpret_cast<DLManagedTensor*>(static_cast<uintptr_t>(managed));
  if (m != nullptr && m->deleter != nullptr) m->deleter(m);
}

// Leases whose memory has not been released yet: a leak check for tests.
inline long long live_leases() { return detail::live_leases.load(); }

// ---- test hooks: a DLPack producer in the fake runtimes ------------------------------------------

// A DLManagedTensor made by the fake runtime (fake_dlpack_make): memory on the fake's device
// (device_type kDLCUDA / kDLAscend) or host memory (kDLCPU), filled with a byte pattern of seed;
// strides may be null. Its deleter counts its calls (fake_dlpack_count). 0 if not a fake.
inline uint64_t fake_dlpack_make(int backend, int device_type, int device_id, int code, int bits,
                                 int lanes, int ndim, const int64_t* shape, const int64_t* strides,
                                 uint64_t byte_offset, int seed) {
  auto fn = reinterpret_cast<DLManagedTensor* (*)(int32_t, int32_t, uint8_t, uint8_t, uint16_t,
                                                  int32_t, const int64_t*, const int64_t*,
                                                  uint64_t, int)>(
      fake_symbol(backend, "fake_dlpack_make"));
  if (fn == nullptr) return 0;
  return reinterpret_cast<uintptr_t>(fn(device_type, device_id, static_cast<uint8_t>(code),
                                        static_cast<uint8_t>(bits), static_cast<uint16_t>(lanes),
                                        ndim, shape, strides, byte_offset, seed));
}

// The fake producer's counters: 0 tensors made, 1 deleter calls, 2 deleter calls on a tensor
// already deleted (never legitimate), 3 tensors not deleted yet.
inline long long fake_dlpack_count(int backend, int which) {
  auto fn = reinterpret_cast<long long (*)(int)>(fake_symbol(backend, "fake_dlpack_count"));
  return fn ? fn(which) : static_cast<long long>(RT_E_UNSUPPORTED);
}

}  // namespace rtensor
