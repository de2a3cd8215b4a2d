// One-time passwords for multi-factor authentication: HOTP (RFC 4226) and TOTP (RFC 6238) with
// SHA-1/256/512 and 6 to 8 digits, verifiers with a window and replay protection, and
// otpauth:// provisioning URIs (the format authenticator apps scan from a QR code).
#pragma once

#include <intg/security/auth/base32.hpp>
#include <intg/security/crypto/compare.hpp>
#include <intg/security/crypto/hmac.hpp>
#include <intg/core/error.hpp>
#include <intg/core/result.hpp>
#include <intg/core/secret.hpp>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace intg::auth {

/// The HMAC digest of an OTP.
enum class otp_hash { sha1, sha256, sha512 };

inline std::string_view to_string(otp_hash h) noexcept {
  switch (h) {
    case otp_hash::sha1: return "SHA1";
    case otp_hash::sha256: return "SHA256";
    case otp_hash::sha512: return "SHA512";
  }
  return "SHA1";
}

namespace detail {
inline crypto::hmac_hash to_hmac(otp_hash h) noexcept {
  switch (h) {
    case otp_hash::sha1: return crypto::hmac_hash::sha1;
    case otp_hash::sha256: return crypto::hmac_hash::sha256;
    case otp_hash::sha512: return crypto::hmac_hash::sha512;
  }
  return crypto::hmac_hash::sha1;
}

inline void check_digits(int digits) {
  if (digits < 6 || digits > 8) throw intg::exception(error{errc::invalid_argument, "OTP digits must be 6, 7 or 8"});
}

inline std::uint64_t totp_counter(std::chrono::sys_seconds t, std::chrono::seconds period) {
  if (period.count() <= 0) throw intg::exception(error{errc::invalid_argument, "TOTP period must be positive"});
  const auto s = t.time_since_epoch().count();
  if (s < 0) throw intg::exception(error{errc::invalid_argument, "TOTP time before the Unix epoch"});
  return static_cast<std::uint64_t>(s) / static_cast<std::uint64_t>(period.count());
}
}  // namespace detail

/// HOTP (RFC 4226): the code for `counter`, `digits` long (6 to 8; otherwise intg::exception).
/// `key` is the raw secret (base32_decode what users are shown).
inline std::string hotp(std::string_view key, std::uint64_t counter, int digits = 6, otp_hash hash = otp_hash::sha1) {
  detail::check_digits(digits);
  char msg[8];
  for (int i = 7; i >= 0; --i) {
    msg[i] = static_cast<char>(counter & 0xff);
    counter >>= 8;
  }
  const std::string mac = crypto::hmac(detail::to_hmac(hash), key, std::string_view(msg, 8));
  // Dynamic truncation (RFC 4226 §5.3).
  const std::size_t offset = static_cast<std::uint8_t>(mac.back()) & 0x0f;
  const std::uint32_t bin = (std::uint32_t(std::uint8_t(mac[offset]) & 0x7f) << 24) |
                            (std::uint32_t(std::uint8_t(mac[offset + 1])) << 16) |
                            (std::uint32_t(std::uint8_t(mac[offset + 2])) << 8) | std::uint8_t(mac[offset + 3]);
  std::uint32_t mod = 1;
  for (int i = 0; i < digits; ++i) mod *= 10;
  std::string code = std::to_string(bin % mod);
  return std::string(static_cast<std::size_t>(digits) - code.size(), '0') + code;
}

/// TOTP (RFC 6238): the code for time `t` (T0 = Unix epoch) with `period`-long steps.
inline std::string totp(std::string_view key, std::chrono::sys_seconds t, int digits = 6,
                        std::chrono::seconds period = std::chrono::seconds{30}, otp_hash hash = otp_hash::sha1) {
  return hotp(key, detail::totp_counter(t, period), digits, hash);
}

/// Settings shared by the verifiers and provisioning URIs.
struct otp_options {
  int digits = 6;
  otp_hash hash = otp_hash::sha1;
  std::chrono::seconds period{30};  ///< TOTP only
  /// TOTP: steps accepted before and after the current one (clock drift). HOTP: how many
  /// counters ahead of the expected one are tried (look-ahead resynchronisation).
  unsigned window = 1;
};

