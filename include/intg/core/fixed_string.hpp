// intg::fixed_string: a string usable as a template argument (`rest::bearer<"secret_key">`,
// `auth::sigv4::signer<"s3">`). In core/ because both the provider kit and security/ name
// settings and services this way, and security/ does not depend on the kit.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string_view>

namespace intg {

/// A string usable as a template argument: `rest::bearer<"secret_key">`.
template <std::size_t N>
struct fixed_string {
  char value[N]{};
  constexpr fixed_string(const char (&s)[N]) { std::copy_n(s, N, value); }  // NOLINT: implicit by design
  constexpr std::string_view view() const noexcept { return {value, N - 1}; }
  constexpr operator std::string_view() const noexcept { return view(); }  // NOLINT
};

}  // namespace intg
