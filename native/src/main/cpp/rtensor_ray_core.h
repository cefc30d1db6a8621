// A direct path into the Ray core worker that Ray's Java runtime has already started in this
// process, for objects whose bytes are written and read in place: a put creates the plasma object
// and hands its memory to the caller to fill, a get hands out the address of the object's memory.
// Ray's Java API copies every object through the Java heap instead (GetByteArrayElements on put,
// a new byte[] on get), which costs more than the rest of a put and a get together.
//
// Nothing here links against Ray. The functions are found with dlsym in the library Ray's Java
// runtime loaded (libcore_worker_library_java.so), which exports its C++ symbols, and called with
// the layouts of the few Ray types they take. Those layouts were read off one build of that library
// (the GNU build id below: Ray 2.39.0, the same file in the ray-runtime jar on Maven Central and in
// the ray wheel's ray_dist.jar), so bind_api() refuses any other build and callers fall back to Ray's
// Java API. What was checked, from the library's dynamic symbols, virtual tables and disassembly:
//   - ray::Buffer's virtual table: Data, Size, OwnsData, IsPlasmaBuffer, then the destructors;
//   - ray::ObjectID: a size_t hash cache, then the 28 id bytes, packed (36 bytes: CoreWorker::Get
//     divides a vector's byte length by 36);
//   - ray::Status: one pointer, null when OK, to {code, std::string message (the pre-C++11 ABI,
//     one pointer to the characters), rpc code}; non-trivial, so returned through a hidden pointer;
//   - ray::RayObject: data at 0x00, a data factory (std::function) at 0x10, metadata at 0x30
//     (GetData() is exported and used; the metadata is read at its offset).
#pragma once

#include <dlfcn.h>
#include <link.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace rtensor {
namespace raycore {

// The builds whose layouts were checked (GNU build id, hex).
static const char* const kVerifiedBuilds[] = {
    "cf1b96001fa3e4a02c27c6413fa22cdd59261818",  // Ray 2.39.0, manylinux2014 x86_64
};

static const char kLibraryName[] = "libcore_worker_library_java.so";

// ray::ObjectID
struct __attribute__((packed)) ObjectId {
  size_t hash = 0;  // 0: not computed yet (Ray computes it on first use)
  uint8_t id[28];
};
static_assert(sizeof(ObjectId) == 36, "ray::ObjectID is 36 bytes");

// ray::Buffer's interface, in its virtual table's order.
class Buffer {
 public:
  virtual uint8_t* Data() const = 0;
  virtual size_t Size() const = 0;
  virtual bool OwnsData() const = 0;
  virtual bool IsPlasmaBuffer() const = 0;
  virtual ~Buffer() {}
};

// The metadata of a RAW object (bytes as they are): what Ray's Java runtime writes for a byte[]
// and Python's for bytes; both read such objects back as bytes.
class RawMetadata final : public Buffer {
 public:
  uint8_t* Data() const override { return const_cast<uint8_t*>(kRaw); }
  size_t Size() const override { return 3; }
  bool OwnsData() const override { return true; }
  bool IsPlasmaBuffer() const override { return false; }

