// The C++ baseline of the D2H benchmark: cuMemcpyDtoHAsync from cuMemAlloc memory into
// cuMemAllocHost memory on one stream, timed around the copy and a stream synchronize, the same way
// the Java benchmark times rtensor. Opens the driver with dlopen (libcuda.so.1, or the file named by
// RTENSOR_CUDA_LIBRARY) through rtensor's own declarations: no CUDA headers or toolkit needed.
//
// Usage: d2h_baseline [--sizes-mib 1,4,16,...] [--reps N]
// Prints one line per size: "baseline size_bytes=<n> median_s=<t> gbps=<GB/s>".
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "rtensor_cuda_api.h"

namespace {

struct Driver {
#define BASELINE_FIELD(name, symbol, params) rt_cuda_fn_##name name = nullptr;
  RTENSOR_CUDA_ENTRIES(BASELINE_FIELD)
#undef BASELINE_FIELD
};

Driver driver;

void check(CUresult r, const char* what) {
  if (r == 0) return;
  const char* name = nullptr;
  if (driver.cuGetErrorName == nullptr || driver.cuGetErrorName(r, &name) != 0) name = "?";
  std::fprintf(stderr, "d2h_baseline: %s failed: %s (%d)\n", what, name ? name : "?", r);
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<long> sizes_mib = {1, 4, 16, 64, 256, 1024};
  int reps = 10;
  for (int i = 1; i < argc; i++) {
    if (std::strcmp(argv[i], "--sizes-mib") == 0 && i + 1 < argc) {
      sizes_mib.clear();
      std::string list = argv[++i];
      size_t start = 0;
      while (start < list.size()) {
        size_t comma = list.find(',', start);
        if (comma == std::string::npos) comma = list.size();
        sizes_mib.push_back(std::atol(list.substr(start, comma - start).c_str()));
        start = comma + 1;
      }
    } else if (std::strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
      reps = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: d2h_baseline [--sizes-mib 1,4,16] [--reps N]\n");
      return 2;
    }
  }
  const char* path = std::getenv("RTENSOR_CUDA_LIBRARY");
  if (path == nullptr || *path == 0) path = "libcuda.so.1";
  void* handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    std::printf("baseline skipped: cannot open %s: %s\n", path, dlerror());
    return 3;
  }
#define BASELINE_RESOLVE(name, symbol, params)                                    \
  driver.name = reinterpret_cast<rt_cuda_fn_##name>(dlsym(handle, symbol));       \
  if (driver.name == nullptr) {                                                   \
    std::printf("baseline skipped: %s does not export %s\n", path, symbol);       \
    return 3;                                                                     \
  }
  RTENSOR_CUDA_ENTRIES(BASELINE_RESOLVE)
#undef BASELINE_RESOLVE

  check(driver.cuInit(0), "cuInit");
  CUdevice device = 0;
  check(driver.cuDeviceGet(&device, 0), "cuDeviceGet");
  CUcontext ctx = nullptr;
  check(driver.cuDevicePrimaryCtxRetain(&ctx, device), "cuDevicePrimaryCtxRetain");
  check(driver.cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
  char name[256] = {0};
  check(driver.cuDeviceGetName(name, sizeof(name), device), "cuDeviceGetName");
  std::printf("baseline device=\"%s\" library=%s\n", name, path);
  CUstream stream = nullptr;
  check(driver.cuStreamCreate(&stream, RT_CU_STREAM_NON_BLOCKING), "cuStreamCreate");

  for (long mib : sizes_mib) {
    size_t bytes = static_cast<size_t>(mib) << 20;
    CUdeviceptr src = 0;
    void* dst = nullptr;
    check(driver.cuMemAlloc(&src, bytes), "cuMemAlloc");
    check(driver.cuMemsetD8(src, 0x5A, bytes), "cuMemsetD8");
    check(driver.cuMemAllocHost(&dst, bytes), "cuMemAllocHost");
    std::vector<double> seconds;
    for (int r = -2; r < reps; r++) {  // two warm-up copies
      auto t0 = std::chrono::steady_clock::now();
      check(driver.cuMemcpyDtoHAsync(dst, src, bytes, stream), "cuMemcpyDtoHAsync");
      check(driver.cuStreamSynchronize(stream), "cuStreamSynchronize");
      auto t1 = std::chrono::steady_clock::now();
      if (r >= 0) seconds.push_back(std::chrono::duration<double>(t1 - t0).count());
    }
    std::sort(seconds.begin(), seconds.end());
    double median = seconds[seconds.size() / 2];
    if (static_cast<unsigned char*>(dst)[bytes - 1] != 0x5A) {
      std::fprintf(stderr, "d2h_baseline: wrong bytes after the copy\n");
      return 1;
    }
    std::printf("baseline size_bytes=%zu median_s=%.9f gbps=%.3f\n", bytes, median,
                static_cast<double>(bytes) / median / 1e9);
    std::fflush(stdout);
    check(driver.cuMemFreeHost(dst), "cuMemFreeHost");
    check(driver.cuMemFree(src), "cuMemFree");
  }
  check(driver.cuStreamDestroy(stream), "cuStreamDestroy");
  check(driver.cuDevicePrimaryCtxRelease(device), "cuDevicePrimaryCtxRelease");
  return 0;
}
