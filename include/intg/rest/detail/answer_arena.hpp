// Where a provider's answer is parsed: a Boost.JSON memory resource that bump-allocates from a
// block kept warm in a small per-thread cache, and frees the whole tree at once.
//
// An answer's JSON tree is short-lived (classified, paged, decoded into the model, dropped) and
// made of many small nodes: on the default allocator a 5.6 KB page of ten Stripe customers costs
// a few hundred malloc/free pairs, a quarter of the client's user time. A plain
// boost::json::monotonic_resource was measured slower, because its blocks are fresh pages on every
// call; here the first block is reused, so a usual answer touches no allocator at all. Larger
// answers grow into heap blocks as monotonic_resource does.
//
// Deallocation is a no-op (is_deallocate_trivial): a tree whose storage_ptr points at an arena
// it does not share is dropped without walking it. The owner keeps the arena alive longer than
// every value in it; a value that must outlive the arena is copied with a storage of its own
// (`json::value(v, json::storage_ptr())`). Like monotonic_resource it is not thread-safe.
#pragma once

#include <boost/json/memory_resource.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/storage_ptr.hpp>

#include <cstddef>
#include <memory>
#include <type_traits>
#include <vector>

namespace intg::rest::detail {

class answer_arena final : public boost::json::memory_resource {
 public:
  static constexpr std::size_t block_size = std::size_t{32} << 10;

  answer_arena() : block_(take()), resource_(block_.get(), block_size) {}
  ~answer_arena() override { give(std::move(block_)); }  // resource_ frees only its own heap blocks
  answer_arena(const answer_arena&) = delete;
  answer_arena& operator=(const answer_arena&) = delete;

 private:
  using block = std::unique_ptr<unsigned char[]>;
  static constexpr std::size_t cached_blocks = 4;  // concurrent answers per thread kept warm

  struct cache {
    std::vector<block> blocks;
    bool alive = true;
    ~cache() { alive = false; }
  };
  static cache& local() {
    thread_local cache c;
    return c;
  }
  static block take() {
    cache& c = local();
    if (!c.alive || c.blocks.empty()) return block(new unsigned char[block_size]);
    block b = std::move(c.blocks.back());
    c.blocks.pop_back();
    return b;
  }
  static void give(block b) noexcept {
    cache& c = local();
    if (c.alive && c.blocks.size() < cached_blocks) {
      try {
        c.blocks.push_back(std::move(b));
      } catch (...) {  // no room to cache it: it is freed instead
      }
    }
  }

  void* do_allocate(std::size_t n, std::size_t align) override { return resource_.allocate(n, align); }
  void do_deallocate(void*, std::size_t, std::size_t) override {}
  bool do_is_equal(const boost::json::memory_resource& other) const noexcept override { return this == &other; }

  block block_;
  boost::json::monotonic_resource resource_;
};

}  // namespace intg::rest::detail

template <>
struct boost::json::is_deallocate_trivial<intg::rest::detail::answer_arena> : std::true_type {};