/// Verifies TOTP codes for one user and refuses any code whose time step is not newer than the
/// last accepted one (RFC 6238 §5.2: a code is usable once). Thread-safe: two concurrent
/// submissions of the same code cannot both succeed. Persist last_counter() to survive restarts.
class totp_verifier {
 public:
  explicit totp_verifier(secret key, otp_options opts = {}, std::optional<std::uint64_t> last_counter = std::nullopt)
      : key_(std::move(key)), opts_(opts), last_(last_counter ? *last_counter + 1 : 0) {
    detail::check_digits(opts_.digits);
  }

  /// Accepts `code` at time `now`: returns the matched time step, errc::signature_invalid for a
  /// wrong code, errc::replayed for a code (or an older one) already used.
  result<std::uint64_t> verify(std::string_view code, std::chrono::sys_seconds now) {
    if (code.size() != static_cast<std::size_t>(opts_.digits))
      return error{errc::signature_invalid, "OTP code has the wrong length"};
    const std::uint64_t current = detail::totp_counter(now, opts_.period);
    const std::uint64_t first = current >= opts_.window ? current - opts_.window : 0;
    std::optional<std::uint64_t> matched;
    // Check every candidate (no early exit) so the time taken does not tell which step matched.
    for (std::uint64_t c = first; c <= current + opts_.window; ++c)
      if (crypto::constant_time_equal(hotp(key_.reveal(), c, opts_.digits, opts_.hash), code) && !matched) matched = c;
    if (!matched) return error{errc::signature_invalid, "OTP code does not match"};
    return accept(*matched);
  }

  /// The last accepted time step, if any (persist it to keep replay protection across restarts).
  std::optional<std::uint64_t> last_counter() const noexcept {
    const auto v = last_.load(std::memory_order_acquire);
    return v == 0 ? std::nullopt : std::optional<std::uint64_t>(v - 1);
  }

 private:
  result<std::uint64_t> accept(std::uint64_t c) {
    std::uint64_t seen = last_.load(std::memory_order_acquire);  // stores counter + 1; 0 = none
    do {
      if (seen > c) return error{errc::replayed, "OTP code already used"};
    } while (!last_.compare_exchange_weak(seen, c + 1, std::memory_order_acq_rel));
    return c;
  }

  secret key_;
  otp_options opts_;
  std::atomic<std::uint64_t> last_;
};

/// Verifies HOTP codes: accepts a counter from the next expected one up to `window` ahead, then
/// expects the one after it. Codes for used counters are refused (errc::replayed).
class hotp_verifier {
 public:
  explicit hotp_verifier(secret key, std::uint64_t next_counter = 0, otp_options opts = {})
      : key_(std::move(key)), opts_(opts), next_(next_counter) {
    detail::check_digits(opts_.digits);
  }

  /// Returns the matched counter; errc::replayed when the code belongs to a used counter.
  result<std::uint64_t> verify(std::string_view code) {
    if (code.size() != static_cast<std::size_t>(opts_.digits))
      return error{errc::signature_invalid, "OTP code has the wrong length"};
    std::uint64_t next = next_.load(std::memory_order_acquire);
    for (std::uint64_t c = next; c <= next + opts_.window; ++c) {
      if (!crypto::constant_time_equal(hotp(key_.reveal(), c, opts_.digits, opts_.hash), code)) continue;
      if (!next_.compare_exchange_strong(next, c + 1, std::memory_order_acq_rel))
        return error{errc::replayed, "OTP code already used"};
      return c;
    }
    // A code for an already used counter is a replay, not just a wrong code: say so.
    const std::uint64_t back = next < 8 ? next : 8;
    for (std::uint64_t c = next - back; c < next; ++c)
      if (crypto::constant_time_equal(hotp(key_.reveal(), c, opts_.digits, opts_.hash), code))
        return error{errc::replayed, "OTP code already used"};
    return error{errc::signature_invalid, "OTP code does not match"};
  }

  /// The counter the next code is expected for (persist it).
  std::uint64_t next_counter() const noexcept { return next_.load(std::memory_order_acquire); }

 private:
  secret key_;
  otp_options opts_;
  std::atomic<std::uint64_t> next_;
};

/// What an otpauth:// URI carries.
struct otp_uri {
  bool totp = true;         ///< otpauth://totp/... or otpauth://hotp/...
  std::string issuer;       ///< e.g. "ACME Co" (shown by the app; also the label prefix)
  std::string account;      ///< e.g. "alice@example.com"
  secret key;               ///< raw secret bytes
  otp_options options;
  std::uint64_t counter = 0;  ///< HOTP only
};

