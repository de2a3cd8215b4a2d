// intg's error vocabulary: the errc enum with one error category per domain (resilience, HTTP,
// security, config), the conditions policies classify by (intg::condition), provider errors
// (provider_errc in a category per provider, with the provider's own code), and intg::error, an
// error_code plus the details callers need (HTTP status, a server's retry-after hint, a message, a
// JSON path, a provider code). Errors are values: copying one never allocates. See docs/errors.md.
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

/// Codes raised by intg itself, each in the category of its domain (see domain_category()).
/// Transport errors keep their own category (Asio, Beast, SSL); providers have theirs.
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
  // Resilience, added after 0.2 (values are stable, so new codes go last).
  quota_exhausted,          ///< a tenant quota (per minute, day or month) is used up; retry_after says when its period resets
};

/// What callers and policies ask of an error, whatever its category: `e.code() ==
/// intg::condition::not_found` holds for intg's own codes, for provider codes (provider_errc and
/// any provider category that maps itself) and for transport codes (errno, Asio, Beast, SSL).
enum class condition {
  transient = 1,     ///< retrying may help: connection failures, timeouts, a server's 5xx or 429
  rate_limited,      ///< a limit was hit (our limiter or the server); see error::retry_after
  unauthorized,      ///< credentials missing, refused or expired
  forbidden,         ///< authenticated but not allowed
  not_found,         ///< no such resource, integration or tenant
  invalid_argument,  ///< the request itself is wrong; retrying the same request cannot help
  conflict,          ///< the resource's state forbids the request (409, idempotency key reuse)
  outcome_unknown,   ///< the request may have taken effect: never replay it blindly
  timeout,           ///< a deadline passed (ours or the transport's)
  unavailable,       ///< the dependency is down or refusing work
  invalid_response,  ///< the answer does not parse or does not fit the expected model
};

/// The kinds of error a provider reports, mapped to conditions once for every provider; the
/// provider's own code ("card_declined", "channel_not_found") travels in error::provider_code().
enum class provider_errc {
  bad_request = 1,   ///< 400/422: the request is wrong (condition invalid_argument)
  unauthorized,      ///< 401: credentials refused
  forbidden,         ///< 403: not allowed
  not_found,         ///< 404
  conflict,          ///< 409
  rate_limited,      ///< 429 or the provider's own limit signal (transient)
  server_error,      ///< 5xx (transient, unavailable)
  invalid_response,  ///< the provider answered something that does not fit its documented shape
  rejected,          ///< any other refusal (a declined card, an `ok:false` without a better kind)
};

