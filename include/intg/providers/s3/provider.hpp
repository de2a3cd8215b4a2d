// Amazon S3 on the provider kit: the traits (endpoint per region, AWS hosts only unless the
// deployment allows more, SigV4 with the "s3" rules), the mapping of S3's error documents to
// intg errors carrying S3's code, and how a bucket and key become a URL (path-style or
// virtual-hosted addressing).
#pragma once

#include <intg/core/error.hpp>
#include <intg/http/message.hpp>
#include <intg/http/url.hpp>
#include <intg/providers/s3/answers.hpp>
#include <intg/rest/errors.hpp>
#include <intg/rest/provider.hpp>
#include <intg/rest/auth.hpp>
#include <intg/cloud/aws_web_identity.hpp>
#include <intg/security/auth/sigv4.hpp>
#include <intg/version.hpp>

#include <algorithm>
#include <chrono>
#include <string>
#include <string_view>
#include <utility>

namespace intg::s3 {

/// How a bucket is named in a URL. `virtual_hosted`: https://BUCKET.s3.REGION.amazonaws.com/KEY;
/// `path`: https://s3.REGION.amazonaws.com/BUCKET/KEY; `automatic` (the default) as botocore
/// chooses: virtual-hosted when the bucket is a DNS label usable in the host (no dots under
/// https, where they would break the certificate's wildcard) and the endpoint is a host name, not
/// an IP address; path-style otherwise.
enum class addressing { automatic, path, virtual_hosted };

struct provider;

/// The kind of an S3 error code (its conditions: not_found, unauthorized, ...); codes not listed
/// get the kind of their HTTP status.
inline provider_errc kind_of(std::string_view code, int status) noexcept {
  using k = provider_errc;
  static constexpr std::pair<std::string_view, provider_errc> table[] = {
      {"NoSuchKey", k::not_found},           {"NoSuchBucket", k::not_found},
      {"NoSuchUpload", k::not_found},        {"NoSuchVersion", k::not_found},
      {"AccessDenied", k::forbidden},        {"AllAccessDisabled", k::forbidden},
      {"AccountProblem", k::forbidden},      {"InvalidObjectState", k::forbidden},
      {"SignatureDoesNotMatch", k::unauthorized}, {"InvalidAccessKeyId", k::unauthorized},
      {"InvalidToken", k::unauthorized},     {"ExpiredToken", k::unauthorized},
      {"TokenRefreshRequired", k::unauthorized}, {"RequestTimeTooSkewed", k::unauthorized},
      {"AuthorizationHeaderMalformed", k::unauthorized}, {"MissingSecurityHeader", k::unauthorized},
      {"InvalidSecurity", k::unauthorized},
      {"BucketAlreadyExists", k::conflict},  {"BucketAlreadyOwnedByYou", k::conflict},
      {"BucketNotEmpty", k::conflict},       {"OperationAborted", k::conflict},
      {"PreconditionFailed", k::conflict},   {"InvalidBucketState", k::conflict},
      {"SlowDown", k::rate_limited},         {"ServiceUnavailable", k::server_error},
      {"InternalError", k::server_error},    {"RequestTimeout", k::server_error},
  };
  for (const auto& [name, kind] : table)
    if (name == code) return kind;
  if (status >= 300 && status < 400) return k::rejected;  // a redirect: another region or endpoint
  return rest::kind_of_status(status);
}

/// An S3 answer that is not a success (or a 2xx carrying an error document) as an intg error:
/// intg::provider_error<s3::provider> with S3's code (`provider_code()`), its message, and the
/// key, bucket, region and request id when S3 names them.
inline error to_error(const error_document& doc, int status, const http::response& res);

struct provider {
  static constexpr std::string_view name = "s3";
  static constexpr std::string_view category = "cloud_service";
  /// The region's endpoint; settings.base_url overrides it (an S3-compatible service, moto).
  static constexpr std::string_view default_base_url = "https://s3.{region}.amazonaws.com";
  static constexpr std::string_view allowed_hosts[] = {"*.amazonaws.com"};
  static constexpr std::string_view user_agent = "intg-s3/" INTG_VERSION_STRING;
  /// get_object() holds an object in memory up to this; get_stream() reads larger ones in ranges.
  static constexpr std::uint64_t max_response_bytes = 64u << 20;
  /// settings: region and access_key_id, secret_access_key, session_token (optional); or a web
  /// identity: role_arn, web_identity_token_file (see auth::aws::sigv4_auth).
  using auth = auth::aws::sigv4_auth<"s3">;
  /// ListBuckets (needs s3:ListAllMyBuckets).
  static constexpr rest::call health{http::verb::get, "/"};