namespace detail {
inline std::string percent_encode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~' || c == '@') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

inline result<std::string> percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      auto hv = [](char c) {
        return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      };
      if (i + 2 >= s.size()) return error{errc::invalid_argument, "otpauth: bad % escape"};
      const int hi = hv(s[i + 1]), lo = hv(s[i + 2]);
      if (hi < 0 || lo < 0) return error{errc::invalid_argument, "otpauth: bad % escape"};
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}
}  // namespace detail

/// The provisioning URI, e.g.
/// `otpauth://totp/ACME%20Co:alice@example.com?secret=JBSW...&issuer=ACME%20Co&algorithm=SHA1&digits=6&period=30`.
/// It contains the secret: show it to the user once (as a QR code), never log it.
inline secret to_uri(const otp_uri& u) {
  std::string s = u.totp ? "otpauth://totp/" : "otpauth://hotp/";
  if (!u.issuer.empty()) s += detail::percent_encode(u.issuer) + ":";
  s += detail::percent_encode(u.account);
  s += "?secret=" + base32_encode(u.key.reveal());
  if (!u.issuer.empty()) s += "&issuer=" + detail::percent_encode(u.issuer);
  s += "&algorithm=";
  s += to_string(u.options.hash);
  s += "&digits=" + std::to_string(u.options.digits);
  if (u.totp) s += "&period=" + std::to_string(u.options.period.count());
  else s += "&counter=" + std::to_string(u.counter);
  return secret{std::move(s)};
}

/// Parses an otpauth:// URI. Unknown parameters are ignored; a missing or invalid secret,
/// algorithm, digit count or period is an error.
inline result<otp_uri> parse_otp_uri(std::string_view uri) {
  auto fail = [](std::string why) { return error{errc::invalid_argument, "otpauth: " + why}; };
  otp_uri out;
  constexpr std::string_view scheme = "otpauth://";
  if (uri.substr(0, scheme.size()) != scheme) return fail("not an otpauth:// URI");
  uri.remove_prefix(scheme.size());
  if (uri.substr(0, 5) == "totp/") out.totp = true;
  else if (uri.substr(0, 5) == "hotp/") out.totp = false;
  else return fail("type must be totp or hotp");
  uri.remove_prefix(5);
  const auto q = uri.find('?');
  auto label = detail::percent_decode(uri.substr(0, q));
  if (!label) return label.error();
  if (const auto colon = label->find(':'); colon != std::string::npos) {
    out.issuer = label->substr(0, colon);
    out.account = label->substr(colon + 1);
    while (!out.account.empty() && out.account.front() == ' ') out.account.erase(0, 1);
  } else {
    out.account = *label;
  }
  bool have_secret = false, have_counter = false;
  std::string_view query = q == std::string_view::npos ? std::string_view{} : uri.substr(q + 1);
  auto number = [](std::string_view v) -> std::optional<std::uint64_t> {
    std::uint64_t n = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc{} || p != v.data() + v.size() || v.empty()) return std::nullopt;
    return n;
  };
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view k = pair.substr(0, eq);
    auto v = detail::percent_decode(pair.substr(eq + 1));
    if (!v) return v.error();
    if (k == "secret") {
      auto key = base32_decode(*v);
      if (!key || key->empty()) return fail("secret is not valid base32");
      out.key = secret{std::move(*key)};
      have_secret = true;
    } else if (k == "issuer") {
      if (!out.issuer.empty() && out.issuer != *v) return fail("issuer parameter differs from the label's issuer");
      out.issuer = *v;
    } else if (k == "algorithm") {
      if (*v == "SHA1") out.options.hash = otp_hash::sha1;
      else if (*v == "SHA256") out.options.hash = otp_hash::sha256;
      else if (*v == "SHA512") out.options.hash = otp_hash::sha512;
      else return fail("unsupported algorithm");
    } else if (k == "digits") {
      auto n = number(*v);
      if (!n || *n < 6 || *n > 8) return fail("digits must be 6, 7 or 8");
      out.options.digits = static_cast<int>(*n);
    } else if (k == "period") {
      auto n = number(*v);
      if (!n || *n == 0 || *n > 86400) return fail("invalid period");
      out.options.period = std::chrono::seconds(static_cast<std::int64_t>(*n));
    } else if (k == "counter") {
      auto n = number(*v);
      if (!n) return fail("invalid counter");
      out.counter = *n;
      have_counter = true;
    }
  }
  if (!have_secret) return fail("missing secret");
  if (!out.totp && !have_counter) return fail("hotp URI without counter");
  return out;
}

}  // namespace intg::auth
