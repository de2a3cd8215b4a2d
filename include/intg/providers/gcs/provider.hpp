// Google Cloud Storage on the provider kit: the traits (the JSON API's endpoint, Google's hosts
// only unless the deployment allows more, OAuth 2.0 access tokens from a service account key or
// from the metadata server), the mapping of Google's error reasons to intg errors, the naming
// rules of buckets and objects, and how a bucket and object become a URL.
#pragma once

#include <intg/core/error.hpp>
#include <intg/http/message.hpp>
#include <intg/http/url.hpp>
#include <intg/providers/gcs/answers.hpp>
#include <intg/rest/auth.hpp>
#include <intg/rest/errors.hpp>
#include <intg/rest/provider.hpp>
#include <intg/version.hpp>

#include <boost/json/object.hpp>

#include <chrono>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>

namespace intg::gcs {

struct provider;

/// The kind of a Google error reason (its conditions: not_found, unauthorized, ...); reasons not
/// listed get the kind of their HTTP status.
inline provider_errc kind_of(std::string_view reason, int status) noexcept {
  using k = provider_errc;
  static constexpr std::pair<std::string_view, provider_errc> table[] = {
      {"notFound", k::not_found},
      {"required", k::unauthorized},          {"authError", k::unauthorized},
      {"forbidden", k::forbidden},            {"insufficientPermissions", k::forbidden},
      {"accountDisabled", k::forbidden},      {"userProjectMissing", k::bad_request},
      {"conflict", k::conflict},              {"conditionNotMet", k::conflict},
      {"rateLimitExceeded", k::rate_limited}, {"userRateLimitExceeded", k::rate_limited},
      {"backendError", k::server_error},      {"internalError", k::server_error},
      {"invalid", k::bad_request},            {"badRequest", k::bad_request},
  };
  if (status == 401) return k::unauthorized;  // whatever the reason says, the token was refused
  for (const auto& [name, kind] : table)
    if (name == reason) return kind;
  if (status == 408) return k::server_error;
  if (status >= 300 && status < 400) return k::rejected;
  return rest::kind_of_status(status);
}

/// An answer that is not a success as an intg error: intg::provider_error<gcs::provider> with
/// Google's reason (`provider_code()`) and message. HEAD-like answers without a body get the kind
/// of their status.
inline error to_error(const error_document& doc, int status) {
  std::string text = doc.message;
  if (text.empty()) text = "gcs: HTTP " + std::to_string(status) + (doc.reason.empty() ? " (no error document)" : " " + doc.reason);
  else text = "gcs: " + text;
  return provider_error<provider>(kind_of(doc.reason, status), status, doc.reason, std::move(text));
}

/// The scope of the tokens the client asks for (read and write objects and buckets).
inline constexpr fixed_string default_scope = "https://www.googleapis.com/auth/devstorage.read_write";

/// A service account key read from a file: settings.credentials_path names it (what
/// GOOGLE_APPLICATION_CREDENTIALS names for Google's libraries), read once at initialize() (at most
/// 64 KiB), then used as `Scheme` uses settings.service_account. A missing or unreadable file is a
/// configuration error naming the setting; the key never appears in it.
template <class Scheme>
class key_file {
 public:
  result<void> configure(rest::auth_context& c) {
    auto path = c.string("credentials_path");
    if (!path) return path.error();
    std::ifstream in(*path, std::ios::binary);
    if (!in) return c.config("credentials_path", "names a file that cannot be read: " + *path);
    std::string text(64 * 1024 + 1, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<std::size_t>(in.gcount()));
    if (text.size() > 64 * 1024) return c.config("credentials_path", "names a file larger than a key file (64 KiB): " + *path);
    settings_ = c.settings ? *c.settings : boost::json::object{};
    settings_["service_account"] = std::move(text);
    ctx_ = c;  // the scheme keeps a pointer to its context: this copy lives as long as the scheme
    ctx_.settings = &settings_;
    return scheme_.configure(ctx_);
  }
  asio::awaitable<result<void>> obtain() { return scheme_.obtain(); }
  asio::awaitable<result<void>> apply_async(http::request& r) { return scheme_.apply_async(r); }
  bool unauthorized() { return scheme_.unauthorized(); }

