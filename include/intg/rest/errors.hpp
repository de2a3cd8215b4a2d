// intg::rest error mapping: a provider's answer (status, headers, body) to what the client does —
// accept it, retry it (5xx, 408: transient errors the retry policy retries), refresh the
// credentials and send once more (401), wait (429 or a rate-limit code in the body: errc::
// rate_limited with the reset as retry-after), or fail with the provider's own code and message
// (intg::provider_error<Provider>), including APIs that answer errors with HTTP 200 ({"ok":false},
// or an "error" member whatever the status).
#pragma once

#include <intg/core/error.hpp>
#include <intg/http/message.hpp>
#include <intg/rest/provider.hpp>

#include <boost/json/value.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <optional>
#include <string>
#include <string_view>

namespace intg::rest {

/// What to do with an answer.
enum class action { accept, retry, refresh, rate_limited, fail };

struct verdict {
  rest::action action = rest::action::accept;
  error failure{};  ///< set unless accepted
};

namespace detail {

// `name` is a JSON pointer ("/error/code") or a plain member name ("data").
inline const boost::json::value* at(const boost::json::value& v, std::string_view name) {
  if (name.empty()) return nullptr;
  if (name.front() != '/') {
    const auto* o = v.if_object();
    return o ? o->if_contains(name) : nullptr;
  }
  boost::system::error_code ec;
  return v.find_pointer(name, ec);
}

inline std::string text_at(const boost::json::value* body, std::string_view ptr) {
  if (!body || ptr.empty()) return {};
  const auto* v = at(*body, ptr);
  if (!v) return {};
  std::string s;
  if (v->is_string()) s = std::string(v->get_string());
  else if (v->is_int64()) s = std::to_string(v->get_int64());
  else return {};
  // Goes into messages and logs: short and printable.
  if (s.size() > 200) s.resize(200);
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  return s;
}

// A number of seconds as in a header or JSON ("30", "1.5"); nullopt when it is not one.
inline std::optional<double> seconds_of(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  if (s.empty() || s.size() > 24) return std::nullopt;
  double d = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
  if (ec != std::errc{} || p != s.data() + s.size() || !std::isfinite(d) || d < 0) return std::nullopt;
  return d;
}

}  // namespace detail

/// A reset header's value as a delay from `now`: Unix epoch seconds (values past 10^9) or a delta
/// in seconds (GitHub sends the first, many APIs the second); negative when it is neither.
inline std::chrono::milliseconds reset_delay(std::string_view value, std::chrono::system_clock::time_point now) {
  auto d = detail::seconds_of(value);
  if (!d) return std::chrono::milliseconds{-1};
  if (*d >= 1e9) {
    const double epoch_now = std::chrono::duration<double>(now.time_since_epoch()).count();
    const double delta = *d - epoch_now;
    if (delta > 366.0 * 24 * 3600) return std::chrono::milliseconds{-1};  // nonsense; and too big to convert
    return std::chrono::milliseconds(delta <= 0 ? 0 : static_cast<std::int64_t>(std::ceil(delta * 1000)));
  }
  if (*d > 366.0 * 24 * 3600) return std::chrono::milliseconds{-1};
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil(*d * 1000)));
}

/// How long a rate-limited answer asks us to wait: Retry-After (seconds or HTTP-date), else the
/// reset of an exhausted window header, else the body member `errors.retry_after`; negative when
/// nothing says.
inline std::chrono::milliseconds retry_after_of(const http::response& res, const boost::json::value* body,
                                                const error_body& errors, const rate_limit_headers& limits,
                                                std::chrono::system_clock::time_point now) {
  if (auto it = res.find(http::field::retry_after); it != res.end()) {
    const auto d = http::parse_retry_after(it->value(), now);
    if (d.count() >= 0) return d;
  }
  std::chrono::milliseconds best{-1};
  for (const auto& w : limits.windows) {
    if (w.reset.empty()) continue;
    auto rem = res.find(w.remaining);
    if (rem != res.end() && rem->value() != "0") continue;  // this window is not the exhausted one
    if (auto it = res.find(w.reset); it != res.end()) best = std::max(best, reset_delay(it->value(), now));
  }
  if (best.count() >= 0) return best;
  if (body && !errors.retry_after.empty())
    if (const auto* v = detail::at(*body, errors.retry_after); v && v->is_number()) {
      const double s = v->to_number<double>();
      if (std::isfinite(s) && s >= 0 && s < 366.0 * 24 * 3600) return std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil(s * 1000)));
    }
  return std::chrono::milliseconds{-1};
}

