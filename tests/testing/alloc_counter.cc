#include "tests/testing/alloc_counter.h"

#include <atomic>
#include <cstdlib>
#include <new>

// GCC inlines the replaced operators and then sees free() on memory from
// "new": they are the same malloc/free pair on purpose.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace {

std::atomic<uint64_t> g_allocations{0};

void* Counted(size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n == 0 ? 1 : n);
}

void* CountedAligned(size_t n, std::align_val_t al) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  const size_t a = static_cast<size_t>(al);
  const size_t rounded = (n + a - 1) / a * a;
  return std::aligned_alloc(a, rounded == 0 ? a : rounded);
}

void* OrThrow(void* p) {
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

}  // namespace

namespace konseki::testing {
uint64_t AllocationCount() { return g_allocations.load(std::memory_order_relaxed); }
}  // namespace konseki::testing

void* operator new(size_t n) { return OrThrow(Counted(n)); }
void* operator new[](size_t n) { return OrThrow(Counted(n)); }
void* operator new(size_t n, const std::nothrow_t&) noexcept { return Counted(n); }
void* operator new[](size_t n, const std::nothrow_t&) noexcept { return Counted(n); }
void* operator new(size_t n, std::align_val_t al) { return OrThrow(CountedAligned(n, al)); }
void* operator new[](size_t n, std::align_val_t al) { return OrThrow(CountedAligned(n, al)); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { std::free(p); }
