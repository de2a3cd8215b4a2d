// Azure Blob Storage on the provider kit: the traits (the account's endpoint, Azure's hosts only
// unless the deployment allows more, Shared Key signing), the mapping of Azure's error codes
// (x-ms-error-code, or the error document's Code) to intg errors, the naming rules of containers,
// blobs and metadata, and how a container and blob become a URL.
#pragma once

#include <intg/core/error.hpp>
#include <intg/http/message.hpp>
#include <intg/http/url.hpp>
#include <intg/providers/azure_blob/answers.hpp>
#include <intg/rest/auth.hpp>
#include <intg/rest/errors.hpp>
#include <intg/rest/provider.hpp>
#include <intg/security/auth/azure_sharedkey.hpp>
#include <intg/version.hpp>

#include <chrono>
#include <string>
#include <string_view>
#include <utility>

namespace intg::azure_blob {

struct provider;

/// The kind of an Azure Storage error code (its conditions: not_found, unauthorized, ...); codes
/// not listed get the kind of their HTTP status. Azure answers a bad signature with
/// AuthenticationFailed; Azurite with AuthorizationFailure and Azure's AuthenticationFailed
/// message ("Server failed to authenticate the request..."), which is read as the same refusal.
/// Otherwise AuthorizationFailure (a network rule, a SAS without the permission) is `forbidden`.
inline provider_errc kind_of(std::string_view code, int status, std::string_view message = {}) noexcept {
  using k = provider_errc;
  static constexpr std::pair<std::string_view, provider_errc> table[] = {
      {"BlobNotFound", k::not_found},          {"ContainerNotFound", k::not_found},
      {"ResourceNotFound", k::not_found},
      {"AuthenticationFailed", k::unauthorized}, {"InvalidAuthenticationInfo", k::unauthorized},
      {"NoAuthenticationInformation", k::unauthorized},
      {"AuthorizationPermissionMismatch", k::forbidden}, {"AuthorizationResourceTypeMismatch", k::forbidden},
      {"AuthorizationServiceMismatch", k::forbidden}, {"AuthorizationProtocolMismatch", k::forbidden},
      {"AuthorizationSourceIPMismatch", k::forbidden}, {"InsufficientAccountPermissions", k::forbidden},
      {"AccountIsDisabled", k::forbidden},
      {"ContainerAlreadyExists", k::conflict}, {"ContainerBeingDeleted", k::conflict},
      {"ContainerDisabled", k::conflict},      {"BlobAlreadyExists", k::conflict},
      {"ConditionNotMet", k::conflict},        {"TargetConditionNotMet", k::conflict},
      {"LeaseIdMissing", k::conflict},         {"LeaseAlreadyPresent", k::conflict},
      {"BlobArchived", k::conflict},
      {"ServerBusy", k::rate_limited},
      {"InternalError", k::server_error},      {"OperationTimedOut", k::server_error},
  };
  if (code == "AuthorizationFailure")
    return message.starts_with("Server failed to authenticate the request") ? k::unauthorized : k::forbidden;
  for (const auto& [name, kind] : table)
    if (name == code) return kind;
  if (status >= 300 && status < 400) return k::rejected;
  return rest::kind_of_status(status);
}

/// An Azure answer that is not a success as an intg error: intg::provider_error<azure_blob::provider>
/// with Azure's code (`provider_code()`: x-ms-error-code, else the document's Code), the message's
/// first line and the request id. HEAD answers have no body: their code comes from the header.
inline error to_error(const error_document& doc, int status, const http::response& res) {
  std::string code = doc.code;
  if (auto it = res.find("x-ms-error-code"); it != res.end()) code = detail::clean(it->value(), 100);
  std::string text = doc.message;
  if (text.empty())
    text = "azure blob: HTTP " + std::to_string(status) + (code.empty() ? "" : " " + code) +
           (res.body().empty() ? " (no error document)" : doc.code.empty() ? " (not an Azure error document)" : "");
  std::string id = doc.request_id;
  if (auto it = res.find("x-ms-request-id"); id.empty() && it != res.end()) id = detail::clean(it->value(), 100);
  if (!id.empty()) text += " (request id: " + id + ")";
  return provider_error<provider>(kind_of(code, status, doc.message), status, code, std::move(text));
}

struct provider {
  static constexpr std::string_view name = "azure_blob";
  static constexpr std::string_view category = "cloud_service";
  /// The account's blob endpoint; settings.base_url overrides it (Azurite:
  /// http://127.0.0.1:10000/devstoreaccount1, the account as the first path segment).
  static constexpr std::string_view default_base_url = "https://{account_name}.blob.core.windows.net";
  static constexpr std::string_view allowed_hosts[] = {"*.blob.core.windows.net", "*.blob.core.usgovcloudapi.net",
                                                       "*.blob.core.chinacloudapi.cn"};
  static constexpr std::string_view user_agent = "intg-azure-blob/" INTG_VERSION_STRING;
  /// get_blob() holds a blob in memory up to this; get_stream() reads larger ones in ranges.
  static constexpr std::uint64_t max_response_bytes = 64u << 20;
  /// settings: account_name, account_key (a secret, base64 as the portal shows it).
  using auth = rest::signed_by<auth::azure::signer>;
  /// Get Blob Service Properties (needs the account key).
  static constexpr rest::call health{http::verb::get, "/?restype=service&comp=properties"};

