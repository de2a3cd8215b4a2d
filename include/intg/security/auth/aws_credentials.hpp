// AWS credentials from where the AWS CLI and SDKs look for them: the environment
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION / AWS_DEFAULT_REGION)
// and the shared files (~/.aws/credentials and ~/.aws/config, or AWS_SHARED_CREDENTIALS_FILE and
// AWS_CONFIG_FILE) with profiles (AWS_PROFILE, `[name]` in credentials, `[profile name]` in config;
// the credentials file wins where both set a key). default_chain() tries them in that order and
// says what it tried when nothing is found. A web identity (AWS_WEB_IDENTITY_TOKEN_FILE and
// AWS_ROLE_ARN, or a profile's web_identity_token_file and role_arn: what Kubernetes service
// accounts use) is found too; its temporary credentials come from STS at run time, through
// <intg/cloud/aws_web_identity.hpp>. Values never appear in errors; a file's problem is named by
// path and line.
//
// The chain reads the process's environment and files, so it is the deployment's to call: the
// kit's sigv4::signer takes keys from tenant settings and never falls back to the chain, which
// would hand a tenant without keys the deployment's own credentials.
#pragma once

#include <intg/core/error.hpp>
#include <intg/core/result.hpp>
#include <intg/core/secret.hpp>
#include <intg/security/auth/sigv4.hpp>

#include <boost/json/object.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

namespace intg::auth::aws {

/// Where a set of credentials came from (for logs; never the values).
enum class credential_origin { environment, shared_files, web_identity };

/// A role to assume with a web identity token (STS AssumeRoleWithWebIdentity). The token file
/// is re-read at each refresh: the platform (a Kubernetes kubelet) rotates it.
struct web_identity_config {
  std::string role_arn{};
  std::string token_file{};
  std::string session_name{};  ///< empty: "intg-" and the time in milliseconds
};

/// Credentials found by the chain, with the region found alongside them (may be empty).
struct found_credentials {
  sigv4::credentials keys{};  ///< empty for web_identity: STS hands them out at run time
  std::string region{};
  credential_origin origin = credential_origin::environment;
  std::string profile{};  ///< the profile read, for shared_files (and a profile's web identity)
  std::optional<web_identity_config> web_identity{};  ///< set for web_identity
  std::string sts_endpoint{};  ///< AWS_ENDPOINT_URL_STS, for web_identity (empty: STS's regional one)

  /// The settings an AWS provider on the kit reads (s3::client...): access_key_id,
  /// secret_access_key, session_token, region; or role_arn, web_identity_token_file,
  /// role_session_name, sts_endpoint, region. They hold the secret: keep them where settings go.
  boost::json::object settings() const {
    boost::json::object o;
    if (!region.empty()) o["region"] = region;
    if (web_identity) {
      o["role_arn"] = web_identity->role_arn;
      o["web_identity_token_file"] = web_identity->token_file;
      if (!web_identity->session_name.empty()) o["role_session_name"] = web_identity->session_name;
      if (!sts_endpoint.empty()) o["sts_endpoint"] = sts_endpoint;
      return o;
    }
    o["access_key_id"] = keys.access_key_id;
    o["secret_access_key"] = keys.secret_access_key.reveal();
    if (!keys.session_token.empty()) o["session_token"] = keys.session_token.reveal();
    return o;
  }
};

/// Reads an environment variable; empty when unset. The default reads the process's environment;
/// tests pass a map.
using environment = std::function<std::string(std::string_view)>;
inline std::string process_environment(std::string_view name) {
  const char* v = std::getenv(std::string(name).c_str());
  return v ? v : "";
}

/// The profiles of one AWS shared file (INI as the AWS SDKs read it): `[section]` headers,
/// `key = value` lines (whitespace around both trimmed; no inline comments, as in botocore), whole
/// line comments starting with '#' or ';', and indented lines continuing the previous key (nested
/// settings such as `s3 =` then `  addressing_style = path`, kept as one value). In a config file
/// profiles are `[default]` and `[profile NAME]`; other sections (`[sso-session x]`, `[services
/// x]`) are skipped. Bounded: files over 1 MiB and lines over 64 KiB are refused.
class shared_file {
 public:
  using profile = std::map<std::string, std::string, std::less<>>;
  static constexpr std::size_t max_bytes = 1 << 20;
  static constexpr std::size_t max_line = 64 * 1024;

