// intg's error vocabulary: the errc enum, its error category, and intg::error, an error_code plus
// the details callers need (HTTP status, a server's retry-after hint, a message, a JSON path).
// Errors are values: copying one never allocates unless it carries a message or a path.
#pragma once

#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>
#include <boost/asio/error.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>

namespace intg {

/// Conditions raised by intg itself. Transport errors keep their own category (Asio, Beast, SSL).
enum class errc {
  circuit_open = 1,         ///< a circuit breaker rejected the call without running it
  rate_limited,             ///< a rate limiter rejected the call (or the server answered 429)
  timeout,                  ///< the attempt's deadline passed; the operation was cancelled
  bulkhead_full,            ///< no concurrency slot and no queue place (or the queue wait expired)
  retry_budget_exhausted,   ///< a retry was due but the retry budget had no tokens left
  cancelled,                ///< the caller cancelled the call
  http_error,               ///< the server answered with an HTTP error status (see error::http_status)
  invalid_grant,            ///< an OAuth grant was refused; retrying cannot help
  invalid_argument,         ///< the caller passed a value outside the documented range
  invalid_response,         ///< the peer answered with something that does not parse or fit
  not_found,                ///< no such integration, tenant or resource
  unavailable,              ///< the dependency is down or refusing work (transient)
  not_initialized,          ///< the integration was used before initialize() succeeded
  disabled,                 ///< the integration is disabled
  config_error,             ///< configuration is missing, malformed or inconsistent
  unauthorized,             ///< credentials were missing or refused
  // Security (auth, crypto, secrets, audit, webhooks). None of them is transient.
  signature_invalid,        ///< a signature or MAC did not match
  signature_missing,        ///< no signature was supplied (e.g. an empty signature header)
  signature_malformed,      ///< a signature header or value could not be parsed
  signature_scheme_unsupported,  ///< a signature header carried no signature of a supported scheme
  timestamp_out_of_tolerance,    ///< a signed timestamp is too old (or too far in the future)
  token_malformed,          ///< a token's structure or encoding is invalid (segments, base64, JSON)
  token_expired,            ///< a token's `exp` is in the past (beyond the leeway)
  token_not_yet_valid,      ///< a token's `nbf` or `iat` is in the future (beyond the leeway)
  claim_invalid,            ///< a claim (iss, aud, a required claim) is missing or does not match
  algorithm_invalid,        ///< the algorithm is `none`, unknown, or does not fit the key
  key_invalid,              ///< a key is malformed, too short, or unfit for the operation
  decryption_failed,        ///< authenticated decryption failed: wrong key, wrong AAD or tampered data
  replayed,                 ///< a one-time value (OTP code, nonce) was already used
  integrity_violation,      ///< an append-only log or chained record failed verification
  crypto_failure,           ///< OpenSSL reported an internal failure (out of memory, no provider)
  // Transport outcomes.
  outcome_unknown,          ///< a non-idempotent request was (maybe partly) sent and no answer came: it may have taken effect, so it is never replayed or retried
};

namespace detail {
class intg_category final : public boost::system::error_category {
 public:
  constexpr intg_category() noexcept : error_category(0x696e74672d636f72ULL) {}
  const char* name() const noexcept override { return "intg"; }
  std::string message(int ev) const override { return std::string(describe(ev)); }
  char const* message(int ev, char*, std::size_t) const noexcept override { return describe(ev); }

  static const char* describe(int ev) noexcept {
    switch (static_cast<errc>(ev)) {
      case errc::circuit_open: return "circuit breaker is open";
      case errc::rate_limited: return "rate limited";
      case errc::timeout: return "operation timed out";
      case errc::bulkhead_full: return "bulkhead is full";
      case errc::retry_budget_exhausted: return "retry budget exhausted";
      case errc::cancelled: return "operation cancelled";
      case errc::http_error: return "HTTP error status";
      case errc::invalid_grant: return "OAuth grant refused";
      case errc::invalid_argument: return "invalid argument";
      case errc::invalid_response: return "invalid response";
      case errc::not_found: return "not found";
      case errc::unavailable: return "service unavailable";
      case errc::not_initialized: return "integration not initialized";
      case errc::disabled: return "integration disabled";
      case errc::config_error: return "configuration error";
      case errc::unauthorized: return "unauthorized";
      case errc::outcome_unknown: return "outcome unknown (the request may have taken effect)";
      case errc::signature_invalid: return "signature does not match";
      case errc::signature_missing: return "signature missing";
      case errc::signature_malformed: return "signature malformed";
      case errc::signature_scheme_unsupported: return "no signature with a supported scheme";
      case errc::timestamp_out_of_tolerance: return "timestamp outside the tolerance";
      case errc::token_malformed: return "token malformed";
      case errc::token_expired: return "token expired";
      case errc::token_not_yet_valid: return "token not yet valid";
      case errc::claim_invalid: return "claim invalid";
      case errc::algorithm_invalid: return "algorithm not allowed for this key";
      case errc::key_invalid: return "key invalid";
      case errc::decryption_failed: return "decryption failed";
      case errc::replayed: return "replayed";
      case errc::integrity_violation: return "integrity violation";
      case errc::crypto_failure: return "cryptographic library failure";
    }
    return "unknown intg error";
  }
};
}  // namespace detail

/// The category of intg::errc values.
inline const boost::system::error_category& intg_category() noexcept {
  static constexpr detail::intg_category instance;
  return instance;
}

inline boost::system::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), intg_category()};
}

}  // namespace intg