  /// S3 answers in XML: 2xx is a success unless its body is an error document and it is not an
  /// object's content (an object's GET answer always has an ETag header); everything else is
  /// mapped by to_error(). SlowDown waits and retries (S3 refused the request before acting on
  /// it); InternalError, ServiceUnavailable, RequestTimeout and 5xx retry where resending is safe
  /// (the kit turns them into errc::outcome_unknown for a POST); the rest fail.
  static rest::verdict classify_answer(const http::response& res, std::chrono::system_clock::time_point now) {
    const int status = static_cast<int>(res.result_int());
    std::optional<error_document> doc;
    if (status >= 200 && status < 300) {
      if (res.find(http::field::etag) != res.end() || !is_error_document(res.body())) return {};
      doc = parse_error(res.body());
      if (!doc) return {};
    } else {
      doc = parse_error(res.body());
    }
    error e = to_error(doc ? *doc : error_document{}, status, res);
    // The request's time is more than 15 minutes off AWS's: the signer takes AWS's time from the
    // answer's Date and the kit signs and sends once more (never more: see sigv4::signer::refused).
    if (doc && doc->code == "RequestTimeTooSkewed") return {rest::action::refresh, std::move(e)};
    // Temporary credentials that expired (or were revoked): a web identity obtains new ones and the
    // kit signs and sends once more; static keys cannot be renewed, so the error stands.
    if (doc && (doc->code == "ExpiredToken" || doc->code == "TokenRefreshRequired")) return {rest::action::refresh, std::move(e)};
    const auto kind = static_cast<provider_errc>(e.code().value());
    if (kind == provider_errc::rate_limited || kind == provider_errc::server_error) {
      if (auto it = res.find(http::field::retry_after); it != res.end()) e.with_retry_after(http::parse_retry_after(it->value(), now));
      return {kind == provider_errc::rate_limited ? rest::action::rate_limited : rest::action::retry, std::move(e)};
    }
    return {rest::action::fail, std::move(e)};
  }
};

inline error to_error(const error_document& doc, int status, const http::response& res) {
  std::string text = doc.message;
  if (doc.code.empty()) {
    // HEAD answers have no body, and a proxy's error page is not S3's.
    text = "s3: HTTP " + std::to_string(status) + (res.body().empty() ? " (no error document)" : " (not an S3 error document)");
  }
  std::string details;
  auto add = [&](std::string_view name, std::string_view value) {
    if (value.empty()) return;
    details += details.empty() ? " (" : ", ";
    details += name;
    details += ": ";
    details += value;
  };
  add("bucket", doc.bucket);
  add("key", doc.key);
  if (status >= 300 && status < 400) {
    // A bucket in another region: say which, so that settings.region can be fixed.
    std::string region = doc.region;
    if (auto it = res.find("x-amz-bucket-region"); region.empty() && it != res.end()) region = std::string(it->value().substr(0, 64));
    add("the bucket's region", region);
    add("endpoint", doc.endpoint);
  } else {
    add("region", doc.region);
  }
  add("request id", doc.request_id);
  if (!details.empty()) text += details + ")";
  return provider_error<provider>(kind_of(doc.code, status), status, doc.code, std::move(text));
}

namespace detail {

inline bool is_lower_alnum(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

inline bool looks_like_ipv4(std::string_view s) noexcept {
  int dots = 0;
  for (char c : s) {
    if (c == '.') ++dots;
    else if (c < '0' || c > '9') return false;
  }
  return dots == 3;
}

}  // namespace detail

/// S3's bucket naming rules: 3 to 63 characters of lower-case letters, digits, dots and hyphens,
/// starting and ending with a letter or digit, no "..", not shaped like an IPv4 address.
inline result<void> check_bucket(std::string_view b) {
  auto fail = [&](std::string_view why) {
    return error(errc::invalid_argument, "s3: invalid bucket name: " + std::string(why));
  };
  if (b.size() < 3 || b.size() > 63) return fail("it must be 3 to 63 characters long");
  for (char c : b)
    if (!detail::is_lower_alnum(c) && c != '.' && c != '-') return fail("only lower-case letters, digits, '.' and '-' are allowed");
  if (!detail::is_lower_alnum(b.front()) || !detail::is_lower_alnum(b.back())) return fail("it must start and end with a letter or digit");
  if (b.find("..") != std::string_view::npos || b.find(".-") != std::string_view::npos || b.find("-.") != std::string_view::npos)
    return fail("dots must separate labels");
  if (detail::looks_like_ipv4(b)) return fail("it must not look like an IP address");
  return {};
}

/// A key: 1 to 1,024 bytes.
inline result<void> check_key(std::string_view k) {
  if (k.empty()) return error(errc::invalid_argument, "s3: an object key must not be empty");
  if (k.size() > 1024) return error(errc::invalid_argument, "s3: an object key must be at most 1,024 bytes (" + std::to_string(k.size()) + ")");
  return {};
}

/// A key as it goes into a URL path (and x-amz-copy-source): every byte but RFC 3986's unreserved
/// characters and '/' percent-encoded, as botocore does. ".", ".." and empty segments are key
/// names in S3 and stay as they are (SigV4's S3 rules do not normalise them either).
inline std::string encode_key(std::string_view key) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(key.size() + key.size() / 4);
  for (unsigned char c : key) {
    if (http::detail::is_unreserved(c) || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

/// Whether `bucket` can be the first label of the endpoint's host: a DNS label (no dots), or,
/// over plain http, dotted labels too.
inline bool virtual_hostable(std::string_view bucket, bool tls) noexcept {
  if (!check_bucket(bucket)) return false;
  return !tls || bucket.find('.') == std::string_view::npos;
}

/// The URL of a bucket (empty key) or of an object, from the endpoint `base` (origin and path
/// prefix), with `query` (already encoded, without '?') appended.
inline result<http::url> object_url(const http::url& base, std::string_view base_path, addressing mode, std::string_view bucket,
                                    std::string_view key, std::string_view query = {}) {
  if (auto ok = check_bucket(bucket); !ok) return ok.error();
  const bool ip = base.host().find(':') != std::string::npos || detail::looks_like_ipv4(base.host());
  bool virtual_host = false;
  if (mode == addressing::virtual_hosted) {
    if (ip) return error(errc::invalid_argument, "s3: virtual-hosted addressing needs an endpoint with a host name, not an IP address");
    if (!virtual_hostable(bucket, base.tls()))
      return error(errc::invalid_argument, "s3: bucket " + std::string(bucket) + " cannot be named in the host (dots under https): use path-style addressing");
    virtual_host = true;
  } else if (mode == addressing::automatic) {
    virtual_host = !ip && virtual_hostable(bucket, base.tls());
  }
  std::string u(base.scheme());
  u += "://";
  if (virtual_host) {
    u += bucket;
    u += '.';
  }
  u += base.host_header();
  u += base_path;
  if (!virtual_host) {
    u += '/';
    u += bucket;
  }
  if (!key.empty()) {
    u += '/';
    u += encode_key(key);
  } else if (virtual_host) {
    u += '/';
  }
  if (!query.empty()) {
    u += '?';
    u += query;
  }
  return http::url::parse(u);
}

}  // namespace intg::s3
