// Host-memory primitives shared by every backend. Plain C++, no device runtime needed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <emmintrin.h>
#endif

namespace rtensor {

// Version of the native layer; bumped when the C ABI bound by JavaCPP changes.
inline int native_abi_version() { return 1; }

// FNV-1a over 64-bit words (tail bytewise): a fast content checksum for verifying that bytes
// moved intact. Not cryptographic.
inline uint64_t checksum64(const void* data, size_t length) {
  const unsigned char* p = static_cast<const unsigned char*>(data);
  uint64_t h = 14695981039346656037ULL;  // FNV-1a 64-bit offset basis
  const uint64_t prime = 1099511628211ULL;
  size_t words = length / 8;
  for (size_t i = 0; i < words; i++) {
    uint64_t w;
    std::memcpy(&w, p + i * 8, 8);
    h = (h ^ w) * prime;
  }
  for (size_t i = words * 8; i < length; i++) {
    h = (h ^ p[i]) * prime;
  }
  return h;
}

// memcpy that the JVM can call on raw addresses; the baseline of the host-copy benchmarks.
inline void copy_bytes(void* dst, const void* src, size_t length) { std::memcpy(dst, src, length); }

// Copies with non-temporal (streaming) stores on x86-64, so the destination's cache lines are not
// read before they are overwritten and the copy does not evict the cache: about a quarter less
// memory traffic for a large copy out of a staging buffer into memory nobody reads soon. Below
// 256 KiB, and on other processors, it is memcpy. SSE2 only, which every x86-64 processor has.
inline void stream_copy_bytes(void* dst, const void* src, size_t length) {
#if defined(__x86_64__)
  if (length < (size_t{256} << 10)) {
    std::memcpy(dst, src, length);
    return;
  }
  unsigned char* d = static_cast<unsigned char*>(dst);
  const unsigned char* s = static_cast<const unsigned char*>(src);
  size_t head = (16 - (reinterpret_cast<uintptr_t>(d) & 15)) & 15;
  std::memcpy(d, s, head);
  d += head;
  s += head;
  length -= head;
  size_t blocks = length / 64;
  for (size_t i = 0; i < blocks; i++, d += 64, s += 64) {
    __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s));
    __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 16));
    __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 32));
    __m128i e = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 48));
    _mm_stream_si128(reinterpret_cast<__m128i*>(d), a);
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + 16), b);
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + 32), c);
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + 48), e);
  }
  _mm_sfence();  // streaming stores are weakly ordered: make them visible before returning
  std::memcpy(d, s, length % 64);
#else
  std::memcpy(dst, src, length);
#endif
}

// stream_copy_bytes split across up to `threads` threads (the caller's included), each copying one
// contiguous part of at least 4 MiB: one core's copy does not reach the memory bandwidth of a
// machine, so a large copy finishes sooner on two or more. `threads` <= 1 or a copy under 8 MiB is
// stream_copy_bytes on the calling thread.
inline void parallel_copy_bytes(void* dst, const void* src, size_t length, int threads) {
  const size_t min_part = size_t{4} << 20;
  size_t parts = threads < 1 ? 1 : static_cast<size_t>(threads);
  if (parts > length / min_part) {
    parts = length / min_part;
  }
  if (parts <= 1) {
    stream_copy_bytes(dst, src, length);
    return;
  }
  unsigned char* d = static_cast<unsigned char*>(dst);
  const unsigned char* s = static_cast<const unsigned char*>(src);
  size_t part = (length / parts) & ~size_t{63};
  std::vector<std::thread> helpers;
  helpers.reserve(parts - 1);
  for (size_t i = 1; i < parts; i++) {
    size_t at = i * part;
    size_t n = i + 1 == parts ? length - at : part;
    helpers.emplace_back([d, s, at, n] { stream_copy_bytes(d + at, s + at, n); });
  }
  stream_copy_bytes(d, s, part);
  for (std::thread& t : helpers) {
    t.join();
  }
}

}  // namespace rtensor