template <>
struct boost::system::is_error_code_enum<intg::errc> : std::true_type {};

namespace intg {

/// An error code plus what callers need to act on it. Small (40 bytes) and cheap to copy: the
/// message and JSON path live in one shared, immutable block allocated only when set.
class error {
 public:
  error() noexcept = default;
  error(boost::system::error_code ec) noexcept : code_(ec) {}  // NOLINT: implicit by design
  error(errc e) noexcept : code_(make_error_code(e)) {}        // NOLINT: implicit by design
  error(errc e, std::string message) : code_(make_error_code(e)) { set(std::move(message), {}); }
  error(boost::system::error_code ec, std::string message) : code_(ec) { set(std::move(message), {}); }

  error(const error& o) noexcept
      : code_(o.code_), retry_after_ms_(o.retry_after_ms_), http_status_(o.http_status_), details_(o.details_) {
    if (details_) details_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  error(error&& o) noexcept
      : code_(o.code_), retry_after_ms_(o.retry_after_ms_), http_status_(o.http_status_), details_(o.details_) {
    o.details_ = nullptr;
  }
  error& operator=(const error& o) noexcept {
    if (this != &o) {
      error tmp(o);
      swap(tmp);
    }
    return *this;
  }
  error& operator=(error&& o) noexcept {
    if (this != &o) {
      if (details_) release();
      code_ = o.code_;
      retry_after_ms_ = o.retry_after_ms_;
      http_status_ = o.http_status_;
      details_ = o.details_;
      o.details_ = nullptr;
    }
    return *this;
  }
  ~error() {
    if (details_) release();  // the common error has no details: keep the destructor trivial then
  }

  /// An HTTP error status with an optional retry-after hint and message.
  static error http(int status, std::chrono::milliseconds retry_after = std::chrono::milliseconds{-1},
                    std::string message = {}) {
    error e{errc::http_error};
    e.with_http_status(status).with_retry_after(retry_after);
    if (!message.empty()) e.set(std::move(message), {});
    return e;
  }

  const boost::system::error_code& code() const noexcept { return code_; }
  explicit operator bool() const noexcept { return static_cast<bool>(code_); }

  /// The intg::errc this error carries, or nullopt for a transport error (Asio, Beast, SSL).
  /// `e == errc::x` asks the same about one value; intg::is_transient() classifies any error.
  std::optional<errc> as_errc() const noexcept {
    if (code_.category() != intg_category()) return std::nullopt;
    return static_cast<errc>(code_.value());
  }

  /// HTTP status when the error came from an HTTP answer, else 0.
  int http_status() const noexcept { return http_status_; }
  error& with_http_status(int s) noexcept {
    http_status_ = static_cast<std::int16_t>(s);
    return *this;
  }

  /// How long the server (or a local limiter) asked us to wait; negative when there is no hint.
  std::chrono::milliseconds retry_after() const noexcept { return std::chrono::milliseconds(retry_after_ms_); }
  bool has_retry_after() const noexcept { return retry_after_ms_ >= 0; }
  error& with_retry_after(std::chrono::milliseconds d) noexcept {
    const auto c = d.count();
    retry_after_ms_ = c < 0 ? -1 : static_cast<std::int32_t>(std::min<std::int64_t>(c, INT32_MAX));
    return *this;
  }

  /// A human-readable explanation; never contains secrets (callers must not put them there).
  std::string_view message() const noexcept { return details_ ? std::string_view(details_->message) : std::string_view{}; }
  /// Where in a JSON document the problem is (for parse and config errors), e.g. "$.tenants.a.sla".
  std::string_view json_path() const noexcept { return details_ ? std::string_view(details_->json_path) : std::string_view{}; }

  error& with_message(std::string m) {
    set(std::move(m), std::string(json_path()));
    return *this;
  }
  error& with_json_path(std::string p) {
    set(std::string(message()), std::move(p));
    return *this;
  }

  /// "description (HTTP 503): message at $.path"
  std::string to_string() const {
    std::string s = code_.message();
    if (http_status_) s += " (HTTP " + std::to_string(http_status_) + ")";
    if (auto m = message(); !m.empty()) {
      s += ": ";
      s += m;
    }
    if (auto p = json_path(); !p.empty()) {
      s += " at ";
      s += p;
    }
    return s;
  }

  void swap(error& o) noexcept {
    std::swap(code_, o.code_);
    std::swap(retry_after_ms_, o.retry_after_ms_);
    std::swap(http_status_, o.http_status_);
    std::swap(details_, o.details_);
  }

  /// Equality: the same code, HTTP status, retry-after hint, message and JSON path. (Compare
  /// with an errc or an error_code to ask about the code alone.)
  friend bool operator==(const error& a, const error& b) noexcept {
    return a.code_ == b.code_ && a.http_status_ == b.http_status_ && a.retry_after_ms_ == b.retry_after_ms_ &&
           a.message() == b.message() && a.json_path() == b.json_path();
  }
  /// The code alone: `e == errc::timeout` whatever the details.
  friend bool operator==(const error& a, errc b) noexcept { return a.code_ == make_error_code(b); }
  /// The code alone, exactly (same category and value).
  friend bool operator==(const error& a, const boost::system::error_code& b) noexcept { return a.code_ == b; }
  friend std::ostream& operator<<(std::ostream& os, const error& e) { return os << e.to_string(); }

 private:
  struct details {
    std::atomic<int> refs{1};
    std::string message;
    std::string json_path;
  };
  void set(std::string message, std::string path) {
    auto* d = new details;
    d->message = std::move(message);
    d->json_path = std::move(path);
    release();
    details_ = d;
  }
  void release() noexcept {
    if (details_ && details_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete details_;
    details_ = nullptr;
  }

  boost::system::error_code code_{};
  std::int32_t retry_after_ms_ = -1;
  std::int16_t http_status_ = 0;
  details* details_ = nullptr;
};

/// Thrown for programming errors and start-up misconfiguration (never on the hot path).
class exception : public boost::system::system_error {
 public:
  explicit exception(const error& e) : system_error(e.code(), std::string(e.to_string())), error_(e) {}
  const intg::error& error() const noexcept { return error_; }

 private:
  intg::error error_;
};

/// Used by boost::system::result<T, intg::error>::value() when it holds an error.
[[noreturn]] inline void throw_exception_from_error(const error& e, const boost::source_location&) {
  throw intg::exception(e);
}

namespace detail {
// Codes of Beast and Asio's SSL layer, recognised by category name so that this header, included
// everywhere, pulls in neither Beast nor OpenSSL. Only failures reach these comparisons.
inline bool is_code(const boost::system::error_code& c, const char* category, int value) noexcept {
  return c.value() == value && std::string_view(c.category().name()) == category;
}
}  // namespace detail

/// Whether retrying may help: connection failures, timeouts, 429, 5xx and `unavailable`.
/// Transport errors are classified by condition, so a system and a generic code for the same
/// errno (e.g. `boost::system::errc::connection_reset`) both count. Never `outcome_unknown`.
inline bool is_transient(const error& e) noexcept {
  const auto& c = e.code();
  if (c.category() == intg_category()) {
    switch (static_cast<errc>(c.value())) {
      case errc::timeout:
      case errc::unavailable:
        return true;
      case errc::rate_limited:
        return e.http_status() == 429;  // a server's 429, not our own limiter's rejection
      case errc::http_error:
        return e.http_status() == 429 || e.http_status() == 408 || e.http_status() >= 500;
      default:
        return false;  // outcome_unknown among them: a replay could apply a request twice
    }
  }
  namespace se = boost::system::errc;
  if (c == se::connection_refused || c == se::connection_reset || c == se::connection_aborted || c == se::broken_pipe ||
      c == se::timed_out || c == se::host_unreachable || c == se::network_unreachable || c == se::network_down ||
      c == se::network_reset || c == se::resource_unavailable_try_again || c == se::not_connected)
    return true;
  namespace ae = boost::asio::error;
  if (c == ae::eof || c == ae::host_not_found_try_again) return true;  // Asio's own categories
  return detail::is_code(c, "boost.beast", 1) ||      // boost::beast::error::timeout
         detail::is_code(c, "beast.http", 1) ||       // boost::beast::http::error::end_of_stream
         detail::is_code(c, "asio.ssl.stream", 1);    // boost::asio::ssl::error::stream_truncated
}

/// Our own rejections and the caller's cancellation: they say nothing about the dependency's
/// health, so circuit breakers count them neither as failures nor as successes. (A retry budget
/// running out is not one of them: it ends a call whose attempts really failed.)
inline bool is_local_rejection(const error& e) noexcept {
  return e == errc::circuit_open || (e == errc::rate_limited && e.http_status() == 0) ||
         e == errc::bulkhead_full || e == errc::cancelled;
}

}  // namespace intg