 private:
  static constexpr uint8_t kRaw[3] = {'R', 'A', 'W'};
};

// ray::Status: null when OK.
struct StatusState {
  char code;
  const char* message;  // std::string, pre-C++11 ABI: a pointer to its characters
  int rpc_code;
};

struct Status;
using StatusDestructor = void (*)(Status*);
inline StatusDestructor& status_destructor() {
  static StatusDestructor fn = nullptr;
  return fn;
}

struct Status {
  StatusState* state = nullptr;
  Status() = default;
  Status(const Status&) = delete;
  Status& operator=(const Status&) = delete;
  ~Status() {
    if (state != nullptr && status_destructor() != nullptr) {
      status_destructor()(this);
    }
  }
  bool ok() const { return state == nullptr; }
};

struct Address {};  // ray::rpc::Address: only ever passed as a null unique_ptr
struct CoreWorker;  // ray::core::CoreWorker: only its address is used
struct RayObject;   // ray::RayObject: see kMetadataOffset

static const size_t kMetadataOffset = 0x30;

using GetCoreWorkerFn = CoreWorker* (*)();
using CreateOwnedFn = Status (*)(CoreWorker*, bool is_experimental_mutable_object,
                                 const std::shared_ptr<Buffer>& metadata, unsigned long data_size,
                                 const std::vector<ObjectId>& contained_object_ids,
                                 ObjectId* object_id, std::shared_ptr<Buffer>* data,
                                 bool created_by_worker,
                                 const std::unique_ptr<Address>& owner_address,
                                 bool inline_small_object);
using SealOwnedFn = Status (*)(CoreWorker*, const ObjectId& object_id, bool pin_object,
                               const std::unique_ptr<Address>& owner_address);
using GetFn = Status (*)(CoreWorker*, const std::vector<ObjectId>& ids, long timeout_ms,
                         std::vector<std::shared_ptr<RayObject>>& results);
using GetDataFn = std::shared_ptr<Buffer> (*)(const RayObject*);
using IsExceptionFn = bool (*)(const RayObject*, int* error_type);

struct Api {
  GetCoreWorkerFn get_core_worker = nullptr;
  CreateOwnedFn create_owned = nullptr;
  SealOwnedFn seal_owned = nullptr;
  GetFn get = nullptr;
  GetDataFn get_data = nullptr;
  IsExceptionFn is_exception = nullptr;
};

inline Api& api() {
  static Api a;
  return a;
}

inline std::string& last_error() {
  static thread_local std::string text;
  return text;
}

inline void set_error(const std::string& text) { last_error() = text; }

inline void set_error(const std::string& what, const Status& status) {
  std::string text = what;
  if (status.state != nullptr) {
    text += ": ";
    text += status.state->message != nullptr ? status.state->message : "(no message)";
    text += " (Ray status code " + std::to_string(static_cast<int>(status.state->code)) + ")";
  }
  last_error() = text;
}

struct Found {
  std::string path;
  std::string build_id;
};

inline int find_library(struct dl_phdr_info* info, size_t, void* data) {
  Found* found = static_cast<Found*>(data);
  const char* name = info->dlpi_name;
  if (name == nullptr) {
    return 0;
  }
  size_t n = std::strlen(name);
  size_t k = sizeof(kLibraryName) - 1;
  if (n < k || std::strcmp(name + n - k, kLibraryName) != 0) {
    return 0;
  }
  found->path = name;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_NOTE) {
      continue;
    }
    const char* p = reinterpret_cast<const char*>(info->dlpi_addr + ph.p_vaddr);
    const char* end = p + ph.p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      const ElfW(Nhdr)* note = reinterpret_cast<const ElfW(Nhdr)*>(p);
      const char* name_at = p + sizeof(ElfW(Nhdr));
      const char* desc_at = name_at + ((note->n_namesz + 3) & ~3u);
      if (note->n_type == NT_GNU_BUILD_ID && note->n_namesz == 4 &&
          std::memcmp(name_at, "GNU", 4) == 0) {
        static const char hex[] = "0123456789abcdef";
        std::string id;
        for (unsigned j = 0; j < note->n_descsz; j++) {
          unsigned char b = static_cast<unsigned char>(desc_at[j]);
          id += hex[b >> 4];
          id += hex[b & 15];
        }
        found->build_id = id;
        return 1;
      }
      p = desc_at + ((note->n_descsz + 3) & ~3u);
    }
  }
  return 1;
}

template <typename Fn>
inline bool bind(void* handle, const char* symbol, Fn* out, std::string* missing) {
  void* p = dlsym(handle, symbol);
  if (p == nullptr) {
    if (!missing->empty()) {
      *missing += ", ";
    }
    *missing += symbol;
    return false;
  }
  *out = reinterpret_cast<Fn>(p);
  return true;
}

