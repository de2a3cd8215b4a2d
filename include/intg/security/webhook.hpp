// Verifying signed webhooks: Stripe's `Stripe-Signature: t=<unix>,v1=<hex>[,v1=...]` scheme
// (HMAC-SHA256 over "{t}.{body}", 300 s default tolerance, several v1 values while a secret is
// rotated), Slack's `X-Slack-Signature: v0=<hex>` with `X-Slack-Request-Timestamp` (HMAC-SHA256
// over "v0:{timestamp}:{body}", five-minute tolerance), Twilio's `X-Twilio-Signature` (base64
// HMAC-SHA1 over the URL and the sorted POST parameters; JSON bodies through `bodySHA256`) and the generic "sha256=<hex>" HMAC headers of GitHub's `X-Hub-Signature-256` and
// others. Comparisons are constant-time; each failure mode has its own error code:
//
// | failure                                   | errc                          |
// |-------------------------------------------|-------------------------------|
// | header absent or empty                    | signature_missing             |
// | header does not parse, no timestamp       | signature_malformed           |
// | no signature of the supported scheme (v1) | signature_scheme_unsupported  |
// | no signature matches                      | signature_invalid             |
// | timestamp outside the tolerance           | timestamp_out_of_tolerance    |
#pragma once

#include <intg/security/crypto/compare.hpp>
#include <intg/security/crypto/encoding.hpp>
#include <intg/security/crypto/hash.hpp>
#include <intg/security/crypto/hmac.hpp>
#include <intg/core/error.hpp>
#include <intg/core/result.hpp>

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace intg::webhook {

/// A parsed `Stripe-Signature` header.
struct stripe_signature {
  std::int64_t timestamp = 0;
  std::vector<std::string> v1;  ///< the v1 signatures as sent (hex)
};

namespace detail {
inline std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}
}  // namespace detail

/// Parses `t=...,v1=...[,v1=...][,v0=...]`. Unknown schemes (v0, ...) are ignored.
inline result<stripe_signature> parse_stripe_signature(std::string_view header) {
  header = detail::trim(header);
  if (header.empty()) return error{errc::signature_missing, "Stripe-Signature header missing or empty"};
  if (header.size() > 8192) return error{errc::signature_malformed, "Stripe-Signature header too long"};
  stripe_signature out;
  bool have_t = false;
  while (!header.empty()) {
    const auto comma = header.find(',');
    const std::string_view item = detail::trim(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    const auto eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0)
      return error{errc::signature_malformed, "Stripe-Signature item is not key=value"};
    const std::string_view key = item.substr(0, eq), value = item.substr(eq + 1);
    if (key == "t") {
      std::int64_t t = 0;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), t);
      if (have_t || value.empty() || ec != std::errc{} || p != value.data() + value.size() || t < 0)
        return error{errc::signature_malformed, "Stripe-Signature timestamp is invalid or repeated"};
      out.timestamp = t;
      have_t = true;
    } else if (key == "v1") {
      if (out.v1.size() >= 16) return error{errc::signature_malformed, "too many v1 signatures"};
      out.v1.emplace_back(value);
    }
  }
  if (!have_t) return error{errc::signature_malformed, "Stripe-Signature header has no timestamp"};
  if (out.v1.empty()) return error{errc::signature_scheme_unsupported, "Stripe-Signature header has no v1 signature"};
  return out;
}

/// The v1 signature Stripe would send: hex(HMAC-SHA256(secret, "{t}.{payload}")).
inline std::string stripe_v1(std::string_view payload, std::string_view secret, std::int64_t t) {
  std::string signed_payload = std::to_string(t);
  signed_payload += '.';
  signed_payload += payload;
  return crypto::to_hex(crypto::hmac_sha256(secret, signed_payload));
}

/// A complete `Stripe-Signature` header value for `payload` at time `t` (for senders and tests).
inline std::string sign_stripe(std::string_view payload, std::string_view secret, std::chrono::sys_seconds t) {
  const auto ts = t.time_since_epoch().count();
  return "t=" + std::to_string(ts) + ",v1=" + stripe_v1(payload, secret, ts);
}

