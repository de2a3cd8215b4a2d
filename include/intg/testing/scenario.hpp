// intg::testing: scripted misbehaviour for fakes of HTTP APIs. A scenario replaces (or delays,
// or breaks) the fake's answer to the next request(s), globally or on one route: 429 in each
// header style remote APIs use, 5xx bursts, an expired token, slow answers, truncated answers
// and reset connections, HTML error pages, HTTP 200 with an error body. Bodies are the caller's
// (a provider fake passes its own error object); the defaults are neutral. Test helpers only.
#pragma once

#include <intg/http/server.hpp>

#include <boost/beast/http/status.hpp>

#include <chrono>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace intg::testing {

using status = boost::beast::http::status;

/// What happens to a request a scenario catches. In order: wait `delay`; then answer `response`
/// when set (the route's handler is not called), else call the handler; then, if `fault` is
/// set, break the connection instead of answering (`truncate` sends half of `fault->partial`,
/// or of the handler's answer when `partial` has no body and `truncate_handler_answer`).
struct scenario {
  std::string name;                              ///< recorded in the log ("rate_limited", ...)
  std::chrono::milliseconds delay{0};
  std::optional<http::server_response> response;
  std::optional<http::connection_fault> fault;
  bool truncate_handler_answer = false;
  std::size_t times = 1;                          ///< how many requests it catches

  /// The same scenario for the next `n` requests (a burst).
  scenario& repeat(std::size_t n) {
    times = n;
    return *this;
  }
};

/// How a 429 says when to come back.
enum class rate_limit_style {
  retry_after_seconds,  ///< `Retry-After: 2`
  retry_after_date,     ///< `Retry-After: Wed, 21 Oct 2015 07:28:00 GMT` (now + delay)
  reset_epoch,          ///< `X-RateLimit-Reset: 1700000002` (Unix time), Remaining 0, Limit
  reset_delta,          ///< `X-RateLimit-Reset: 2` (seconds from now), Remaining 0, Limit
  bucket,               ///< `X-RateLimit-Bucket: <name>` + `X-RateLimit-Reset-After: 2` (per-route bucket)
};

namespace scenarios {

/// An RFC 9110 IMF-fixdate.
inline std::string http_date(std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

/// Any canned answer.
inline scenario respond(status s, std::string body, std::string_view content_type = "application/json",
                        std::string name = "respond") {
  scenario sc;
  sc.name = std::move(name);
  sc.response = http::make_response(s, std::move(body), content_type);
  return sc;
}

/// 429 with the reset announced in `style`, `after` from now.
inline scenario rate_limited(rate_limit_style style, std::chrono::seconds after = std::chrono::seconds(1),
                             std::string body = R"({"error":"rate_limited"})", std::string bucket = "global") {
  scenario sc = respond(status::too_many_requests, std::move(body), "application/json", "rate_limited");
  auto& r = *sc.response;
  const auto n = after.count();
  const std::time_t now = std::time(nullptr);
  switch (style) {
    case rate_limit_style::retry_after_seconds: r.set(http::field::retry_after, std::to_string(n)); break;
    case rate_limit_style::retry_after_date: r.set(http::field::retry_after, http_date(now + n)); break;
    case rate_limit_style::reset_epoch:
      r.set("X-RateLimit-Limit", "100");
      r.set("X-RateLimit-Remaining", "0");
      r.set("X-RateLimit-Reset", std::to_string(now + n));
      break;
    case rate_limit_style::reset_delta:
      r.set("X-RateLimit-Limit", "100");
      r.set("X-RateLimit-Remaining", "0");
      r.set("X-RateLimit-Reset", std::to_string(n));
      break;
    case rate_limit_style::bucket:
      r.set("X-RateLimit-Bucket", bucket);
      r.set("X-RateLimit-Remaining", "0");
      r.set("X-RateLimit-Reset-After", std::to_string(n));
      break;
  }
  return sc;
}

/// A 5xx (use .repeat(n) for a burst).
inline scenario server_error(status s = status::internal_server_error,
                             std::string body = R"({"error":"internal_error"})") {
  return respond(s, std::move(body), "application/json", "server_error");
}

/// A proxy's HTML error page (502 by default): not JSON at all.
inline scenario html_error(status s = status::bad_gateway) {
  std::string code = std::to_string(static_cast<int>(s));
  std::string reason(boost::beast::http::obsolete_reason(s));
  return respond(s,
                 "<html>\r\n<head><title>" + code + " " + reason + "</title></head>\r\n<body>\r\n<center><h1>" + code + " " +
                     reason + "</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n",
                 "text/html", "html_error");
}

/// The access token expired: 401 with an RFC 6750 challenge.
inline scenario expired_token(std::string body = R"({"error":"invalid_token","error_description":"The access token expired"})") {
  scenario sc = respond(status::unauthorized, std::move(body), "application/json", "expired_token");
  sc.response->set(http::field::www_authenticate, R"(Bearer error="invalid_token", error_description="The access token expired")");
  return sc;
}

/// HTTP 200 whose body reports an error (Slack's `{"ok":false,...}`, GraphQL's `errors`).
inline scenario error_body_200(std::string body) {
  return respond(status::ok, std::move(body), "application/json", "error_body_200");
}

/// The real answer, `d` late.
inline scenario slow(std::chrono::milliseconds d) {
  scenario sc;
  sc.name = "slow";
  sc.delay = d;
  return sc;
}

/// The real answer's header with its full Content-Length, then half its body, then close.
inline scenario truncated() {
  scenario sc;
  sc.name = "truncated";
  sc.fault = http::connection_fault{http::connection_fault::truncate, {}};
  sc.truncate_handler_answer = true;
  return sc;
}

/// The connection reset (TCP RST) without an answer.
inline scenario reset() {
  scenario sc;
  sc.name = "reset";
  sc.fault = http::connection_fault{http::connection_fault::reset, {}};
  return sc;
}

}  // namespace scenarios
}  // namespace intg::testing