 private:
  boost::json::object settings_;
  rest::auth_context ctx_;
  Scheme scheme_{};
};

struct provider {
  static constexpr std::string_view name = "gcs";
  static constexpr std::string_view category = "cloud_service";
  /// The JSON API's endpoint; settings.base_url overrides it (a local server in tests).
  static constexpr std::string_view default_base_url = "https://storage.googleapis.com";
  /// Also the hosts a service account key's token_uri may name.
  static constexpr std::string_view allowed_hosts[] = {"storage.googleapis.com", "oauth2.googleapis.com"};
  static constexpr std::string_view user_agent = "intg-gcs/" INTG_VERSION_STRING;
  /// get_object() holds an object in memory up to this; get_stream() reads larger ones in ranges.
  static constexpr std::uint64_t max_response_bytes = 64u << 20;
  /// settings.service_account (the JSON key file, a secret) when it is set, else the key file at
  /// settings.credentials_path, else the metadata server of the machine the program runs on;
  /// settings.scope overrides the scope.
  using service_account = rest::jwt_bearer<"service_account", default_scope>;
  using auth = rest::one_of<rest::if_set<"service_account", service_account>, rest::if_set<"credentials_path", key_file<service_account>>,
                            rest::google_metadata<default_scope>>;

  /// 2xx is a success, and so is 308 (a resumable upload's "resume incomplete", the only 308
  /// the JSON API sends). 401 drops the token and sends once more with a new one; throttling
  /// (429, rateLimitExceeded) waits and retries; 408 and 5xx retry where resending is safe (the
  /// kit never resends a POST that may have taken effect); the rest fail.
  static rest::verdict classify_answer(const http::response& res, std::chrono::system_clock::time_point now) {
    const int status = static_cast<int>(res.result_int());
    if ((status >= 200 && status < 300) || status == 308) return {};
    auto doc = parse_error(res.body());
    error e = to_error(doc ? *doc : error_document{}, status);
    const auto kind = static_cast<provider_errc>(e.code().value());
    if (status == 401) return {rest::action::refresh, std::move(e)};
    if (kind == provider_errc::rate_limited || kind == provider_errc::server_error) {
      if (auto it = res.find(http::field::retry_after); it != res.end()) e.with_retry_after(http::parse_retry_after(it->value(), now));
      return {kind == provider_errc::rate_limited ? rest::action::rate_limited : rest::action::retry, std::move(e)};
    }
    return {rest::action::fail, std::move(e)};
  }
};

/// A bucket name: 3 to 63 characters (222 with dots) of lower-case letters, digits, '-', '_' and
/// '.', starting and ending with a letter or digit.
inline result<void> check_bucket(std::string_view b) {
  auto fail = [](std::string_view why) { return error(errc::invalid_argument, "gcs: invalid bucket name: " + std::string(why)); };
  const bool dotted = b.find('.') != std::string_view::npos;
  if (b.size() < 3 || b.size() > (dotted ? 222u : 63u)) return fail("it must be 3 to 63 characters long (222 with dots)");
  for (char c : b)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
      return fail("only lower-case letters, digits, '-', '_' and '.' are allowed");
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(b.front()) || !alnum(b.back())) return fail("it must start and end with a letter or digit");
  return {};
}

/// An object name: 1 to 1,024 bytes, no control characters (Google refuses CR and LF), not "."
/// or "..".
inline result<void> check_object(std::string_view o) {
  if (o.empty()) return error(errc::invalid_argument, "gcs: an object name must not be empty");
  if (o.size() > 1024) return error(errc::invalid_argument, "gcs: an object name must be at most 1,024 bytes (" + std::to_string(o.size()) + ")");
  if (o == "." || o == "..") return error(errc::invalid_argument, "gcs: an object cannot be named \".\" or \"..\"");
  for (unsigned char c : o)
    if (c < 0x20 || c == 0x7f) return error(errc::invalid_argument, "gcs: an object name must not hold control characters");
  return {};
}

/// The URL of the JSON API's `path` (below the origin, e.g. "/storage/v1/b/B/o") on `base`'s
/// origin, with `query` (encoded, no '?').
inline result<http::url> api_url(const http::url& base, std::string_view path, std::string_view query = {}) {
  std::string u = base.origin();
  u += path;
  if (!query.empty()) {
    u += '?';
    u += query;
  }
  return http::url::parse(u);
}

/// "/storage/v1/b/BUCKET/o/OBJECT" (OBJECT empty: ".../o"), each name one percent-encoded path
/// segment ('/' in an object name is %2F, as the JSON API requires).
inline result<std::string> object_path(std::string_view bucket, std::string_view object, bool upload = false) {
  if (auto ok = check_bucket(bucket); !ok) return ok.error();
  std::string p = upload ? "/upload/storage/v1/b/" : "/storage/v1/b/";
  p += bucket;
  p += "/o";
  if (!object.empty()) {
    if (auto ok = check_object(object); !ok) return ok.error();
    p += '/';
    http::percent_encode_to(p, object);
  }
  return p;
}

}  // namespace intg::gcs
