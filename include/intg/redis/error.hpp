// intg::redis::errc: what can go wrong talking to Redis, in a category of its own ("intg.redis")
// that maps each code to intg's conditions, so policies classify Redis errors like any other.
// A server's error reply keeps its text as the message and its first word (WRONGTYPE, NOSCRIPT,
// BUSYGROUP) as the error's provider_code(); connection failures use intg::errc (unavailable,
// timeout, unauthorized) and transport codes.
#pragma once

#include <intg/core/error.hpp>

#include <string>
#include <string_view>
#include <type_traits>

namespace intg::redis {

enum class errc {
  protocol_error = 1,  ///< the server sent bytes that are not RESP3 (the connection is closed)
  limit_exceeded,      ///< a reply broke a configured limit (length, elements, depth; connection closed)
  server_error,        ///< the server answered with an error reply (message and provider_code() say which)
  unexpected_type,     ///< the reply has another type than the one asked for (e.g. an integer read as a map)
  connection_lost,     ///< the connection closed with the command sent and unanswered: it may have taken effect
};

namespace detail {

inline const char* describe(int ev) noexcept {
  switch (static_cast<errc>(ev)) {
    case errc::protocol_error: return "RESP3 protocol error";
    case errc::limit_exceeded: return "RESP3 reply over a configured limit";
    case errc::server_error: return "Redis error reply";
    case errc::unexpected_type: return "unexpected Redis reply type";
    case errc::connection_lost: return "Redis connection lost with the command unanswered (it may have taken effect)";
  }
  return "unknown Redis error";
}

class category_impl final : public boost::system::error_category {
 public:
  constexpr category_impl() noexcept : error_category(0x696e74672d726473ULL) {}  // "intg-rds"
  const char* name() const noexcept override { return "intg.redis"; }
  std::string message(int ev) const override { return describe(ev); }
  char const* message(int ev, char*, std::size_t) const noexcept override { return describe(ev); }
  bool equivalent(int code, const boost::system::error_condition& cond) const noexcept override {
    if (cond.category() != intg::condition_category()) return false;
    switch (static_cast<errc>(code)) {
      case errc::protocol_error:
      case errc::limit_exceeded:
      case errc::unexpected_type: return cond.value() == static_cast<int>(condition::invalid_response);
      // Never transient: a replay could apply a command twice (INCR, XADD, LPUSH).
      case errc::connection_lost: return cond.value() == static_cast<int>(condition::outcome_unknown);
      case errc::server_error: return false;
    }
    return false;
  }
};

inline constexpr category_impl category_instance{};

}  // namespace detail

inline const boost::system::error_category& category() noexcept { return detail::category_instance; }
inline boost::system::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), category()}; }

/// An intg::error of code `e` with a message.
inline intg::error make_error(errc e, std::string message) { return intg::error(make_error_code(e), std::move(message)); }

/// The error for a server's error reply: its text is the message, its first word the provider code.
inline intg::error server_error(std::string_view text) {
  intg::error e(make_error_code(errc::server_error), std::string(text));
  const auto space = text.find(' ');
  e.with_provider_code(std::string(text.substr(0, space)));
  return e;
}

}  // namespace intg::redis

template <>
struct boost::system::is_error_code_enum<intg::redis::errc> : std::true_type {};
