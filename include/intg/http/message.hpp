// HTTP requests and responses as intg's client sends and receives them (Beast messages plus a
// parsed URL), body helpers for JSON and forms, and the mapping from a response status to an
// intg::error that the retry and breaker policies understand (Retry-After included).
#pragma once

#include <intg/core/error.hpp>
#include <intg/http/url.hpp>
#include <intg/core/result.hpp>
#include <intg/core/secret.hpp>
#include <intg/version.hpp>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace intg::http {

namespace beast = boost::beast;
using verb = beast::http::verb;
using field = beast::http::field;
using fields = beast::http::fields;
/// A response as received: status, headers and the whole body (bounded by the client's limit).
using response = beast::http::response<beast::http::string_body>;

/// A request: a Beast message plus its absolute URL. The client fills in Host, User-Agent and
/// Content-Length, and a W3C traceparent when the call is traced.
struct request {
  url target;
  beast::http::request<beast::http::string_body> message;

  request() = default;
  request(verb method, url u) : target(std::move(u)) {
    message.method(method);
    message.version(11);
    message.target(target.target());
  }

  /// Parses `u`; a bad URL is an error.
  static result<request> make(verb method, std::string_view u) {
    auto parsed = url::parse(u);
    if (!parsed) return parsed.error();
    return request(method, std::move(*parsed));
  }

  verb method() const noexcept { return message.method(); }

  /// Sets the idempotency key that lets a server recognise a resent request (`Idempotency-Key`
  /// by default; `header` names another, e.g. `PayPal-Request-Id`). Generate it once per logical
  /// call and keep it for that call's retries.
  request& idempotency_key(std::string_view key, std::string_view header = "Idempotency-Key") {
    idempotency_header.assign(header);
    message.set(header, key);
    return *this;
  }

  /// Whether sending this request twice has the effect of sending it once, so that the client
  /// may resend it and the retry policy may retry it: an idempotent method (GET, HEAD, OPTIONS,
  /// TRACE, PUT, DELETE: RFC 9110 section 9.2.2) or a request carrying an idempotency key.
  bool replay_safe() const noexcept {
    switch (message.method()) {
      case verb::get: case verb::head: case verb::options: case verb::trace: case verb::put: case verb::delete_:
        return true;
      default:
        return !idempotency_header.empty() && message.find(idempotency_header) != message.end();
    }
  }

  /// The header whose presence makes a non-idempotent request replay-safe (see replay_safe()).
  std::string idempotency_header = "Idempotency-Key";
  request& set(field f, std::string_view v) {
    message.set(f, v);
    return *this;
  }
  request& set(std::string_view name, std::string_view v) {
    message.set(name, v);
    return *this;
  }
  /// `Authorization: Bearer <token>`.
  request& bearer(const secret& token) {
    std::string v = "Bearer ";
    v += token.reveal();
    message.set(field::authorization, v);
    return *this;
  }
  /// A JSON body with `Content-Type: application/json`.
  request& json(const boost::json::value& v) {
    message.body() = boost::json::serialize(v);
    message.set(field::content_type, "application/json");
    return *this;
  }
  /// An `application/x-www-form-urlencoded` body.
  request& form(const query& q) {
    message.body() = q.str();
    message.set(field::content_type, "application/x-www-form-urlencoded");
    return *this;
  }
  request& body(std::string b, std::string_view content_type) {
    message.body() = std::move(b);
    message.set(field::content_type, content_type);
    return *this;
  }
};

/// Parses a response body as JSON; a parse failure is errc::invalid_response naming the offset.
inline result<boost::json::value> parse_json(std::string_view body) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(body, ec);
  if (ec) return error(errc::invalid_response, "response body is not valid JSON: " + ec.message());
  return v;
}

/// An HTTP date, IMF-fixdate only ("Sun, 06 Nov 1994 08:49:37 GMT", RFC 9110 section 5.6.7; the
/// obsolete forms are not accepted), from 1970 to 2261 (system_clock's range); nullopt otherwise.
inline std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view v) {
  if (v.size() != 29 || v[3] != ',' || v[4] != ' ' || v[7] != ' ' || v[11] != ' ' || v[16] != ' ' || v[19] != ':' || v[22] != ':' ||
      v.substr(25) != " GMT")
    return std::nullopt;
  static constexpr std::string_view months = "JanFebMarAprMayJunJulAugSepOctNovDec";
  auto num = [&](std::size_t at, std::size_t n) -> int {
    int r = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const char c = v[at + i];
      if (c < '0' || c > '9') return -1;
      r = r * 10 + (c - '0');
    }
    return r;
  };
  const int day = num(5, 2), year = num(12, 4), hh = num(17, 2), mm = num(20, 2), ss = num(23, 2);
  const auto mon = months.find(v.substr(8, 3));
  if (day < 1 || year < 1970 || year > 2261 || hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 60 ||
      mon == std::string_view::npos || mon % 3 != 0)
    return std::nullopt;
  using namespace std::chrono;
  const year_month_day ymd{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(mon / 3 + 1)},
                           std::chrono::day{static_cast<unsigned>(day)}};
  if (!ymd.ok()) return std::nullopt;
  return system_clock::time_point(sys_days{ymd} + hours{hh} + minutes{mm} + seconds{ss});
}

/// A Retry-After value (delta-seconds or an HTTP date, RFC 9110 section 10.2.3) as a delay from
/// `now`; negative when absent or malformed. Dates in the past give zero.
inline std::chrono::milliseconds parse_retry_after(
    std::string_view v, std::chrono::system_clock::time_point now = std::chrono::system_clock::now()) {
  using std::chrono::milliseconds;
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  if (v.empty()) return milliseconds{-1};
  if (v.front() >= '0' && v.front() <= '9') {
    std::int64_t s = 0;
    for (char c : v) {
      if (c < '0' || c > '9') return milliseconds{-1};
      s = s * 10 + (c - '0');
      if (s > 365LL * 24 * 3600) return milliseconds{-1};  // nonsense: refuse rather than wait a year
    }
    return milliseconds{s * 1000};
  }
  const auto when = parse_http_date(v);
  if (!when) return milliseconds{-1};
  using namespace std::chrono;
  const auto delta = duration_cast<milliseconds>(*when - now);
  if (delta > hours{24 * 365}) return milliseconds{-1};
  return delta.count() < 0 ? milliseconds{0} : delta;
}

/// The error a response's status stands for, or no error for 1xx-3xx. 401 is errc::unauthorized,
/// 404 errc::not_found, 429 errc::rate_limited, anything else errc::http_error; all carry the
/// status, and 429 / 503 the server's Retry-After, so retry policies treat 408, 429 and 5xx as
/// transient and wait as long as the server asked.
inline error status_error(const response& res) {
  const int s = static_cast<int>(res.result_int());
  if (s < 400) return {};
  errc code = errc::http_error;
  if (s == 401) code = errc::unauthorized;
  if (s == 404) code = errc::not_found;
  if (s == 429) code = errc::rate_limited;
  error e{code};
  e.with_http_status(s);
  if (s == 429 || s == 503) {
    if (auto it = res.find(field::retry_after); it != res.end()) e.with_retry_after(parse_retry_after(it->value()));
  }
  return e;
}

}  // namespace intg::http