/// The provider error kind for an HTTP status.
inline provider_errc kind_of_status(int s) noexcept {
  switch (s) {
    case 400: case 422: return provider_errc::bad_request;
    case 401: return provider_errc::unauthorized;
    case 403: return provider_errc::forbidden;
    case 404: case 410: return provider_errc::not_found;
    case 409: return provider_errc::conflict;
    case 429: return provider_errc::rate_limited;
    default: return s >= 500 ? provider_errc::server_error : provider_errc::bad_request;
  }
}

/// Classifies an answer of provider P. Every failure is an intg::provider_error<P> carrying the
/// HTTP status, the provider's code (error::provider_code()) and message: server_error (5xx, 408)
/// and rate_limited (429, or the body's rate-limit code, with the retry-after) are transient;
/// unauthorized (401, or the body's unauthorized code) asks for one refresh; the rest fail. `body` is its JSON (nullptr when it is not JSON).
template <provider P>
verdict classify(const http::response& res, const boost::json::value* body,
                 std::chrono::system_clock::time_point now = std::chrono::system_clock::now()) {
  constexpr error_body eb = traits<P>::errors();
  const int status = static_cast<int>(res.result_int());
  bool failed_ok = false;
  if (status >= 200 && status < 300 && !eb.error_if_present.empty()) {
    if (!body || !detail::at(*body, eb.error_if_present)) return {};
    failed_ok = true;
  } else if (status >= 200 && status < 300) {
    if (eb.ok.empty() || !body) return {};
    const auto* ok = detail::at(*body, eb.ok);
    if (ok && ok->is_bool() && ok->get_bool()) return {};
    if (!ok || !ok->is_bool()) return {action::fail, error(errc::invalid_response, std::string(P::name) + ": answer without a boolean " + std::string(eb.ok))};
    failed_ok = true;
  } else if (status < 400) {
    return {action::fail, error::http(status, std::chrono::milliseconds{-1}, std::string(P::name) + ": unexpected HTTP " + std::to_string(status))};
  }
  std::string code = detail::text_at(body, eb.code);
  std::string msg = detail::text_at(body, eb.message);
  std::string extra;
  for (std::string_view d : eb.details) {
    std::string v = detail::text_at(body, d);
    if (v.empty()) continue;
    extra += extra.empty() ? " (" : ", ";
    extra += d.substr(d.rfind('/') + 1);
    extra += ": ";
    extra += v;
  }
  if (!extra.empty()) msg += extra + ")";
  // to_string() shows "<provider> <code> (HTTP <status>): <message>"; without a code, the
  // message names the provider and status itself.
  std::string text = msg;
  if (code.empty()) text = std::string(P::name) + ": HTTP " + std::to_string(status) + (msg.empty() ? "" : ": " + msg);

  const bool limited = status == 429 || (!eb.rate_limited_code.empty() && code == eb.rate_limited_code);
  if (limited) {
    // provider_errc::rate_limited is transient and of the rate_limited condition: the retry
    // policy waits the retry-after (and the client blocks the bucket until then).
    error e = provider_error<P>(provider_errc::rate_limited, status, code, std::move(text));
    e.with_retry_after(retry_after_of(res, body, eb, traits<P>::rate_limits(), now));
    return {action::rate_limited, std::move(e)};
  }
  if (status == 401 || (!eb.unauthorized_code.empty() && code == eb.unauthorized_code))
    return {action::refresh, provider_error<P>(provider_errc::unauthorized, status, code, std::move(text))};
  const bool retry_code = !code.empty() && std::find(eb.retry_codes.begin(), eb.retry_codes.end(), code) != eb.retry_codes.end();
  if (status >= 500 || status == 408 || retry_code) {
    error e = provider_error<P>(provider_errc::server_error, status, code, std::move(text));  // transient
    if (auto it = res.find(http::field::retry_after); it != res.end()) e.with_retry_after(http::parse_retry_after(it->value(), now));
    return {action::retry, std::move(e)};
  }
  return {action::fail, provider_error<P>(failed_ok ? provider_errc::rejected : kind_of_status(status), status, code, std::move(text))};
}

/// Replaces every occurrence of `credential` (8 characters or more) in the error's message by
/// "***": a provider that echoes the key it refused must not put it in our logs.
inline error redact(error e, std::string_view credential) {
  if (credential.size() < 8) return e;
  std::string m(e.message());
  bool changed = false;
  for (auto at = m.find(credential); at != std::string::npos; at = m.find(credential, at)) {
    m.replace(at, credential.size(), "***");
    changed = true;
  }
  if (changed) e.with_message(std::move(m));
  return e;
}

}  // namespace intg::rest