  /// 2xx is a success; everything else is mapped by to_error(). ServerBusy (throttling) waits
  /// and retries; InternalError, OperationTimedOut and 5xx retry (every request here is a PUT,
  /// GET, HEAD or DELETE, which the kit may resend); the rest fail.
  static rest::verdict classify_answer(const http::response& res, std::chrono::system_clock::time_point now) {
    const int status = static_cast<int>(res.result_int());
    if (status >= 200 && status < 300) return {};
    auto doc = parse_error(res.body());
    error e = to_error(doc ? *doc : error_document{}, status, res);
    const auto kind = static_cast<provider_errc>(e.code().value());
    if (kind == provider_errc::rate_limited || kind == provider_errc::server_error) {
      if (auto it = res.find(http::field::retry_after); it != res.end()) e.with_retry_after(http::parse_retry_after(it->value(), now));
      return {kind == provider_errc::rate_limited ? rest::action::rate_limited : rest::action::retry, std::move(e)};
    }
    return {rest::action::fail, std::move(e)};
  }
};

/// A container name: 3 to 63 lower-case letters, digits and '-', starting with a letter or digit,
/// no "--", not ending with '-'; or one of Azure's $root, $web, $logs.
inline result<void> check_container(std::string_view c) {
  if (c == "$root" || c == "$web" || c == "$logs") return {};
  auto fail = [](std::string_view why) { return error(errc::invalid_argument, "azure blob: invalid container name: " + std::string(why)); };
  if (c.size() < 3 || c.size() > 63) return fail("it must be 3 to 63 characters long");
  for (char ch : c)
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-')) return fail("only lower-case letters, digits and '-' are allowed");
  if (c.front() == '-' || c.back() == '-') return fail("it must start and end with a letter or digit");
  if (c.find("--") != std::string_view::npos) return fail("it must not hold \"--\"");
  return {};
}

/// A blob name: 1 to 1,024 bytes without control characters (Azure lists names holding them in
/// a percent-encoded form, which this client does not read).
inline result<void> check_blob(std::string_view b) {
  if (b.empty()) return error(errc::invalid_argument, "azure blob: a blob name must not be empty");
  if (b.size() > 1024) return error(errc::invalid_argument, "azure blob: a blob name must be at most 1,024 bytes (" + std::to_string(b.size()) + ")");
  for (unsigned char c : b)
    if (c < 0x20 || c == 0x7f) return error(errc::invalid_argument, "azure blob: a blob name must not hold control characters");
  return {};
}

/// A metadata name: a C# identifier (letters, digits and '_', not starting with a digit), as
/// Azure requires; so no name holds a '-', where Azure's and Azurite's header orders differ.
inline result<void> check_metadata_name(std::string_view n) {
  auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  bool ok = !n.empty() && n.size() <= 256 && letter(n.front());
  for (char c : n) ok = ok && (letter(c) || (c >= '0' && c <= '9'));
  if (!ok) return error(errc::invalid_argument, "azure blob: metadata name " + detail::clean(n, 64) + " is not a C# identifier (letters, digits, '_')");
  return {};
}

/// A blob name as it goes into a URL path: every byte but RFC 3986's unreserved characters and
/// '/' percent-encoded.
inline std::string encode_blob(std::string_view name) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(name.size() + name.size() / 4);
  for (unsigned char c : name) {
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

/// The URL of a container (empty blob) or a blob, under the endpoint `base` (origin) and
/// `base_path` (Azurite's "/devstoreaccount1"; empty for Azure), with `query` (encoded, no '?').
inline result<http::url> blob_url(const http::url& base, std::string_view base_path, std::string_view container,
                                  std::string_view blob, std::string_view query = {}) {
  if (auto ok = check_container(container); !ok) return ok.error();
  std::string u(base.scheme());
  u += "://";
  u += base.host_header();
  u += base_path;
  u += '/';
  u += container;
  if (!blob.empty()) {
    if (auto ok = check_blob(blob); !ok) return ok.error();
    u += '/';
    u += encode_blob(blob);
  }
  if (!query.empty()) {
    u += '?';
    u += query;
  }
  return http::url::parse(u);
}

}  // namespace intg::azure_blob
