// Injectable randomness for jitter and trace ids. Not for secrets: keys and nonces come from
// OpenSSL (intg::crypto).
#pragma once

#include <concepts>
#include <cstdint>
#include <random>

namespace intg {

/// A source of 64 random bits per call (the named requirement `RandomSource`).
template <class R>
concept random_source = requires(R& r) {
  { r() } -> std::same_as<std::uint64_t>;
};

/// xoshiro256** (Blackman & Vigna): fast, good statistical quality, deterministic for a seed.
class xoshiro256 {
 public:
  explicit xoshiro256(std::uint64_t seed = 0x9e3779b97f4a7c15ULL) noexcept {
    for (auto& w : s_) w = splitmix(seed);
  }
  /// A fixed state usable in constant initialization (to be reseeded before use).
  struct constant_init {};
  constexpr explicit xoshiro256(constant_init) noexcept : s_{1, 2, 3, 4} {}
  std::uint64_t operator()() noexcept {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
  static std::uint64_t splitmix(std::uint64_t& x) noexcept {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::uint64_t s_[4];
};

/// The default source: one xoshiro256 per thread, seeded from std::random_device on first use.
struct thread_random {
  std::uint64_t operator()() const noexcept {
    // constinit: no initialization guard on every call, only a flag checked here.
    thread_local constinit bool seeded = false;
    thread_local constinit xoshiro256 gen{xoshiro256::constant_init{}};
    if (!seeded) {
      gen = xoshiro256{seed()};
      seeded = true;
    }
    return gen();
  }

 private:
  static std::uint64_t seed() {
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  }
};

/// A uniformly distributed double in [0, 1) from 53 random bits.
inline double unit_interval(std::uint64_t bits) noexcept {
  return static_cast<double>(bits >> 11) * 0x1.0p-53;
}

static_assert(random_source<xoshiro256>);
static_assert(random_source<thread_random>);

}  // namespace intg