/// Verifies a Stripe webhook: `payload` is the raw request body (not re-serialised JSON),
/// `header` the Stripe-Signature value, `secret` the endpoint's whole `whsec_...` string.
/// Any v1 may match (secret rotation). A timestamp more than `tolerance` away from `now`, in
/// either direction, is refused; a tolerance of zero disables that check.
inline result<void> verify_stripe(std::string_view payload, std::string_view header, std::string_view secret,
                                  std::chrono::sys_seconds now,
                                  std::chrono::seconds tolerance = std::chrono::seconds{300}) {
  auto parsed = parse_stripe_signature(header);
  if (!parsed) return parsed.error();
  const std::string expected = stripe_v1(payload, secret, parsed->timestamp);
  bool match = false;
  for (const auto& sig : parsed->v1) match |= crypto::constant_time_equal(expected, sig);  // no early exit
  if (!match) return error{errc::signature_invalid, "no Stripe v1 signature matches the payload"};
  if (tolerance.count() > 0) {
    const auto age = now.time_since_epoch().count() - parsed->timestamp;
    if (age > tolerance.count() || -age > tolerance.count())
      return error{errc::timestamp_out_of_tolerance, "Stripe-Signature timestamp outside the tolerance"};
  }
  return {};
}

/// The header value "sha256=<hex HMAC-SHA256(secret, payload)>" (GitHub's X-Hub-Signature-256).
inline std::string sign_hmac_sha256(std::string_view payload, std::string_view secret,
                                    std::string_view prefix = "sha256=") {
  return std::string(prefix) + crypto::to_hex(crypto::hmac_sha256(secret, payload));
}

/// Verifies a "sha256=<hex>" style header (the prefix is configurable; pass "" for bare hex).
/// Hex digits of either case are accepted.
inline result<void> verify_hmac_sha256(std::string_view payload, std::string_view header, std::string_view secret,
                                       std::string_view prefix = "sha256=") {
  header = detail::trim(header);
  if (header.empty()) return error{errc::signature_missing, "signature header missing or empty"};
  if (header.substr(0, prefix.size()) != prefix)
    return error{errc::signature_malformed, "signature header does not start with \"" + std::string(prefix) + "\""};
  auto mac = crypto::from_hex(header.substr(prefix.size()));
  if (!mac || mac->size() != 32) return error{errc::signature_malformed, "signature is not 64 hex digits"};
  const auto expected = crypto::hmac_sha256(secret, payload);
  if (!crypto::constant_time_equal(crypto::as_chars(expected), *mac))
    return error{errc::signature_invalid, "signature does not match the payload"};
  return {};
}

/// The `X-Slack-Signature` value Slack would send: "v0=" + hex(HMAC-SHA256(signing_secret,
/// "v0:{timestamp}:{body}")).
inline std::string sign_slack(std::string_view body, std::string_view signing_secret, std::int64_t timestamp) {
  std::string base = "v0:" + std::to_string(timestamp) + ":";
  base += body;
  return "v0=" + crypto::to_hex(crypto::hmac_sha256(signing_secret, base));
}

/// Verifies a Slack request: `body` is the raw request body, `timestamp_header` the
/// X-Slack-Request-Timestamp value, `signature_header` the X-Slack-Signature value. The signature
/// is checked first (constant time), then the timestamp: more than `tolerance` away from `now` in
/// either direction is refused (replays); a tolerance of zero disables that check.
inline result<void> verify_slack(std::string_view body, std::string_view timestamp_header, std::string_view signature_header,
                                 std::string_view signing_secret, std::chrono::sys_seconds now,
                                 std::chrono::seconds tolerance = std::chrono::seconds{300}) {
  timestamp_header = detail::trim(timestamp_header);
  signature_header = detail::trim(signature_header);
  if (signature_header.empty()) return error{errc::signature_missing, "X-Slack-Signature header missing or empty"};
  if (timestamp_header.empty()) return error{errc::signature_malformed, "X-Slack-Request-Timestamp header missing or empty"};
  std::int64_t t = 0;
  auto [p, ec] = std::from_chars(timestamp_header.data(), timestamp_header.data() + timestamp_header.size(), t);
  if (ec != std::errc{} || p != timestamp_header.data() + timestamp_header.size() || t < 0)
    return error{errc::signature_malformed, "X-Slack-Request-Timestamp is not a Unix time"};
  if (!signature_header.starts_with("v0="))
    return error{errc::signature_scheme_unsupported, "X-Slack-Signature has no v0 signature"};
  auto mac = crypto::from_hex(signature_header.substr(3));
  if (!mac || mac->size() != 32) return error{errc::signature_malformed, "X-Slack-Signature is not v0= and 64 hex digits"};
  std::string base = "v0:" + std::string(timestamp_header) + ":";
  base += body;
  const auto expected = crypto::hmac_sha256(signing_secret, base);
  if (!crypto::constant_time_equal(crypto::as_chars(expected), *mac))
    return error{errc::signature_invalid, "X-Slack-Signature does not match the body"};
  if (tolerance.count() > 0) {
    const auto age = now.time_since_epoch().count() - t;
    if (age > tolerance.count() || -age > tolerance.count())
      return error{errc::timestamp_out_of_tolerance, "X-Slack-Request-Timestamp outside the tolerance"};
  }
  return {};
}