  /// Parses `text`; `config` selects the config file's `[profile NAME]` rule; `name` (the path)
  /// goes into error messages.
  static result<shared_file> parse(std::string_view text, bool config, std::string_view name = "AWS shared file") {
    auto fail = [&](std::size_t line, std::string_view why) {
      return error(errc::config_error, std::string(name) + ":" + std::to_string(line) + ": " + std::string(why));
    };
    if (text.size() > max_bytes) return error(errc::config_error, std::string(name) + ": larger than 1 MiB");
    shared_file f;
    profile* current = nullptr;  // nullptr: outside any profile (or in a skipped section)
    bool in_section = false;
    std::string last_key;
    std::size_t n = 0;
    while (!text.empty()) {
      ++n;
      const auto eol = text.find('\n');
      std::string_view line = text.substr(0, eol);
      text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.size() > max_line) return fail(n, "line longer than 64 KiB");
      for (char c : line)
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t') return fail(n, "control character");
      const bool indented = !line.empty() && (line.front() == ' ' || line.front() == '\t');
      const std::string_view t = trim(line);
      if (t.empty() || t.front() == '#' || t.front() == ';') continue;
      if (indented && in_section && !last_key.empty()) {  // a continuation of the previous key
        if (current) {
          auto& v = (*current)[last_key];
          v += v.empty() ? "" : "\n";
          v += t;
        }
        continue;
      }
      if (t.front() == '[') {
        if (t.back() != ']') return fail(n, "section header without a closing ']'");
        std::string_view section = trim(t.substr(1, t.size() - 2));
        if (section.empty()) return fail(n, "empty section name");
        in_section = true;
        last_key.clear();
        current = nullptr;
        if (config) {
          if (section == "default") current = &f.profiles_["default"];
          else if (section == "profile" || section.starts_with("profile ") || section.starts_with("profile\t")) {
            std::string_view p = trim(section.substr(7));
            if (p.empty()) return fail(n, "profile section without a name");
            current = &f.profiles_[std::string(p)];
          }
        } else {
          current = &f.profiles_[std::string(section)];
        }
        continue;
      }
      const auto eq = t.find('=');
      if (eq == std::string_view::npos) return fail(n, "expected 'key = value', a [section] or a comment");
      if (!in_section) return fail(n, "a setting before any [section]");
      const std::string_view key = trim(t.substr(0, eq));
      if (key.empty()) return fail(n, "a setting without a name");
      last_key.assign(key);
      if (current) (*current)[last_key] = std::string(trim(t.substr(eq + 1)));
    }
    return f;
  }

  /// Reads and parses the file at `path`; nullopt (not an error) when it does not exist.
  static result<std::optional<shared_file>> load(const std::filesystem::path& path, bool config) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return std::optional<shared_file>{};
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) return error(errc::config_error, path.string() + ": cannot be read (" + ec.message() + ")");
    if (size > max_bytes) return error(errc::config_error, path.string() + ": larger than 1 MiB");
    std::ifstream in(path, std::ios::binary);
    if (!in) return error(errc::config_error, path.string() + ": cannot be opened");
    std::ostringstream text;
    text << in.rdbuf();
    auto f = parse(text.str(), config, path.string());
    if (!f) return f.error();
    return std::optional<shared_file>{std::move(*f)};
  }

  const profile* find(std::string_view name) const {
    auto it = profiles_.find(name);
    return it == profiles_.end() ? nullptr : &it->second;
  }
  std::size_t size() const noexcept { return profiles_.size(); }

 private:
  static std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  }
  std::map<std::string, profile, std::less<>> profiles_;
};

/// The region the environment names (AWS_REGION, else AWS_DEFAULT_REGION).
inline std::string region_from(const environment& env) {
  auto r = env("AWS_REGION");
  return r.empty() ? env("AWS_DEFAULT_REGION") : r;
}

