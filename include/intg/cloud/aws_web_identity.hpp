// AWS temporary credentials from a web identity: STS AssumeRoleWithWebIdentity, what Kubernetes
// service accounts use (EKS's IAM roles for service accounts set AWS_ROLE_ARN and
// AWS_WEB_IDENTITY_TOKEN_FILE in the pod). The OIDC token is read from its file at each refresh
// (the kubelet rotates it) and sent to STS without AWS credentials: the token is the credential.
// STS answers with an access key, a secret and a session token valid until an Expiration.
//
// sigv4_auth<Service> is the kit's auth scheme for AWS providers: it signs with the settings' keys,
// or, when the settings name a role_arn, with temporary credentials it obtains from STS and
// renews a margin before they expire (one STS call in flight however many requests wait, through
// auth::oauth2::token_manager). Neither the token, the secret nor the session token appears in
// errors. In cloud/ rather than security/auth/ because STS answers in XML (expat).
#pragma once

#include <intg/cloud/formats.hpp>
#include <intg/core/clock.hpp>
#include <intg/core/error.hpp>
#include <intg/core/result.hpp>
#include <intg/http/client.hpp>
#include <intg/http/message.hpp>
#include <intg/http/url.hpp>
#include <intg/rest/auth.hpp>
#include <intg/rest/xml.hpp>
#include <intg/security/auth/aws_credentials.hpp>
#include <intg/security/auth/sigv4.hpp>
#include <intg/security/auth/token_manager.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

namespace intg::auth::aws {

/// Credentials STS handed out, valid until `expiration` (AWS's clock). A credential for
/// auth::oauth2::token_manager: `expires_in` is what was left of it when it arrived.
struct temporary_credentials {
  sigv4::credentials keys{};
  std::chrono::system_clock::time_point expiration{};
  std::optional<std::chrono::seconds> expires_in{};
  std::optional<time_point> expires_at{};  ///< on the token manager's clock (it stamps it)

  bool expires_within(time_point now, duration margin = duration::zero()) const noexcept {
    return expires_at && *expires_at - margin <= now;
  }
};

/// The intg error for an STS error code: a token or role refused is errc::unauthorized (not
/// retried: the next refresh reads the token file again); throttling and STS or identity-provider
/// outages are transient.
inline errc sts_errc(std::string_view code, int status) noexcept {
  static constexpr std::string_view refused[] = {"InvalidIdentityToken", "ExpiredTokenException", "IDPRejectedClaim",
                                                 "AccessDenied", "InvalidClientTokenId", "RegionDisabledException"};
  for (auto c : refused)
    if (c == code) return errc::unauthorized;
  if (code == "Throttling" || code == "ThrottlingException" || status == 429) return errc::rate_limited;
  if (code == "IDPCommunicationError" || code == "ServiceUnavailable" || code == "InternalFailure" || status >= 500)
    return errc::unavailable;
  return errc::invalid_argument;  // MalformedPolicyDocument, PackedPolicyTooLarge, ValidationError...
}

/// Reads an AssumeRoleWithWebIdentity answer (`now`: the local clock, for expires_in). An STS
/// error document becomes an intg error with STS's code and message; a success must carry the
/// three credentials and an ISO 8601 Expiration still in the future.
inline result<temporary_credentials> parse_web_identity_answer(std::string_view body, int status, std::chrono::system_clock::time_point now) {
  auto fail = [](std::string why) { return error(errc::invalid_response, "aws sts: " + why); };
  auto doc = rest::xml::parse(body, {.max_bytes = 256 * 1024, .max_depth = 8, .max_elements = 200});
  if (status < 200 || status >= 300) {
    std::string code, message;
    if (doc && doc->name == "ErrorResponse")
      if (const auto* e = doc->child("Error")) {
        code = cloud::detail::clean(e->child_text("Code"), 100);
        message = cloud::detail::clean(e->child_text("Message"));
      }
    error e(sts_errc(code, status), "aws sts: AssumeRoleWithWebIdentity refused" +
                                        (code.empty() ? " with HTTP " + std::to_string(status) : " (" + code + ")") +
                                        (message.empty() ? std::string{} : ": " + message));
    e.with_http_status(status);
    if (!code.empty()) e.with_provider_code(code);
    return e;
  }
  if (!doc) return fail("the answer is not XML (" + std::string(doc.error().message()) + ")");
  if (doc->name != "AssumeRoleWithWebIdentityResponse") return fail("the answer is not an AssumeRoleWithWebIdentityResponse");
  const auto* r = doc->child("AssumeRoleWithWebIdentityResult");
  const auto* c = r ? r->child("Credentials") : nullptr;
  if (!c) return fail("the answer has no Credentials");
  temporary_credentials out;
  out.keys = {std::string(c->child_text("AccessKeyId")), secret{std::string(c->child_text("SecretAccessKey"))},
              secret{std::string(c->child_text("SessionToken"))}};
  if (out.keys.access_key_id.empty() || out.keys.secret_access_key.empty() || out.keys.session_token.empty())
    return fail("the answer's Credentials lack AccessKeyId, SecretAccessKey or SessionToken");
  if (auto bad = sigv4::detail::check(out.keys, {.region = "x", .service = "x"}))
    return fail("the answer's " + std::string(bad->setting) + " " + std::string(bad->why));
  const auto expiration = cloud::parse_iso8601(c->child_text("Expiration"));
  if (!expiration) return fail("the answer's Expiration is not an ISO 8601 time");
  if (*expiration <= now) return fail("the credentials STS handed out have already expired (is this machine's clock right?)");
  out.expiration = *expiration;
  out.expires_in = std::chrono::duration_cast<std::chrono::seconds>(*expiration - now);
  return out;
}

namespace detail {
// A role session name: 2 to 64 of [A-Za-z0-9_+=,.@-] (STS's rule).
inline bool valid_session_name(std::string_view s) noexcept {
  if (s.size() < 2 || s.size() > 64) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          std::string_view("_+=,.@-").find(c) != std::string_view::npos))
      return false;
  return true;
}

