// Host-memory primitives shared by every backend. Plain C++, no device runtime needed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

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

}  // namespace rtensor
