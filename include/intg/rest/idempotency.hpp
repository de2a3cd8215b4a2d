// intg::rest idempotency: unsafe requests (POST, PATCH) carry a key generated once per logical
// call and reused by each of its retries, so that the provider applies the call at most once. In
// a header (`Idempotency-Key`: also what makes the HTTP client treat the request as replay-safe)
// or in a JSON/form body field (Square's `idempotency_key`; the client then still never resends on
// its own, since it cannot see a body field).
#pragma once

#include <intg/core/result.hpp>
#include <intg/http/message.hpp>
#include <intg/rest/provider.hpp>
#include <intg/security/crypto/random.hpp>

#include <boost/json/object.hpp>

#include <cstdint>
#include <string>

namespace intg::rest {

/// A fresh key: a random (version 4) UUID from 16 bytes of OpenSSL's CSPRNG.
inline result<std::string> new_idempotency_key() {
  std::uint8_t b[16];
  if (auto r = crypto::fill_random(b); !r) return r.error();
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3f) | 0x80);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += hex[b[i] >> 4];
    out += hex[b[i] & 15];
  }
  return out;
}

/// Whether a method needs a key: the ones RFC 9110 does not call idempotent.
constexpr bool unsafe_method(http::verb v) noexcept {
  switch (v) {
    case http::verb::get: case http::verb::head: case http::verb::options: case http::verb::trace:
    case http::verb::put: case http::verb::delete_:
      return false;
    default:
      return true;
  }
}

/// No idempotency support: unsafe requests are sent once and never resent (errc::outcome_unknown).
struct no_idempotency {
  static constexpr bool enabled = false;
  static void apply(http::request&, std::string_view) {}
  static void apply_json(boost::json::object&, std::string_view) {}
  static void apply_form(http::query&, std::string_view) {}
};

/// The key in a header: `idempotency_header<"Idempotency-Key">`.
template <fixed_string Header = "Idempotency-Key">
struct idempotency_header {
  static constexpr bool enabled = true;
  static void apply(http::request& r, std::string_view key) { r.idempotency_key(key, Header.view()); }
  static void apply_json(boost::json::object&, std::string_view) {}
  static void apply_form(http::query&, std::string_view) {}
};

/// The key in the body: `idempotency_body_field<"idempotency_key">` (Square).
template <fixed_string Field = "idempotency_key">
struct idempotency_body_field {
  static constexpr bool enabled = true;
  static void apply(http::request&, std::string_view) {}
  static void apply_json(boost::json::object& o, std::string_view key) { o[Field.view()] = key; }
  static void apply_form(http::query& q, std::string_view key) { q.add(Field.view(), key); }
};

}  // namespace intg::rest