/// Credentials from the environment; nullopt when AWS_ACCESS_KEY_ID is not set, an error when it
/// is set without AWS_SECRET_ACCESS_KEY.
inline result<std::optional<found_credentials>> from_environment(const environment& env = process_environment) {
  std::string id = env("AWS_ACCESS_KEY_ID");
  if (id.empty()) return std::optional<found_credentials>{};
  std::string key = env("AWS_SECRET_ACCESS_KEY");
  if (key.empty()) return error(errc::config_error, "aws: AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
  found_credentials c{{std::move(id), secret{std::move(key)}, secret{env("AWS_SESSION_TOKEN")}}, region_from(env), credential_origin::environment, {}};
  if (auto bad = sigv4::detail::check(c.keys, {.region = "x", .service = "x"}))
    return error(errc::config_error, "aws: the environment's " + std::string(bad->setting == "access_key_id" ? "AWS_ACCESS_KEY_ID" : bad->setting == "session_token" ? "AWS_SESSION_TOKEN" : "AWS_SECRET_ACCESS_KEY") + " " + std::string(bad->why));
  return std::optional<found_credentials>{std::move(c)};
}

/// The shared files' paths: AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE, else ~/.aws/.
struct shared_paths {
  std::filesystem::path credentials, config;
  static shared_paths from(const environment& env) {
    const std::filesystem::path home = env("HOME");
    shared_paths p;
    const auto c = env("AWS_SHARED_CREDENTIALS_FILE"), f = env("AWS_CONFIG_FILE");
    p.credentials = !c.empty() ? std::filesystem::path(c) : home / ".aws" / "credentials";
    p.config = !f.empty() ? std::filesystem::path(f) : home / ".aws" / "config";
    return p;
  }
};

/// Credentials of `profile` from the shared files (the credentials file's keys win over the
/// config file's); nullopt when neither file names the profile's access key.
inline result<std::optional<found_credentials>> from_shared_files(std::string_view profile, const shared_paths& paths) {
  auto creds = shared_file::load(paths.credentials, false);
  if (!creds) return creds.error();
  auto conf = shared_file::load(paths.config, true);
  if (!conf) return conf.error();
  auto value = [&](std::string_view key) -> std::string {
    for (const auto* f : {*creds ? &**creds : nullptr, *conf ? &**conf : nullptr}) {
      if (!f) continue;
      if (const auto* p = f->find(profile))
        if (auto it = p->find(key); it != p->end() && !it->second.empty()) return it->second;
    }
    return {};
  };
  std::string id = value("aws_access_key_id");
  if (id.empty()) return std::optional<found_credentials>{};
  std::string key = value("aws_secret_access_key");
  if (key.empty())
    return error(errc::config_error, "aws: profile " + std::string(profile) + " has aws_access_key_id but no aws_secret_access_key");
  found_credentials c{{std::move(id), secret{std::move(key)}, secret{value("aws_session_token")}}, value("region"),
                      credential_origin::shared_files, std::string(profile)};
  if (auto bad = sigv4::detail::check(c.keys, {.region = "x", .service = "x"}))
    return error(errc::config_error, "aws: profile " + std::string(profile) + ": aws_" + std::string(bad->setting) + " " + std::string(bad->why));
  return std::optional<found_credentials>{std::move(c)};
}

/// A web identity from the environment: AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN (both, or
/// an error naming the missing one), AWS_ROLE_SESSION_NAME (optional); nullopt when neither is set.
inline result<std::optional<web_identity_config>> web_identity_from_environment(const environment& env = process_environment) {
  std::string file = env("AWS_WEB_IDENTITY_TOKEN_FILE"), role = env("AWS_ROLE_ARN");
  if (file.empty() && role.empty()) return std::optional<web_identity_config>{};
  if (file.empty()) return error(errc::config_error, "aws: AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE is not");
  if (role.empty()) return error(errc::config_error, "aws: AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not");
  return std::optional<web_identity_config>{web_identity_config{std::move(role), std::move(file), env("AWS_ROLE_SESSION_NAME")}};
}

/// The chain, in the AWS SDKs' order: the environment's keys, the environment's web identity,
/// then the shared files' profile (`profile` if given, else AWS_PROFILE, else "default"): its
/// web identity (role_arn with web_identity_token_file), else its keys. An explicitly chosen
/// profile skips the environment, as the AWS CLI's --profile does. The region is the
/// environment's when set, else the profile's. Container and instance-metadata credentials, SSO
/// and source_profile role chains are not in the chain yet: an error lists what was tried.
inline result<found_credentials> default_chain(std::string_view profile = {}, const environment& env = process_environment) {
  const std::string chosen = !profile.empty() ? std::string(profile) : !env("AWS_PROFILE").empty() ? env("AWS_PROFILE") : "default";
  auto web = [&](web_identity_config w, std::string region, std::string from_profile) {
    found_credentials f;
    f.origin = credential_origin::web_identity;
    f.web_identity = std::move(w);
    f.region = std::move(region);
    f.profile = std::move(from_profile);
    f.sts_endpoint = env("AWS_ENDPOINT_URL_STS");
    return f;
  };
  if (profile.empty()) {
    auto e = from_environment(env);
    if (!e) return e.error();
    if (*e) return std::move(**e);
    auto w = web_identity_from_environment(env);
    if (!w) return w.error();
    if (*w) return web(std::move(**w), region_from(env), {});
  }
  const auto paths = shared_paths::from(env);
  auto conf = shared_file::load(paths.config, true);
  if (!conf) return conf.error();
  if (*conf)
    if (const auto* p = (*conf)->find(chosen)) {
      auto value = [&](std::string_view k) {
        auto it = p->find(k);
        return it == p->end() ? std::string{} : it->second;
      };
      if (auto role = value("role_arn"), file = value("web_identity_token_file"); !role.empty() && !file.empty()) {
        auto r = region_from(env);
        return web(web_identity_config{std::move(role), std::move(file), value("role_session_name")}, r.empty() ? value("region") : r, chosen);
      }
    }
  auto f = from_shared_files(chosen, paths);
  if (!f) return f.error();
  if (*f) {
    if (auto r = region_from(env); !r.empty()) (*f)->region = std::move(r);
    return std::move(**f);
  }
  return error(errc::config_error, "aws: no credentials found (tried " +
                                       std::string(profile.empty() ? "AWS_ACCESS_KEY_ID, AWS_WEB_IDENTITY_TOKEN_FILE, " : "") +
                                       "profile " + chosen + " in " + paths.credentials.string() + " and " + paths.config.string() + ")");
}

}  // namespace intg::auth::aws