namespace detail {

constexpr unsigned condition_bit(condition c) noexcept { return 1u << static_cast<unsigned>(c); }
constexpr unsigned condition_bit(int c) noexcept { return c > 0 && c < 32 ? 1u << static_cast<unsigned>(c) : 0u; }

// The conditions each intg::errc value belongs to, from the code alone. (is_transient() also looks
// at the HTTP status of http_error and rate_limited, which the code does not carry.)
constexpr unsigned errc_conditions(errc e) noexcept {
  switch (e) {
    case errc::timeout: return condition_bit(condition::transient) | condition_bit(condition::timeout);
    case errc::unavailable: return condition_bit(condition::transient) | condition_bit(condition::unavailable);
    case errc::rate_limited:
    case errc::quota_exhausted: return condition_bit(condition::rate_limited);
    case errc::unauthorized:
    case errc::invalid_grant: return condition_bit(condition::unauthorized);
    case errc::not_found: return condition_bit(condition::not_found);
    case errc::invalid_argument: return condition_bit(condition::invalid_argument);
    case errc::invalid_response: return condition_bit(condition::invalid_response);
    case errc::outcome_unknown: return condition_bit(condition::outcome_unknown);
    default: return 0;
  }
}

constexpr unsigned provider_conditions(provider_errc k) noexcept {
  switch (k) {
    case provider_errc::bad_request: return condition_bit(condition::invalid_argument);
    case provider_errc::unauthorized: return condition_bit(condition::unauthorized);
    case provider_errc::forbidden: return condition_bit(condition::forbidden);
    case provider_errc::not_found: return condition_bit(condition::not_found);
    case provider_errc::conflict: return condition_bit(condition::conflict);
    case provider_errc::rate_limited: return condition_bit(condition::transient) | condition_bit(condition::rate_limited);
    case provider_errc::server_error: return condition_bit(condition::transient) | condition_bit(condition::unavailable);
    case provider_errc::invalid_response: return condition_bit(condition::invalid_response);
    case provider_errc::rejected: return 0;
  }
  return 0;
}

inline const char* describe_errc(int ev) noexcept {
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
    case errc::quota_exhausted: return "quota exhausted";
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

inline const char* describe_provider_errc(int ev) noexcept {
  switch (static_cast<provider_errc>(ev)) {
    case provider_errc::bad_request: return "bad request";
    case provider_errc::unauthorized: return "unauthorized";
    case provider_errc::forbidden: return "forbidden";
    case provider_errc::not_found: return "not found";
    case provider_errc::conflict: return "conflict";
    case provider_errc::rate_limited: return "rate limited";
    case provider_errc::server_error: return "server error";
    case provider_errc::invalid_response: return "invalid response";
    case provider_errc::rejected: return "rejected";
  }
  return "unknown provider error";
}

// One category per domain of intg::errc; the value is the errc value in every domain. A distinct
// 64-bit id each, so that comparing categories is an integer compare (and survives duplicated
// instances across shared libraries).
class errc_domain_category final : public boost::system::error_category {
 public:
  constexpr errc_domain_category(unsigned long long id, const char* name) noexcept : error_category(id), name_(name) {}
  const char* name() const noexcept override { return name_; }
  std::string message(int ev) const override { return std::string(describe_errc(ev)); }
  char const* message(int ev, char*, std::size_t) const noexcept override { return describe_errc(ev); }

 private:
  const char* name_;
};

inline constexpr errc_domain_category resilience_category_instance{0x696e74672d726573ULL, "intg.resilience"};  // "intg-res"
inline constexpr errc_domain_category http_category_instance{0x696e74672d687470ULL, "intg.http"};               // "intg-htp"
inline constexpr errc_domain_category security_category_instance{0x696e74672d736563ULL, "intg.security"};      // "intg-sec"
inline constexpr errc_domain_category config_category_instance{0x696e74672d636667ULL, "intg.config"};          // "intg-cfg"

}  // namespace detail

/// Circuit breaker, rate limiter, timeout, bulkhead, retry budget, cancellation.
inline const boost::system::error_category& resilience_category() noexcept { return detail::resilience_category_instance; }
/// HTTP outcomes: error statuses, invalid responses, unavailability, unknown outcomes.
inline const boost::system::error_category& http_category() noexcept { return detail::http_category_instance; }
/// Authentication, signatures, tokens, keys, crypto, audit integrity.
inline const boost::system::error_category& security_category() noexcept { return detail::security_category_instance; }
/// Configuration and the integration lifecycle: bad config, bad arguments, unknown names, state.
inline const boost::system::error_category& config_category() noexcept { return detail::config_category_instance; }

/// The category of an errc value's domain.
constexpr const boost::system::error_category& domain_category(errc e) noexcept {
  switch (e) {
    case errc::circuit_open:
    case errc::rate_limited:
    case errc::timeout:
    case errc::bulkhead_full:
    case errc::retry_budget_exhausted:
    case errc::quota_exhausted:
    case errc::cancelled: return detail::resilience_category_instance;
    case errc::http_error:
    case errc::invalid_response:
    case errc::unavailable:
    case errc::outcome_unknown: return detail::http_category_instance;
    case errc::config_error:
    case errc::invalid_argument:
    case errc::not_found:
    case errc::not_initialized:
    case errc::disabled: return detail::config_category_instance;
    default: return detail::security_category_instance;  // unauthorized, invalid_grant, signatures, tokens, keys, crypto
  }
}

inline boost::system::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), domain_category(e)}; }

/// The errc a code carries, if it is one of intg's (its category is the errc value's domain).
inline std::optional<errc> to_errc(const boost::system::error_code& c) noexcept {
  const int v = c.value();
  if (v < static_cast<int>(errc::circuit_open) || v > static_cast<int>(errc::quota_exhausted)) return std::nullopt;
  if (c.category() != domain_category(static_cast<errc>(v))) return std::nullopt;
  return static_cast<errc>(v);
}