// 0: bound. 1: Ray's core worker library is not loaded in this process. 2: it is a build whose
// layouts were not checked. 3: a symbol is missing. The reason is in last_error().
inline int open_impl() {
  Found found;
  dl_iterate_phdr(find_library, &found);
  if (found.path.empty()) {
    set_error(std::string(kLibraryName) +
              " is not loaded in this process (Ray's Java runtime loads it when Ray starts)");
    return 1;
  }
  bool verified = false;
  for (const char* id : kVerifiedBuilds) {
    verified = verified || found.build_id == id;
  }
  if (!verified) {
    set_error(found.path + " has build id '" + found.build_id +
              "', not one whose layouts rtensor checked (Ray 2.39.0's)");
    return 2;
  }
  void* handle = dlopen(found.path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (handle == nullptr) {
    const char* e = dlerror();
    set_error("dlopen(" + found.path + ", RTLD_NOLOAD) failed: " + (e != nullptr ? e : "?"));
    return 1;
  }
  Api a;
  StatusDestructor destructor = nullptr;
  std::string missing;
  bool ok = true;
  ok &= bind(handle, "_ZN3ray4core17CoreWorkerProcess13GetCoreWorkerEv", &a.get_core_worker,
             &missing);
  ok &= bind(handle,
             "_ZN3ray4core10CoreWorker31CreateOwnedAndIncrementLocalRefEbRKSt10shared_ptrINS_"
             "6BufferEEmRKSt6vectorINS_8ObjectIDESaIS8_EEPS8_PS4_bRKSt10unique_ptrINS_3rpc7Addres"
             "sESt14default_deleteISH_EEb",
             &a.create_owned, &missing);
  ok &= bind(handle,
             "_ZN3ray4core10CoreWorker9SealOwnedERKNS_8ObjectIDEbRKSt10unique_ptrINS_3rpc7Address"
             "ESt14default_deleteIS7_EE",
             &a.seal_owned, &missing);
  ok &= bind(handle,
             "_ZN3ray4core10CoreWorker3GetERKSt6vectorINS_8ObjectIDESaIS3_EElRS2_ISt10shared_ptrI"
             "NS_9RayObjectEESaISA_EE",
             &a.get, &missing);
  ok &= bind(handle, "_ZNK3ray9RayObject7GetDataEv", &a.get_data, &missing);
  ok &= bind(handle, "_ZNK3ray9RayObject11IsExceptionEPNS_3rpc9ErrorTypeE", &a.is_exception,
             &missing);
  ok &= bind(handle, "_ZN3ray6StatusD1Ev", &destructor, &missing);
  dlclose(handle);  // RTLD_NOLOAD took a reference; Ray's own load keeps the library mapped
  if (!ok) {
    set_error(found.path + " lacks " + missing);
    return 3;
  }
  status_destructor() = destructor;
  api() = a;
  return 0;
}

// Binds the core worker functions once; every later call returns the first call's result.
inline int bind_api() {
  static std::once_flag once;
  static int result = -1;
  static std::string reason;
  std::call_once(once, [] {
    result = open_impl();
    reason = result == 0 ? "" : last_error();
  });
  if (result != 0) {
    set_error(reason);
  }
  return result;
}

inline const char* error_text() { return last_error().c_str(); }

inline std::shared_ptr<Buffer> raw_metadata() {
  static RawMetadata metadata;
  static std::shared_ptr<Buffer> shared(&metadata, [](Buffer*) {});
  return shared;
}

// A created object's memory, held until sealed.
struct Created {
  ObjectId id;
  std::shared_ptr<Buffer> data;
};

// Creates an object of `size` bytes with RAW metadata, owned by this process with one local
// reference (as Ray.put's objects are). Writes its id (28 bytes) to `id_out` and its memory's
// address to `out[1]`; `out[0]` is the handle to pass to seal_object(). 0 on success.
inline int create_object(int64_t size, uint8_t* id_out, int64_t* out) {
  if (bind_api() != 0) {
    return -1;
  }
  if (size < 0) {
    set_error("negative object size " + std::to_string(size));
    return -1;
  }
  CoreWorker* worker = api().get_core_worker();
  std::unique_ptr<Created> created(new Created());
  std::vector<ObjectId> contained;
  std::unique_ptr<Address> owner;
  Status status = api().create_owned(worker, false, raw_metadata(), static_cast<unsigned long>(size),
                                     contained, &created->id, &created->data, true, owner, false);
  if (!status.ok()) {
    set_error("creating a plasma object of " + std::to_string(size) + " bytes failed", status);
    return -1;
  }
  std::memcpy(id_out, created->id.id, sizeof(created->id.id));
  if (created->data == nullptr) {
    set_error("the core worker returned no memory for a new object");
    return -1;
  }
  out[1] = static_cast<int64_t>(reinterpret_cast<uintptr_t>(created->data->Data()));
  out[0] = static_cast<int64_t>(reinterpret_cast<uintptr_t>(created.release()));
  return 0;
}

// Seals the object of `handle` (from create_object()) and asks the raylet to pin it, as Ray.put does;
// the handle is gone afterwards whatever the result. On failure Ray has dropped the local reference.
inline int seal_object(int64_t handle) {
  std::unique_ptr<Created> created(reinterpret_cast<Created*>(static_cast<uintptr_t>(handle)));
  created->data.reset();
  std::unique_ptr<Address> owner;
  Status status = api().seal_owned(api().get_core_worker(), created->id, true, owner);
  if (!status.ok()) {
    set_error("sealing a plasma object failed", status);
    return -1;
  }
  return 0;
}

// Per object of a get: 0 bytes readable at out[1] (size out[2]); 1 an error object (a Ray error
// type in out[2], e.g. the object was freed or its owner died); 2 an object that is not RAW bytes.
static const int kObjectBytes = 0;
static const int kObjectError = 1;
static const int kObjectNotRaw = 2;

// Gets `count` objects (ids: count x 28 bytes) in one call, waiting at most `timeout_ms` (-1:
// forever). For object i: kinds[i] as above and out[3i..3i+2] = {handle, address, size or error
// type}; every handle must be released with release_object(); the memory stays mapped until then. 0 on success (every object answered), -1 on failure (none is held).
inline int get_objects(const uint8_t* ids, int count, int64_t timeout_ms, int32_t* kinds, int64_t* out) {
  if (bind_api() != 0) {
    return -1;
  }
  std::vector<ObjectId> wanted(static_cast<size_t>(count));
  for (int i = 0; i < count; i++) {
    std::memcpy(wanted[i].id, ids + 28 * i, 28);
  }
  // Sized here so Ray's resize() allocates nothing.
  std::vector<std::shared_ptr<RayObject>> results(static_cast<size_t>(count));
  Status status = api().get(api().get_core_worker(), wanted, static_cast<long>(timeout_ms), results);
  if (!status.ok()) {
    set_error("getting " + std::to_string(count) + " objects failed", status);
    return -1;
  }
  for (int i = 0; i < count; i++) {
    if (results[i] == nullptr) {
      set_error("the core worker answered no object for entry " + std::to_string(i));
      return -1;
    }
  }
  for (int i = 0; i < count; i++) {
    const RayObject* object = results[i].get();
    int error_type = 0;
    int64_t* o = out + 3 * i;
    if (api().is_exception(object, &error_type)) {
      kinds[i] = kObjectError;
      o[0] = 0;
      o[1] = 0;
      o[2] = error_type;
      continue;
    }
    const std::shared_ptr<Buffer>& metadata = *reinterpret_cast<const std::shared_ptr<Buffer>*>(
        reinterpret_cast<const char*>(object) + kMetadataOffset);
    bool raw = metadata != nullptr && metadata->Size() == 3 &&
               std::memcmp(metadata->Data(), "RAW", 3) == 0;
    if (!raw) {
      kinds[i] = kObjectNotRaw;
      o[0] = 0;
      o[1] = 0;
      o[2] = metadata == nullptr ? 0 : static_cast<int64_t>(metadata->Size());
      continue;
    }
    std::shared_ptr<Buffer> data = api().get_data(object);
    kinds[i] = kObjectBytes;
    o[1] = data == nullptr ? 0 : static_cast<int64_t>(reinterpret_cast<uintptr_t>(data->Data()));
    o[2] = data == nullptr ? 0 : static_cast<int64_t>(data->Size());
    o[0] = static_cast<int64_t>(
        reinterpret_cast<uintptr_t>(new std::shared_ptr<RayObject>(std::move(results[i]))));
  }
  return 0;
}

// Releases an object of get_objects() (a zero handle is ignored): Ray may then unmap its memory.
inline void release_object(int64_t handle) {
  delete reinterpret_cast<std::shared_ptr<RayObject>*>(static_cast<uintptr_t>(handle));
}

}  // namespace raycore
}  // namespace rtensor
