// Counts heap allocations at the malloc level (malloc, calloc, realloc, aligned_alloc,
// posix_memalign, memalign), which also sees the coroutine frames Asio takes from aligned_alloc
// and that a counting operator new would miss. Include in exactly one translation unit (glibc).
// noexcept as glibc (and GCC's <mm_malloc.h>) declare them in C++.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cerrno>

extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
}

namespace bench {
inline std::atomic<std::uint64_t> allocations{0};
inline std::uint64_t allocation_count() noexcept { return allocations.load(std::memory_order_relaxed); }
}  // namespace bench

extern "C" {
void* malloc(std::size_t n) noexcept {
  bench::allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_malloc(n);
}
void* calloc(std::size_t n, std::size_t s) noexcept {
  bench::allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_calloc(n, s);
}
void* realloc(void* p, std::size_t n) noexcept {
  bench::allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_realloc(p, n);
}
void* aligned_alloc(std::size_t a, std::size_t n) noexcept {
  bench::allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_memalign(a, n);
}
void* memalign(std::size_t a, std::size_t n) noexcept {
  bench::allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_memalign(a, n);
}
int posix_memalign(void** out, std::size_t a, std::size_t n) noexcept {
  bench::allocations.fetch_add(1, std::memory_order_relaxed);
  void* p = __libc_memalign(a, n);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}
}
