// intg::rest: what a provider declares (the traits struct) and how the kit reads it. Only `name`
// and `default_base_url` are required; every other trait has a default, read through
// rest::traits<P> so that a provider states only what differs.
#pragma once

#include <intg/core/fixed_string.hpp>
#include <intg/http/message.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <span>
#include <string_view>

namespace intg::rest {

/// A string usable as a template argument (defined in core/fixed_string.hpp).
using intg::fixed_string;

/// No parameters, no body, no pagination: the "nothing" type of the kit.
struct none {};

/// A cheap call declared by a provider for health checks (`static constexpr rest::call health{...}`).
struct call {
  http::verb method = http::verb::get;
  std::string_view path = "/";
};

/// A default header sent with every request of a provider.
struct header {
  std::string_view name;
  std::string_view value;
};

/// A header whose value is a tenant setting, sent when the setting is present (Stripe-Account:
/// `{"Stripe-Account", "account_id"}`).
struct setting_header {
  std::string_view name;
  std::string_view setting;
};

/// A query parameter whose default is a tenant setting (Spotify's `market`): added to a query-string
/// request when the operation's Params declare a member of that name and the caller left it empty.
struct setting_param {
  std::string_view param;
  std::string_view setting;
};

/// Where the provider puts its error code and message (JSON pointers into the body), and, for
/// APIs that answer errors with HTTP 200 (Slack), the boolean member that says success.
struct error_body {
  std::string_view code{};     ///< e.g. "/error/code" (Stripe) or "/error" (Slack)
  std::string_view message{};  ///< e.g. "/error/message"
  std::string_view ok{};       ///< e.g. "/ok": a 2xx whose member is false is an error
  /// Provider codes that mean "rate limited" even on a 200 (Slack's "ratelimited").
  std::string_view rate_limited_code{};
  /// Provider codes that mean "the token is invalid/expired": handled like a 401.
  std::string_view unauthorized_code{};
  /// For APIs that put errors in the body whatever the status (Last.fm: "/error"): a 2xx whose body
  /// has this member is an error.
  std::string_view error_if_present{};
  /// Provider codes that mean "temporarily unavailable, try again" (Last.fm's 11, 16): transient
  /// like a 5xx, so retried where resending is safe.
  std::array<std::string_view, 4> retry_codes{};
  /// A body member holding seconds to wait (Discord's "/retry_after"), used when no header says.
  std::string_view retry_after{};
  /// More members worth showing, appended to the message as "(name: value, ...)" where present
  /// (Stripe: "/error/decline_code", "/error/param", "/error/type").
  std::array<std::string_view, 4> details{};
};

/// One rate-limit window announced in headers: remaining calls and when they come back.
struct limit_window {
  std::string_view remaining;  ///< e.g. "X-RateLimit-Remaining"
  std::string_view reset;      ///< e.g. "X-RateLimit-Reset": epoch seconds or delta seconds (told apart by size)
};

/// Answers that count against a provider's cap on failed requests (Discord: 10,000 401, 403 and
/// 429 answers per 10 minutes, then an IP ban): the client counts them and refuses to send before
/// the cap. `max` 0: no cap.
struct invalid_request_limit {
  std::size_t max = 0;
  std::chrono::seconds window{600};
  std::array<int, 4> statuses{401, 403, 429};
  /// A header and the value that exempts an answer (Discord's `X-RateLimit-Scope: shared` 429s).
  std::string_view scope{};
  std::string_view exempt{};
};

/// Header-driven rate limits (proactive waiting). Up to four windows (per second, per day, ...).
struct rate_limit_headers {
  std::array<limit_window, 4> windows{{{"X-RateLimit-Remaining", "X-RateLimit-Reset"}}};
  /// A header naming the bucket the limit applies to (per-route buckets, Discord style); empty:
  /// one bucket for the tenant, or one per operation when `per_operation`.
  std::string_view bucket{};
  bool per_operation = false;
  /// A 429 that is global (every bucket of the credential waits): a header whose value "true" says
  /// so (Discord's "X-RateLimit-Global") or a boolean body member ("/global").
  std::string_view global{};
  std::string_view global_body{};
  invalid_request_limit invalid{};
  /// The longest a call waits for a reset; longer waits fail at once with errc::rate_limited.
  std::chrono::milliseconds max_wait{std::chrono::seconds(30)};
};

template <class P>
concept provider = requires {
  { P::name } -> std::convertible_to<std::string_view>;
  { P::default_base_url } -> std::convertible_to<std::string_view>;
};

/// The traits of provider P with their defaults.
template <provider P>
struct traits {
  static constexpr std::string_view name = P::name;
  static constexpr std::string_view default_base_url = P::default_base_url;

  static constexpr std::string_view category() {
    if constexpr (requires { P::category; }) return P::category;
    else return "external_api";
  }
  static constexpr std::string_view user_agent() {
    if constexpr (requires { P::user_agent; }) return P::user_agent;
    else return {};
  }
  static constexpr std::span<const std::string_view> allowed_hosts() {
    if constexpr (requires { P::allowed_hosts; }) return P::allowed_hosts;
    else return {};
  }
  static constexpr std::span<const header> default_headers() {
    if constexpr (requires { P::default_headers; }) return P::default_headers;
    else return {};
  }
  static constexpr std::span<const setting_header> settings_headers() {
    if constexpr (requires { P::settings_headers; }) return P::settings_headers;
    else return {};
  }
  static constexpr std::span<const setting_param> settings_params() {
    if constexpr (requires { P::settings_params; }) return P::settings_params;
    else return {};
  }
  static constexpr std::uint64_t max_response_bytes() {
    if constexpr (requires { P::max_response_bytes; }) return P::max_response_bytes;
    else return 8u << 20;
  }
  static constexpr error_body errors() {
    if constexpr (requires { P::errors; }) return P::errors;
    else return {};
  }
  static constexpr rate_limit_headers rate_limits() {
    if constexpr (requires { P::rate_limits; }) return P::rate_limits;
    else return {};
  }
  static constexpr call health() {
    if constexpr (requires { P::health; }) return P::health;
    else return {http::verb::get, "/"};
  }
  static constexpr std::string_view token_url() {
    if constexpr (requires { P::token_url; }) return P::token_url;
    else return {};
  }
  /// Whether a lone item may come as an object where a list is expected (JSON converted from XML,
  /// as Last.fm's is): a page's item array then also accepts a single object.
  static constexpr bool lone_item_as_object() {
    if constexpr (requires { P::lone_item_as_object; }) return P::lone_item_as_object;
    else return false;
  }
  static constexpr std::string_view authorize_url() {
    if constexpr (requires { P::authorize_url; }) return P::authorize_url;
    else return {};
  }
};

}  // namespace intg::rest