// The token file's content, trimmed; errors name the path, never the content.
inline result<std::string> read_token_file(const std::string& path) {
  constexpr std::uintmax_t max_bytes = 64 * 1024;  // STS takes tokens up to 20,000 characters
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return error(errc::config_error, "aws: the web identity token file " + path + " cannot be read (" + ec.message() + ")");
  if (size > max_bytes) return error(errc::config_error, "aws: the web identity token file " + path + " is larger than 64 KiB");
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in && !in.eof()) return error(errc::config_error, "aws: the web identity token file " + path + " cannot be read");
  std::string t = std::move(text).str();
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.pop_back();
  if (t.empty()) return error(errc::config_error, "aws: the web identity token file " + path + " is empty");
  for (char ch : t)
    if (static_cast<unsigned char>(ch) < 0x21 || static_cast<unsigned char>(ch) > 0x7e)
      return error(errc::config_error, "aws: the web identity token file " + path + " holds more than one token (or a control character)");
  return t;
}
}  // namespace detail

/// One AssumeRoleWithWebIdentity call to `sts` (https://sts.<region>.amazonaws.com, or a local
/// endpoint): reads the token file, POSTs the form, reads the answer. `duration`: 0 for STS's
/// default (one hour), else 900 s to the role's maximum. STS's own message is kept, with the
/// token cut out should it ever echo it.
inline asio::awaitable<result<temporary_credentials>> assume_role_with_web_identity(http::client& http, const http::url& sts,
                                                                                     const web_identity_config& w,
                                                                                     std::chrono::seconds duration = {}) {
  auto token = detail::read_token_file(w.token_file);
  if (!token) co_return token.error();
  std::string session = w.session_name;
  if (session.empty())
    session = "intg-" + std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::system_clock::now().time_since_epoch()).count());
  if (!detail::valid_session_name(session))
    co_return error(errc::config_error, "aws: the role session name must be 2 to 64 of A-Z a-z 0-9 _+=,.@-");
  http::query q;
  q.add("Action", "AssumeRoleWithWebIdentity").add("Version", "2011-06-15").add("RoleArn", w.role_arn).add("RoleSessionName", session);
  if (duration.count() > 0) q.add("DurationSeconds", std::to_string(duration.count()));
  q.add("WebIdentityToken", *token);
  http::request req(http::verb::post, sts);
  req.form(q);
  req.set(http::field::accept, "application/xml");
  auto res = co_await http.send(req);
  if (!res) co_return res.error();
  auto out = parse_web_identity_answer(res->body(), static_cast<int>(res->result_int()), std::chrono::system_clock::now());
  if (!out) {
    std::string m(out.error().message());
    if (auto at = m.find(*token); at != std::string::npos) {
      m.replace(at, token->size(), "[token]");
      co_return error(out.error()).with_message(std::move(m));
    }
  }
  co_return out;
}