namespace detail {

// Codes of Beast and Asio's SSL layer, recognised by category name so that this header, included
// everywhere, pulls in neither Beast nor OpenSSL. Only failures reach these comparisons.
inline bool is_code(const boost::system::error_code& c, const char* category, int value) noexcept {
  return c.value() == value && std::string_view(c.category().name()) == category;
}

// Transport codes: a system and a generic code for the same errno both count (compared by
// condition), Asio's own categories, Beast's timeout and end_of_stream, SSL's stream_truncated.
inline unsigned transport_conditions(const boost::system::error_code& c) noexcept {
  constexpr unsigned transient = condition_bit(condition::transient);
  namespace se = boost::system::errc;
  if (c == se::timed_out) return transient | condition_bit(condition::timeout);
  if (c == se::connection_refused || c == se::host_unreachable || c == se::network_unreachable || c == se::network_down)
    return transient | condition_bit(condition::unavailable);
  if (c == se::connection_reset || c == se::connection_aborted || c == se::broken_pipe || c == se::network_reset ||
      c == se::resource_unavailable_try_again || c == se::not_connected)
    return transient;
  namespace ae = boost::asio::error;
  if (c == ae::eof || c == ae::host_not_found_try_again) return transient;
  if (is_code(c, "boost.beast", 1)) return transient | condition_bit(condition::timeout);  // beast::error::timeout
  if (is_code(c, "beast.http", 1) ||                                                     // http::error::end_of_stream
      is_code(c, "asio.ssl.stream", 1))                                                  // ssl::error::stream_truncated
    return transient;
  return 0;
}

class condition_category_impl final : public boost::system::error_category {
 public:
  constexpr condition_category_impl() noexcept : error_category(0x696e74672d636e64ULL) {}  // "intg-cnd"
  const char* name() const noexcept override { return "intg.condition"; }
  std::string message(int ev) const override { return std::string(describe(ev)); }
  char const* message(int ev, char*, std::size_t) const noexcept override { return describe(ev); }
  // Asked after the code's own category (a provider category answers for itself there).
  bool equivalent(const boost::system::error_code& code, int cond) const noexcept override {
    if (auto e = to_errc(code)) return (errc_conditions(*e) & condition_bit(cond)) != 0;
    return (transport_conditions(code) & condition_bit(cond)) != 0;
  }

  static const char* describe(int ev) noexcept {
    switch (static_cast<condition>(ev)) {
      case condition::transient: return "transient failure";
      case condition::rate_limited: return "rate limited";
      case condition::unauthorized: return "unauthorized";
      case condition::forbidden: return "forbidden";
      case condition::not_found: return "not found";
      case condition::invalid_argument: return "invalid argument";
      case condition::conflict: return "conflict";
      case condition::outcome_unknown: return "outcome unknown";
      case condition::timeout: return "timeout";
      case condition::unavailable: return "unavailable";
      case condition::invalid_response: return "invalid response";
    }
    return "unknown condition";
  }
};

inline constexpr condition_category_impl condition_category_instance{};

template <std::size_t N>
struct provider_name_buffer {
  char text[N + 1]{};
};

template <class Provider>
constexpr auto provider_name_copy() noexcept {
  constexpr std::string_view n = Provider::name;
  provider_name_buffer<n.size()> b{};
  for (std::size_t i = 0; i < n.size(); ++i) b.text[i] = n[i];
  return b;
}

// Id 0: categories of providers compare by address (one function-local static per Provider).
template <class Provider>
class provider_category_impl final : public boost::system::error_category {
  static constexpr auto name_ = provider_name_copy<Provider>();  // NUL-terminated copy of Provider::name

 public:
  const char* name() const noexcept override { return name_.text; }
  std::string message(int ev) const override {
    std::string s(name_.text);
    s += ' ';
    s += describe_provider_errc(ev);
    return s;
  }
  bool equivalent(int code, const boost::system::error_condition& cond) const noexcept override {
    return cond.category() == condition_category_instance &&
           (provider_conditions(static_cast<provider_errc>(code)) & condition_bit(cond.value())) != 0;
  }
};

}  // namespace detail

/// The category of intg::condition.
inline const boost::system::error_category& condition_category() noexcept { return detail::condition_category_instance; }

inline boost::system::error_condition make_error_condition(condition c) noexcept {
  return {static_cast<int>(c), condition_category()};
}

/// The category of provider_errc codes raised for `Provider` (a type with a `static constexpr
/// std::string_view name`, which is the category's name). Conditions: see provider_errc.
template <class Provider>
const boost::system::error_category& provider_category() noexcept {
  static const detail::provider_category_impl<Provider> instance;
  return instance;
}

template <class Provider>
boost::system::error_code make_provider_error_code(provider_errc kind) noexcept {
  return {static_cast<int>(kind), provider_category<Provider>()};
}

}  // namespace intg

template <>
struct boost::system::is_error_condition_enum<intg::condition> : std::true_type {};

template <>
struct boost::system::is_error_code_enum<intg::errc> : std::true_type {};

namespace intg {

/// An error code plus what callers need to act on it. Small (40 bytes) and cheap to copy: the
/// message, JSON path and provider code live in one shared, immutable block allocated only when set.
class error {
 public:
  error() noexcept = default;
  error(boost::system::error_code ec) noexcept : code_(ec) {}  // NOLINT: implicit by design
  error(errc e) noexcept : code_(make_error_code(e)) {}        // NOLINT: implicit by design
  error(errc e, std::string message) : code_(make_error_code(e)) { set(std::move(message), {}, {}); }
  error(boost::system::error_code ec, std::string message) : code_(ec) { set(std::move(message), {}, {}); }

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
    if (!message.empty()) e.set(std::move(message), {}, {});
    return e;
  }

  const boost::system::error_code& code() const noexcept { return code_; }
  explicit operator bool() const noexcept { return static_cast<bool>(code_); }

