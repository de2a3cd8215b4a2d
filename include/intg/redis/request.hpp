// intg::redis::request: commands encoded as RESP arrays of bulk strings, several per request
// for pipelining (one write, replies in order). Each command's exact size is computed before it
// is written, so the buffer grows at most once per command and never beyond what it holds
// (amortised like any string when many commands are appended).
#pragma once

#include <intg/core/secret.hpp>

#include <charconv>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <ranges>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace intg::redis {

namespace detail {

template <class T>
concept string_like = std::convertible_to<const T&, std::string_view>;
template <class T>
concept integer_arg = std::integral<T> && !std::same_as<T, bool> && !std::same_as<T, char>;
template <class T>
concept pair_arg = requires(const T& p) {
  p.first;
  p.second;
};
template <class T>
concept range_arg = std::ranges::input_range<T> && !string_like<T>;

inline std::size_t decimal_digits(std::uint64_t v) noexcept {
  std::size_t n = 1;
  while (v >= 10) v /= 10, ++n;
  return n;
}
inline std::size_t bulk_size(std::size_t len) noexcept { return 1 + decimal_digits(len) + 2 + len + 2; }

}  // namespace detail

/// One or more commands, sent in one write. Arguments: strings (anything convertible to
/// std::string_view), integers, intg::secret (its value is sent, never shown), pairs (both
/// members), and ranges of any of these (each element one argument).
class request {
 public:
  request() = default;
  /// A request of one command.
  template <class... Args>
  explicit request(std::string_view command, const Args&... args) {
    push(command, args...);
  }

  /// Appends a command: `push("SET", key, value, "EX", 60)`.
  template <class... Args>
  request& push(std::string_view command, const Args&... args) {
    const std::size_t count = 1 + (arg_count(args) + ... + 0);
    const std::size_t bytes = 1 + detail::decimal_digits(count) + 2 + detail::bulk_size(command.size()) +
                              (arg_bytes(args) + ... + 0);
    buf_.reserve(buf_.size() + bytes);
    buf_ += '*';
    put_number(count);
    buf_ += "\r\n";
    put_bulk(command);
    (put(args), ...);
    ++commands_;
    if (is_pubsub(command)) pubsub_ = true;
    return *this;
  }

  /// The encoded bytes.
  std::string_view payload() const noexcept { return buf_; }
  /// How many commands it holds (one reply each).
  std::size_t commands() const noexcept { return commands_; }
  bool empty() const noexcept { return commands_ == 0; }
  /// Whether it holds SUBSCRIBE-like commands, whose confirmations arrive as pushes
  /// (connection::execute refuses them: use connection::subscribe).
  bool has_pubsub() const noexcept { return pubsub_; }
  /// Empties it, keeping the buffer's capacity.
  void clear() noexcept {
    buf_.clear();
    commands_ = 0;
    pubsub_ = false;
  }
  /// Overwrites the bytes before clearing: for requests that carried a secret.
  void wipe() noexcept {
    volatile char* p = buf_.data();
    for (std::size_t i = 0; i < buf_.size(); ++i) p[i] = 0;
    clear();
  }

 private:
  static bool is_pubsub(std::string_view c) noexcept {
    auto eq = [&](std::string_view w) {
      if (c.size() != w.size()) return false;
      for (std::size_t i = 0; i < c.size(); ++i)
        if ((c[i] & ~0x20) != w[i]) return false;  // ASCII letters, any case
      return true;
    };
    return eq("SUBSCRIBE") || eq("PSUBSCRIBE") || eq("SSUBSCRIBE") || eq("UNSUBSCRIBE") || eq("PUNSUBSCRIBE") ||
           eq("SUNSUBSCRIBE");
  }

  template <class T>
  static std::size_t arg_count(const T& a) {
    if constexpr (detail::string_like<T> || detail::integer_arg<T> || std::same_as<T, secret>) {
      return 1;
    } else if constexpr (detail::pair_arg<T>) {
      return arg_count(a.first) + arg_count(a.second);
    } else {
      static_assert(detail::range_arg<T>, "a Redis argument is a string, an integer, an intg::secret, a pair or a range of them");
      std::size_t n = 0;
      for (const auto& e : a) n += arg_count(e);
      return n;
    }
  }
  template <class T>
  static std::size_t arg_bytes(const T& a) {
    if constexpr (detail::string_like<T>) {
      return detail::bulk_size(std::string_view(a).size());
    } else if constexpr (std::same_as<T, secret>) {
      return detail::bulk_size(a.reveal().size());
    } else if constexpr (detail::integer_arg<T>) {
      char tmp[24];
      return detail::bulk_size(static_cast<std::size_t>(std::to_chars(tmp, tmp + sizeof tmp, a).ptr - tmp));
    } else if constexpr (detail::pair_arg<T>) {
      return arg_bytes(a.first) + arg_bytes(a.second);
    } else {
      std::size_t n = 0;
      for (const auto& e : a) n += arg_bytes(e);
      return n;
    }
  }
  template <class T>
  void put(const T& a) {
    if constexpr (detail::string_like<T>) {
      put_bulk(std::string_view(a));
    } else if constexpr (std::same_as<T, secret>) {
      put_bulk(a.reveal());
    } else if constexpr (detail::integer_arg<T>) {
      char tmp[24];
      put_bulk(std::string_view(tmp, static_cast<std::size_t>(std::to_chars(tmp, tmp + sizeof tmp, a).ptr - tmp)));
    } else if constexpr (detail::pair_arg<T>) {
      put(a.first);
      put(a.second);
    } else {
      for (const auto& e : a) put(e);
    }
  }
  void put_number(std::size_t v) {
    char tmp[24];
    buf_.append(tmp, static_cast<std::size_t>(std::to_chars(tmp, tmp + sizeof tmp, v).ptr - tmp));
  }
  void put_bulk(std::string_view s) {
    buf_ += '$';
    put_number(s.size());
    buf_ += "\r\n";
    buf_ += s;
    buf_ += "\r\n";
  }

  std::string buf_;
  std::size_t commands_ = 0;
  bool pubsub_ = false;
};

}  // namespace intg::redis