/// POST parameters of a Twilio request, as decoded name/value pairs (repeated names allowed).
using twilio_params = std::vector<std::pair<std::string, std::string>>;

namespace detail {
// HMAC-SHA1(auth_token, url + each parameter's name and value, sorted by name then value).
inline std::string twilio_mac(std::string_view url, const twilio_params& params, std::string_view auth_token) {
  std::vector<const std::pair<std::string, std::string>*> sorted;
  for (const auto& p : params) sorted.push_back(&p);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return *a < *b; });
  std::string data(url);
  for (const auto* p : sorted) data += p->first + p->second;
  return crypto::hmac(crypto::hmac_hash::sha1, auth_token, data);
}
// The URL with the scheme's default port added when it has none, or removed when it has it: Twilio
// signs the URL as it was configured, and proxies add or drop ":443".
inline std::string twilio_other_form(std::string_view url) {
  auto u = boost::urls::parse_uri(url);
  if (!u) return {};
  boost::urls::url v(*u);
  const std::string_view port = v.scheme() == "https" ? "443" : v.scheme() == "http" ? "80" : "";
  if (port.empty()) return {};
  if (!v.has_port()) v.set_port(port);
  else if (v.port() == port) v.remove_port();
  else return {};
  return std::string(v.buffer());
}
inline result<void> verify_twilio_mac(std::string_view url, const twilio_params& params, std::string_view header,
                                      std::string_view auth_token) {
  header = trim(header);
  if (header.empty()) return error{errc::signature_missing, "X-Twilio-Signature header missing or empty"};
  auto mac = crypto::base64_decode(header);
  if (!mac || mac->size() != 20) return error{errc::signature_malformed, "X-Twilio-Signature is not base64 of 20 bytes"};
  if (crypto::constant_time_equal(twilio_mac(url, params, auth_token), *mac)) return {};
  const std::string other = twilio_other_form(url);
  if (!other.empty() && crypto::constant_time_equal(twilio_mac(other, params, auth_token), *mac)) return {};
  return error{errc::signature_invalid, "X-Twilio-Signature does not match the URL and parameters"};
}
}  // namespace detail

/// The `X-Twilio-Signature` value Twilio would send for a request to `url` (the full URL, query
/// included) with POST parameters `params` (none for GET or a JSON body).
inline std::string sign_twilio(std::string_view url, const twilio_params& params, std::string_view auth_token) {
  return crypto::base64_encode(detail::twilio_mac(url, params, auth_token));
}

/// Verifies a Twilio request (status callbacks, incoming messages): `url` is the full URL Twilio
/// requested, as configured (scheme, host, path, query), `params` the decoded form parameters,
/// `signature_header` the X-Twilio-Signature value, `auth_token` the account's auth token. A
/// signature computed with or without the scheme's default port matches, as Twilio's libraries
/// accept. Twilio's signature has no timestamp: replays are the application's concern.
inline result<void> verify_twilio(std::string_view url, const twilio_params& params, std::string_view signature_header,
                                  std::string_view auth_token) {
  return detail::verify_twilio_mac(url, params, signature_header, auth_token);
}

/// Verifies a Twilio request with a JSON (or other non-form) body: the signature covers the URL
/// alone, whose `bodySHA256` query parameter must be the hex SHA-256 of `body`.
inline result<void> verify_twilio_body(std::string_view url, std::string_view body, std::string_view signature_header,
                                       std::string_view auth_token) {
  if (auto r = detail::verify_twilio_mac(url, {}, signature_header, auth_token); !r) return r;
  auto u = boost::urls::parse_uri(url);
  if (!u) return error{errc::signature_malformed, "the URL does not parse"};
  auto it = u->params().find("bodySHA256");
  if (it == u->params().end()) return error{errc::signature_malformed, "the URL has no bodySHA256 parameter"};
  auto expected = crypto::from_hex((*it).value);
  if (!expected || expected->size() != 32) return error{errc::signature_malformed, "bodySHA256 is not 64 hex digits"};
  const auto actual = crypto::sha256(body);
  if (!crypto::constant_time_equal(crypto::as_chars(actual), *expected))
    return error{errc::signature_invalid, "the body does not match bodySHA256"};
  return {};
}

}  // namespace intg::webhook