/// The kit's auth scheme for AWS providers (`using auth = auth::aws::sigv4_auth<"s3">`). Settings:
/// region, and either access_key_id, secret_access_key, session_token (optional), or a web
/// identity: role_arn, web_identity_token_file, role_session_name (optional), duration_seconds
/// (optional, 900 to 43200), sts_endpoint (optional: STS's regional endpoint by default; another
/// host must be allowed). With a web identity, initialize() obtains the first credentials; each
/// request signs with the current ones, renewed `manager_options.refresh_margin` (60 s) before
/// they expire. An answer the provider classifies as action::refresh (ExpiredToken, a skewed
/// clock) corrects the clock if that was it, else renews the credentials, and the request is
/// signed and sent once more.
template <fixed_string Service>
class sigv4_auth {
 public:
  /// Signs each request; its keys are the settings' or the current temporary credentials.
  sigv4::signer<Service> signer{};
  /// The credentials' refresh margin; set before initialize().
  oauth2::token_manager_options manager_options{};

  result<void> configure(rest::auth_context& c) {
    auto role = c.string("role_arn", false);
    if (!role) return role.error();
    if (role->empty()) {
      web_ = false;
      return signer.configure(c);
    }
    web_ = true;
    ctx_ = &c;
    auto file = c.string("web_identity_token_file");
    if (!file) return file.error();
    auto session = c.string("role_session_name", false);
    if (!session) return session.error();
    if (!session->empty() && !detail::valid_session_name(*session))
      return c.config("role_session_name", "must be 2 to 64 of A-Z a-z 0-9 _+=,.@-");
    auto region = c.string("region");
    if (!region) return region.error();
    if (region->empty() || !sigv4::detail::is_scope_word(*region))
      return c.config("region", "must be letters, digits, '-', '_' and '.'");
    duration_ = std::chrono::seconds{0};
    if (const auto* d = c.settings ? c.settings->if_contains("duration_seconds") : nullptr) {
      if (!d->is_int64() || d->as_int64() < 900 || d->as_int64() > 43200)
        return c.config("duration_seconds", "must be a whole number of seconds from 900 to 43200");
      duration_ = std::chrono::seconds{d->as_int64()};
    }
    auto endpoint = c.string("sts_endpoint", false);
    if (!endpoint) return endpoint.error();
    if (endpoint->empty()) *endpoint = "https://sts." + *region + ".amazonaws.com/";
    auto url = c.check_url(*endpoint);
    if (!url) return url.error();
    sts_ = std::move(*url);
    identity_ = {std::move(*role), std::move(*file), std::move(*session)};
    signer.region = std::move(*region);
    signer.keys = {};
    manager_.emplace(c.executor, source{this}, manager_options);
    return {};
  }

  /// Obtains the first temporary credentials (web identity only).
  asio::awaitable<result<void>> obtain() {
    if (!web_) co_return result<void>{};
    co_return co_await current();
  }

  asio::awaitable<result<void>> apply_async(http::request& r) {
    if (web_)
      if (auto ok = co_await current(); !ok) co_return ok.error();
    co_return signer.sign(r);
  }

  /// The provider asked for new credentials or a corrected clock (see the class comment).
  bool refused(const http::response& res) {
    if (signer.refused(res)) return true;
    if (!web_ || !manager_) return false;
    manager_->invalidate();
    return true;
  }

  /// Whether the settings chose a web identity.
  bool web_identity() const noexcept { return web_; }
  /// How many times STS was asked for credentials.
  std::uint64_t fetches() const noexcept { return manager_ ? manager_->fetches() : 0; }
  /// When the current temporary credentials expire (AWS's clock); nullopt before the first.
  std::optional<std::chrono::system_clock::time_point> expiration() const {
    if (!manager_ || !manager_->cached()) return std::nullopt;
    return manager_->cached()->expiration;
  }

 private:
  struct source {
    using credential_type = temporary_credentials;
    sigv4_auth* self;
    asio::awaitable<result<temporary_credentials>> operator()() const {
      co_return co_await assume_role_with_web_identity(*self->ctx_->http, self->sts_, self->identity_, self->duration_);
    }
  };

  // Puts the current credentials (renewed when due) into the signer.
  asio::awaitable<result<void>> current() {
    auto c = co_await manager_->get();
    if (!c) co_return c.error();
    if (c->keys.access_key_id != signer.keys.access_key_id || c->keys.session_token.reveal() != signer.keys.session_token.reveal())
      signer.keys = c->keys;
    co_return result<void>{};
  }

  bool web_ = false;
  rest::auth_context* ctx_ = nullptr;
  http::url sts_{};
  web_identity_config identity_{};
  std::chrono::seconds duration_{0};
  std::optional<oauth2::token_manager<source>> manager_{};
};

}  // namespace intg::auth::aws