  /// The intg::errc this error carries, or nullopt for a transport error (Asio, Beast, SSL).
  /// `e == errc::x` asks the same about one value; intg::is_transient() classifies any error.
  std::optional<errc> as_errc() const noexcept {
    return to_errc(code_);
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
  /// The provider's own error code ("card_declined", "channel_not_found"), empty when none.
  std::string_view provider_code() const noexcept {
    return details_ ? std::string_view(details_->provider_code) : std::string_view{};
  }

  error& with_message(std::string m) {
    set(std::move(m), std::string(json_path()), std::string(provider_code()));
    return *this;
  }
  error& with_json_path(std::string p) {
    set(std::string(message()), std::move(p), std::string(provider_code()));
    return *this;
  }
  error& with_provider_code(std::string c) {
    set(std::string(message()), std::string(json_path()), std::move(c));
    return *this;
  }

  /// "description (HTTP 503): message at $.path"; with a provider code, the category's name and
  /// the code replace the description: "stripe card_declined (HTTP 402): Your card was declined."
  std::string to_string() const {
    std::string s;
    if (auto pc = provider_code(); !pc.empty()) {
      s = code_.category().name();
      s += ' ';
      s += pc;
    } else {
      s = code_.message();
    }
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

  /// Equality: the same code, HTTP status, retry-after hint, message, JSON path and provider
  /// code. (Compare with an errc, an error_code or a condition to ask about the code alone.)
  friend bool operator==(const error& a, const error& b) noexcept {
    return a.code_ == b.code_ && a.http_status_ == b.http_status_ && a.retry_after_ms_ == b.retry_after_ms_ &&
           a.message() == b.message() && a.json_path() == b.json_path() && a.provider_code() == b.provider_code();
  }
  /// The code alone: `e == errc::timeout` whatever the details.
  friend bool operator==(const error& a, errc b) noexcept { return a.code_ == make_error_code(b); }
  /// The code alone, exactly (same category and value).
  friend bool operator==(const error& a, const boost::system::error_code& b) noexcept { return a.code_ == b; }
  /// Whether the code belongs to a condition: `e == condition::not_found`. (This looks at the code
  /// only; intg::is_transient() also weighs the HTTP status.)
  friend bool operator==(const error& a, condition b) noexcept { return a.code_ == make_error_condition(b); }
  friend std::ostream& operator<<(std::ostream& os, const error& e) { return os << e.to_string(); }

 private:
  struct details {
    std::atomic<int> refs{1};
    std::string message;
    std::string json_path;
    std::string provider_code;
  };
  void set(std::string message, std::string path, std::string provider_code) {
    auto* d = new details;
    d->message = std::move(message);
    d->json_path = std::move(path);
    d->provider_code = std::move(provider_code);
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

// The error's size is part of the hot path's budget: an error_code, two ints and one pointer.
static_assert(sizeof(void*) != 8 || sizeof(error) == 40, "intg::error must stay 40 bytes");

/// An error from `Provider`'s API: the code `{kind, provider_category<Provider>()}`, the HTTP
/// status (0 when the transport had none, e.g. Slack's `ok:false` on 200 still passes 200), the
/// provider's own code and its message (which must not contain secrets).
template <class Provider>
error provider_error(provider_errc kind, int http_status, std::string_view provider_code, std::string message) {
  error e{make_provider_error_code<Provider>(kind), std::move(message)};
  e.with_http_status(http_status);
  if (!provider_code.empty()) e.with_provider_code(std::string(provider_code));
  return e;
}

/// Whether retrying may help: codes of the `transient` condition (connection failures,
/// timeouts, `unavailable`, a provider's rate_limited and server_error), plus intg's http_error
/// with status 429, 408 or 5xx and rate_limited from a server's 429 (not our own limiter's).
/// Never `outcome_unknown`: a replay could apply a request twice.
inline bool is_transient(const error& e) noexcept {
  if (auto x = e.as_errc()) {  // intg's codes: one category compare, no virtual call
    switch (*x) {
      case errc::rate_limited: return e.http_status() == 429;
      case errc::http_error: return e.http_status() == 429 || e.http_status() == 408 || e.http_status() >= 500;
      default: return (detail::errc_conditions(*x) & detail::condition_bit(condition::transient)) != 0;
    }
  }
  return e.code() == condition::transient;
}

/// Our own rejections and the caller's cancellation: they say nothing about the dependency's
/// health, so circuit breakers count them neither as failures nor as successes. (A retry budget
/// running out is not one of them: it ends a call whose attempts really failed.)
inline bool is_local_rejection(const error& e) noexcept {
  return e == errc::circuit_open || (e == errc::rate_limited && e.http_status() == 0) ||
         e == errc::bulkhead_full || e == errc::quota_exhausted || e == errc::cancelled;
}

}  // namespace intg
