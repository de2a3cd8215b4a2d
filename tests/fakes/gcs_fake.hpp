// A local fake of Google Cloud Storage's JSON API (storage/v1) for tests, with the two places its
// access tokens come from: an OAuth 2.0 token endpoint that verifies a service account's RS256
// JWT bearer assertion with the account's public key (iss, scope, aud, iat, exp at most an hour
// later; RFC 7523), and a metadata server (Metadata-Flavor: Google both ways). Storage routes
// accept only the tokens those issued.
//
// Served: buckets.insert/list/delete; objects.insert as simple (uploadType=media), multipart
// (multipart/related: the Object resource, then the bytes; md5Hash checked before storing) and
// resumable uploads (a session per POST, chunks PUT with Content-Range, multiples of 256 KiB but
// the last, 308 with Range for what was kept, bytes already kept ignored when resent, DELETE
// cancels); objects.get as the Object resource or the bytes (alt=media, Range, x-goog-hash,
// x-goog-generation, ifGenerationMatch); objects.list (prefix, delimiter, maxResults, pageToken);
// objects.delete. Errors are Google's {"error": {"code", "message", "errors": [{"domain",
// "reason", "message"}]}}. Each method's query parameters are those the discovery document
// (tests/fakes/google/storage_v1.json) lists for it, with its global and upload-protocol
// parameters; anything else is a 400, as Google answers. Every exchange can be written as JSON
// Lines for tests/fakes/google/validate_discovery.py, which checks it against the document.
//
//   fakes::gcs_fake fake(io.get_executor());
//   fake.start();                       // http://127.0.0.1:PORT, token endpoint at /token
//   cfg.settings["service_account"] = fake.service_account_json();
#pragma once

#include <intg/http/client.hpp>
#include <intg/security/auth/jwk.hpp>
#include <intg/security/auth/jwt.hpp>
#include <intg/security/crypto/encoding.hpp>
#include <intg/security/crypto/hash.hpp>
#include <intg/testing/fake_api.hpp>

#include <boost/json/serialize.hpp>

#include <chrono>
#include <cstdint>
#include <ctime>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace fakes {

class gcs_fake {
 public:
  using verb = boost::beast::http::verb;
  using status = boost::beast::http::status;
  static constexpr std::string_view client_email = "intg-tests@intg-project.iam.gserviceaccount.com";
  static constexpr std::string_view project = "intg-project";
  static constexpr std::size_t quantum = 256 * 1024;

  struct object {
    std::string data;
    std::string content_type;
    std::map<std::string, std::string> metadata;
    std::int64_t generation = 0;
    std::string md5;
    std::string updated;
  };
  struct session {
    std::string bucket, name, content_type;
    std::map<std::string, std::string> metadata;
    std::string data;
    bool done = false;
    std::string answer;  // the Object resource, once finalised
  };

  explicit gcs_fake(boost::asio::any_io_executor ex) : api_(ex, options()) {
    key_ = intg::auth::jwk::generate("RSA").value();
    public_key_ = intg::auth::jwk::from_pem(key_.public_pem().value()).value();
    routes();
  }

  std::uint16_t start() {
    auto port = api_.start();
    base_ = api_.base_url();
    return port;
  }
  boost::asio::awaitable<void> stop() { co_await api_.stop(); }
  std::string base_url() const { return base_; }
  std::string token_url() const { return base_ + "/token"; }
  intg::testing::fake_api& api() noexcept { return api_; }
  const intg::testing::fake_api& api() const noexcept { return api_; }

  /// The key file of the fake's service account (its private key signs the assertions).
  std::string service_account_json(std::string_view token_uri = {}) const {
    boost::json::object sa{{"type", "service_account"},
                           {"project_id", project},
                           {"private_key_id", "0123456789abcdef"},
                           {"private_key", private_pem()},
                           {"client_email", client_email},
                           {"client_id", "100000000000000000001"},
                           {"token_uri", token_uri.empty() ? token_url() : std::string(token_uri)}};
    return boost::json::serialize(sa);
  }
  /// The same account with another key, which the token endpoint refuses.
  std::string foreign_service_account_json() const {
    auto other = intg::auth::jwk::generate("RSA").value();
    boost::json::object sa = boost::json::parse(service_account_json()).as_object();
    sa["private_key"] = pem_of(other);
    return boost::json::serialize(sa);
  }

  // What the fake saw (read by tests).
  struct counters {
    int token_requests = 0, tokens_refused = 0, metadata_requests = 0, chunks = 0, cancelled = 0, sessions = 0;
    std::string last_scope;      // of the last accepted assertion or metadata request
    std::int64_t last_lifetime = 0;  // exp - iat of the last accepted assertion
  };
  counters seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }
  /// The object as stored, if any.
  std::optional<object> stored(const std::string& bucket, const std::string& name) const {
    std::lock_guard lock(mu_);
    auto b = buckets_.find(bucket);
    if (b == buckets_.end()) return std::nullopt;
    auto o = b->second.find(name);
    if (o == b->second.end()) return std::nullopt;
    return o->second;
  }
  /// The largest chunk a resumable upload sent (bytes).
  std::size_t largest_chunk() const {
    std::lock_guard lock(mu_);
    return largest_chunk_;
  }
  /// The next resumable chunk keeps only its first `n` bytes (a server that persisted part of it).
  void keep_only_next(std::size_t n) {
    std::lock_guard lock(mu_);
    keep_only_ = n;
  }
  /// Stored objects' MD5 is corrupted from now on (what a broken store would answer).
  void corrupt_md5(bool on) {
    std::lock_guard lock(mu_);
    corrupt_md5_ = on;
  }
  /// The number of open (not finalised, not cancelled) resumable sessions.
  std::size_t open_sessions() const {
    std::lock_guard lock(mu_);
    std::size_t n = 0;
    for (auto& [id, s] : sessions_) n += s.done ? 0 : 1;
    return n;
  }

  static intg::http::server_response google_error(status s, std::string_view reason, std::string_view message) {
    boost::json::object item{{"domain", "global"}, {"reason", reason}, {"message", message}};
    boost::json::object err{{"code", static_cast<int>(s)}, {"message", message}, {"errors", boost::json::array{item}}};
    return intg::http::make_response(s, boost::json::serialize(boost::json::object{{"error", err}}), "application/json; charset=UTF-8");
  }

 private:
  using call = intg::testing::call;
  using response = intg::http::server_response;

  static intg::testing::fake_api_options options() {
    intg::testing::fake_api_options o;
    o.http.max_request_body = 64u << 20;
    o.secret_fields = {"assertion"};
    o.not_found = [](const call&) { return google_error(status::not_found, "notFound", "Not Found"); };
    return o;
  }

  std::string private_pem() const { return pem_of(key_); }
  static std::string pem_of(const intg::auth::jwk& k) { return std::string(k.private_pem().value().reveal()); }

  static std::string rfc3339_now() {
    const auto now = std::chrono::system_clock::now();
    const std::time_t t = std::chrono::system_clock::to_time_t(now);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                  tm.tm_sec, static_cast<int>(ms));
    return buf;
  }

  // The query parameters a method takes (from the discovery document), beside the global ones.
  static bool allowed(std::string_view name, std::initializer_list<std::string_view> method) {
    static constexpr std::string_view global[] = {"alt", "fields", "key", "oauth_token", "prettyPrint", "quotaUser", "userIp"};
    for (auto g : global)
      if (g == name) return true;
    for (auto m : method)
      if (m == name) return true;
    return false;
  }
  // A 400 naming the first parameter the method does not take, or one of the wrong type.
  static std::optional<response> check_query(const call& c, std::initializer_list<std::string_view> method,
                                             std::initializer_list<std::string_view> int64s = {}) {
    for (const auto& [k, v] : c.query_params) {
      const std::string_view name(k.data(), k.size());
      if (!allowed(name, method)) return google_error(status::bad_request, "invalid", "Invalid argument: unknown parameter " + std::string(name));
      if (!v.is_string()) return google_error(status::bad_request, "invalid", "Invalid value for parameter " + std::string(name));
      for (auto i : int64s)
        if (i == name) {
          const std::string_view s = v.get_string();
          if (s.empty() || s.find_first_not_of("0123456789") != std::string_view::npos)
            return google_error(status::bad_request, "invalid", "Invalid value for " + std::string(name) + ": " + std::string(s));
        }
    }
    return std::nullopt;
  }

  boost::json::object resource(const std::string& bucket, const std::string& name, const object& o) const {
    boost::json::object r{{"kind", "storage#object"},
                          {"id", bucket + "/" + name + "/" + std::to_string(o.generation)},
                          {"selfLink", base_ + "/storage/v1/b/" + bucket + "/o/" + intg::http::percent_encode(name)},
                          {"mediaLink", base_ + "/download/storage/v1/b/" + bucket + "/o/" + intg::http::percent_encode(name) +
                                            "?generation=" + std::to_string(o.generation) + "&alt=media"},
                          {"name", name},
                          {"bucket", bucket},
                          {"generation", std::to_string(o.generation)},
                          {"metageneration", "1"},
                          {"contentType", o.content_type},
                          {"storageClass", "STANDARD"},
                          {"size", std::to_string(o.data.size())},
                          {"md5Hash", corrupt_md5_ ? std::string("AAAAAAAAAAAAAAAAAAAAAA==") : o.md5},
                          {"crc32c", "AAAAAA=="},
                          {"etag", etag_of(o)},
                          {"timeCreated", o.updated},
                          {"updated", o.updated}};
    if (!o.metadata.empty()) {
      boost::json::object m;
      for (auto& [k, v] : o.metadata) m[k] = v;
      r["metadata"] = std::move(m);
    }
    return r;
  }
  static std::string etag_of(const object& o) { return "CK" + std::to_string(o.generation) + "EAE="; }

  static response json(status s, const boost::json::object& body) {
    return intg::http::make_response(s, boost::json::serialize(body), "application/json; charset=UTF-8");
  }

  // Stores an object (the caller holds the lock); answers its resource.
  response store(const std::string& bucket, const std::string& name, std::string data, std::string content_type,
                 std::map<std::string, std::string> metadata) {
    object o;
    o.md5 = intg::crypto::base64_encode(intg::crypto::md5(data));
    o.data = std::move(data);
    o.content_type = content_type.empty() ? "application/octet-stream" : std::move(content_type);
    o.metadata = std::move(metadata);
    o.generation = ++generation_;
    o.updated = rfc3339_now();
    auto& slot = buckets_[bucket][name];
    slot = std::move(o);
    return json(status::ok, resource(bucket, name, slot));
  }

  // Reads the Object resource a write sends: name, contentType, metadata, md5Hash.
  static std::optional<response> read_metadata(const boost::json::object& m, std::string& name, std::string& type,
                                               std::map<std::string, std::string>& meta, std::string& md5) {
    static constexpr std::string_view known[] = {"name", "contentType", "metadata", "md5Hash", "crc32c", "cacheControl",
                                                 "contentDisposition", "contentEncoding", "contentLanguage", "storageClass"};
    for (const auto& [k, v] : m) {
      bool ok = false;
      for (auto n : known) ok = ok || n == std::string_view(k.data(), k.size());
      if (!ok) return google_error(status::bad_request, "invalid", "Invalid field in the Object resource: " + std::string(k));
    }
    auto str = [&](std::string_view k, std::string& out) -> bool {
      const auto* v = m.if_contains(k);
      if (!v) return true;
      if (!v->is_string()) return false;
      out = std::string(v->get_string());
      return true;
    };
    if (!str("name", name) || !str("contentType", type) || !str("md5Hash", md5))
      return google_error(status::bad_request, "invalid", "Invalid value in the Object resource");
    if (const auto* md = m.if_contains("metadata")) {
      if (!md->is_object()) return google_error(status::bad_request, "invalid", "Invalid value for metadata");
      for (const auto& [k, v] : md->get_object()) {
        if (!v.is_string()) return google_error(status::bad_request, "invalid", "Invalid value for metadata");
        meta[std::string(k)] = std::string(v.get_string());
      }
    }
    return std::nullopt;
  }

  // A multipart/related body: the parts' headers and contents.
  struct part {
    std::string content_type, content;
  };
  static std::optional<std::vector<part>> parse_multipart(std::string_view content_type, std::string_view body) {
    const auto at = content_type.find("boundary=");
    if (!content_type.starts_with("multipart/related") || at == std::string_view::npos) return std::nullopt;
    std::string_view boundary = content_type.substr(at + 9);
    if (boundary.size() >= 2 && boundary.front() == '"') boundary = boundary.substr(1, boundary.find('"', 1) - 1);
    const std::string delim = "--" + std::string(boundary);
    std::vector<part> parts;
    std::size_t pos = body.find(delim);
    if (pos != 0) return std::nullopt;
    for (;;) {
      pos += delim.size();
      if (body.substr(pos, 2) == "--") return parts;
      if (body.substr(pos, 2) != "\r\n") return std::nullopt;
      pos += 2;
      const auto head_end = body.find("\r\n\r\n", pos);
      if (head_end == std::string_view::npos) return std::nullopt;
      part p;
      for (std::string_view headers = body.substr(pos, head_end - pos); !headers.empty();) {
        const auto eol = headers.find("\r\n");
        std::string_view line = headers.substr(0, eol);
        if (line.size() > 13 && (line.starts_with("Content-Type:") || line.starts_with("content-type:"))) {
          line.remove_prefix(13);
          while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
          p.content_type = std::string(line);
        }
        headers = eol == std::string_view::npos ? std::string_view{} : headers.substr(eol + 2);
      }
      const auto next = body.find("\r\n" + delim, head_end + 4);
      if (next == std::string_view::npos) return std::nullopt;
      p.content = std::string(body.substr(head_end + 4, next - head_end - 4));
      parts.push_back(std::move(p));
      pos = next + 2;
    }
  }

  static std::optional<std::pair<std::uint64_t, std::uint64_t>> parse_range(std::string_view r, std::uint64_t size) {
    if (!r.starts_with("bytes=")) return std::nullopt;
    r.remove_prefix(6);
    const auto dash = r.find('-');
    if (dash == std::string_view::npos || dash == 0) return std::nullopt;
    std::uint64_t first = std::stoull(std::string(r.substr(0, dash)));
    std::uint64_t last = dash + 1 == r.size() ? size - 1 : std::stoull(std::string(r.substr(dash + 1)));
    if (first >= size || last < first) return std::nullopt;
    return std::pair{first, std::min(last, size - 1)};
  }

  response token(call& c) {
    std::lock_guard lock(mu_);
    ++seen_.token_requests;
    auto refuse = [&](std::string_view why) {
      ++seen_.tokens_refused;
      boost::json::object e{{"error", "invalid_grant"}, {"error_description", why}};
      return json(status::bad_request, e);
    };
    if (c.body.if_contains("grant_type") == nullptr || c.arg_str("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer")
      return refuse("Invalid grant_type");
    intg::auth::jwt::verify_options vo;
    vo.audience = token_url();
    vo.algorithms = {"RS256"};
    vo.issuer = std::string(client_email);
    vo.required_claims = {"iss", "scope", "aud", "iat", "exp"};
    vo.leeway = std::chrono::seconds(60);
    auto claims = intg::auth::jwt::verify(c.arg_str("assertion"), public_key_, vo);
    if (!claims) return refuse("Invalid JWT Signature.");
    const auto iat = claims->at("iat"), exp = claims->at("exp");
    if (!iat.is_int64() || !exp.is_int64() || exp.as_int64() - iat.as_int64() > 3600 || exp.as_int64() <= iat.as_int64())
      return refuse("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.");
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    if (iat.as_int64() > now + 60) return refuse("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.");
    const auto* scope = claims->if_contains("scope");
    if (!scope || !scope->is_string() || scope->get_string().find("https://www.googleapis.com/auth/devstorage") == boost::json::string::npos)
      return refuse("Invalid OAuth scope or ID token audience provided.");
    seen_.last_scope = std::string(scope->get_string());
    seen_.last_lifetime = exp.as_int64() - iat.as_int64();
    return issue(3599);
  }

  response metadata(call& c) {
    std::lock_guard lock(mu_);
    ++seen_.metadata_requests;
    if (c.header("Metadata-Flavor") != "Google") {
      auto r = intg::http::make_response(status::forbidden, "Missing required header \"Metadata-Flavor\"", "text/html");
      r.set("Metadata-Flavor", "Google");
      return r;
    }
    seen_.last_scope = std::string(intg::testing::str(c.query_params, "scopes"));
    auto r = issue(3599);
    r.set("Metadata-Flavor", "Google");
    return r;
  }

  response issue(int lifetime) {
    const std::string t = "ya29.fake-" + std::to_string(++tokens_issued_);
    api_.accept_token(t);
    return json(status::ok, {{"access_token", t}, {"expires_in", lifetime}, {"token_type", "Bearer"}});
  }

  void routes() {
    using intg::testing::str;
    api_.require_bearer({}, [](const call&, bool missing) {
      auto r = google_error(status::unauthorized, missing ? "required" : "authError",
                            missing ? "Anonymous caller does not have storage.objects.get access." : "Invalid Credentials");
      r.set("WWW-Authenticate", "Bearer realm=\"https://accounts.google.com/\"");
      return r;
    });
    api_.route(verb::post, "/token", [this](call& c) { return token(c); }, false);
    api_.route(verb::get, "/computeMetadata/v1/instance/service-accounts/default/token", [this](call& c) { return metadata(c); }, false);

    // buckets
    api_.route(verb::post, "/storage/v1/b", [this](call& c) {
      if (auto bad = check_query(c, {"predefinedAcl", "predefinedDefaultObjectAcl", "project", "projection"})) return *bad;
      if (str(c.query_params, "project").empty()) return google_error(status::bad_request, "required", "Required parameter: project");
      const std::string name(c.arg_str("name"));
      if (!c.body_error.empty() || name.size() < 3) return google_error(status::bad_request, "invalid", "Invalid bucket name: '" + name + "'");
      std::lock_guard lock(mu_);
      if (buckets_.count(name))
        return google_error(status::conflict, "conflict", "Your previous request to create the named bucket succeeded and you already own it.");
      buckets_[name];
      boost::json::object b{{"kind", "storage#bucket"}, {"id", name}, {"name", name}, {"projectNumber", "100000000001"},
                            {"metageneration", "1"}, {"location", "US"}, {"storageClass", "STANDARD"}, {"etag", "CAE="},
                            {"timeCreated", rfc3339_now()}, {"updated", rfc3339_now()}, {"selfLink", base_ + "/storage/v1/b/" + name}};
      return json(status::ok, b);
    });
    api_.route(verb::get, "/storage/v1/b", [this](call& c) {
      if (auto bad = check_query(c, {"maxResults", "pageToken", "prefix", "project", "projection"})) return *bad;
      if (str(c.query_params, "project").empty()) return google_error(status::bad_request, "required", "Required parameter: project");
      std::lock_guard lock(mu_);
      boost::json::array items;
      for (auto& [name, objects] : buckets_) items.push_back(boost::json::object{{"kind", "storage#bucket"}, {"id", name}, {"name", name}});
      boost::json::object out{{"kind", "storage#buckets"}};
      if (!items.empty()) out["items"] = std::move(items);
      return json(status::ok, out);
    });
    api_.route(verb::delete_, "/storage/v1/b/{bucket}", [this](call& c) {
      if (auto bad = check_query(c, {"ifMetagenerationMatch", "ifMetagenerationNotMatch"}, {"ifMetagenerationMatch", "ifMetagenerationNotMatch"}))
        return *bad;
      std::lock_guard lock(mu_);
      auto b = buckets_.find(c.params["bucket"]);
      if (b == buckets_.end()) return google_error(status::not_found, "notFound", "The specified bucket does not exist.");
      if (!b->second.empty()) return google_error(status::conflict, "conflict", "The bucket you tried to delete is not empty.");
      buckets_.erase(b);
      return intg::http::make_response(status::no_content, "", "application/json");
    });

    // uploads
    api_.route(verb::post, "/upload/storage/v1/b/{bucket}/o", [this](call& c) { return insert(c); });
    api_.route(verb::put, "/upload/storage/v1/b/{bucket}/o", [this](call& c) { return chunk(c); });
    api_.route(verb::delete_, "/upload/storage/v1/b/{bucket}/o", [this](call& c) {
      std::lock_guard lock(mu_);
      auto s = sessions_.find(std::string(str(c.query_params, "upload_id")));
      if (s == sessions_.end() || s->second.done) return google_error(status::not_found, "notFound", "No such upload session.");
      s->second.done = true;
      ++seen_.cancelled;
      return google_error(static_cast<status>(499), "clientClosedRequest", "Client closed request.");
    });

    // objects
    api_.route(verb::get, "/storage/v1/b/{bucket}/o", [this](call& c) {
      if (auto bad = check_query(c, {"delimiter", "maxResults", "pageToken", "prefix", "projection", "versions"})) return *bad;
      std::lock_guard lock(mu_);
      auto b = buckets_.find(c.params["bucket"]);
      if (b == buckets_.end()) return google_error(status::not_found, "notFound", "The specified bucket does not exist.");
      const std::string prefix(str(c.query_params, "prefix")), delimiter(str(c.query_params, "delimiter"));
      const std::string max_text(str(c.query_params, "maxResults"));
      std::size_t max = 1000;
      if (!max_text.empty()) {
        if (max_text.find_first_not_of("0123456789") != std::string::npos || max_text.size() > 9)
          return google_error(status::bad_request, "invalid", "Invalid value for maxResults: " + max_text);
        max = std::min<std::size_t>(std::stoul(max_text), 1000);
        if (max == 0) max = 1000;
      }
      std::string after;
      if (auto t = str(c.query_params, "pageToken"); !t.empty()) {
        auto d = intg::crypto::base64_decode(t);
        if (!d) return google_error(status::bad_request, "invalid", "Invalid pageToken");
        after = std::move(*d);
      }
      boost::json::array items, prefixes;
      std::set<std::string> rolled;
      std::string last;
      std::size_t n = 0;
      bool more = false;
      for (auto it = b->second.upper_bound(after); it != b->second.end(); ++it) {
        const std::string& name = it->first;
        if (!name.starts_with(prefix)) continue;
        std::string entry = name;
        if (!delimiter.empty())
          if (auto d = name.find(delimiter, prefix.size()); d != std::string::npos) entry = name.substr(0, d + delimiter.size());
        if (entry != name && rolled.count(entry)) continue;
        if (n == max) {
          more = true;
          break;
        }
        if (entry != name) {
          rolled.insert(entry);
          prefixes.push_back(boost::json::string(entry));
          // Past every key under the rolled-up prefix.
          last = entry + std::string(1, '\xff');
        } else {
          items.push_back(resource(c.params["bucket"], name, it->second));
          last = name;
        }
        ++n;
      }
      boost::json::object out{{"kind", "storage#objects"}};
      if (!items.empty()) out["items"] = std::move(items);
      if (!prefixes.empty()) out["prefixes"] = std::move(prefixes);
      if (more) out["nextPageToken"] = intg::crypto::base64_encode(last);
      return json(status::ok, out);
    });
    api_.route(verb::get, "/storage/v1/b/{bucket}/o/{object}", [this](call& c) {
      if (auto bad = check_query(c, {"generation", "ifGenerationMatch", "ifGenerationNotMatch", "ifMetagenerationMatch", "ifMetagenerationNotMatch", "projection"},
                                 {"generation", "ifGenerationMatch", "ifGenerationNotMatch", "ifMetagenerationMatch", "ifMetagenerationNotMatch"}))
        return *bad;
      std::lock_guard lock(mu_);
      const std::string bucket = c.params["bucket"], name = c.params["object"];
      auto b = buckets_.find(bucket);
      if (b == buckets_.end()) return google_error(status::not_found, "notFound", "The specified bucket does not exist.");
      auto o = b->second.find(name);
      if (o == b->second.end()) return google_error(status::not_found, "notFound", "No such object: " + bucket + "/" + name);
      if (auto g = str(c.query_params, "ifGenerationMatch"); !g.empty() && g != std::to_string(o->second.generation))
        return google_error(status::precondition_failed, "conditionNotMet", "Precondition Failed");
      if (str(c.query_params, "alt") != "media") return json(status::ok, resource(bucket, name, o->second));
      const auto& obj = o->second;
      response r{status::ok, 11};
      std::string body = obj.data;
      if (auto range = c.header("Range"); !range.empty()) {
        auto span = parse_range(range, obj.data.size());
        if (!span) return google_error(status::range_not_satisfiable, "requestedRangeNotSatisfiable", "The requested range cannot be satisfied.");
        body = obj.data.substr(span->first, span->second - span->first + 1);
        r.result(status::partial_content);
        r.set("Content-Range", "bytes " + std::to_string(span->first) + "-" + std::to_string(span->second) + "/" + std::to_string(obj.data.size()));
      }
      r.set("Content-Type", obj.content_type);
      r.set("ETag", etag_of(obj));
      r.set("x-goog-generation", std::to_string(obj.generation));
      r.set("x-goog-metageneration", "1");
      r.set("x-goog-stored-content-length", std::to_string(obj.data.size()));
      r.set("x-goog-stored-content-encoding", "identity");
      r.set("x-goog-hash", "crc32c=AAAAAA==,md5=" + (corrupt_md5_ ? std::string("AAAAAAAAAAAAAAAAAAAAAA==") : obj.md5));
      r.body() = std::move(body);
      return r;
    });
    api_.route(verb::delete_, "/storage/v1/b/{bucket}/o/{object}", [this](call& c) {
      if (auto bad = check_query(c, {"generation", "ifGenerationMatch", "ifGenerationNotMatch", "ifMetagenerationMatch", "ifMetagenerationNotMatch"},
                                 {"generation", "ifGenerationMatch", "ifGenerationNotMatch", "ifMetagenerationMatch", "ifMetagenerationNotMatch"}))
        return *bad;
      std::lock_guard lock(mu_);
      const std::string bucket = c.params["bucket"], name = c.params["object"];
      auto b = buckets_.find(bucket);
      if (b == buckets_.end()) return google_error(status::not_found, "notFound", "The specified bucket does not exist.");
      auto o = b->second.find(name);
      if (o == b->second.end()) return google_error(status::not_found, "notFound", "No such object: " + bucket + "/" + name);
      if (auto g = str(c.query_params, "ifGenerationMatch"); !g.empty() && g != std::to_string(o->second.generation))
        return google_error(status::precondition_failed, "conditionNotMet", "Precondition Failed");
      b->second.erase(o);
      return intg::http::make_response(status::no_content, "", "application/json");
    });
  }

  response insert(call& c) {
    using intg::testing::str;
    if (auto bad = check_query(c, {"contentEncoding", "ifGenerationMatch", "ifGenerationNotMatch", "ifMetagenerationMatch", "ifMetagenerationNotMatch",
                                   "name", "predefinedAcl", "projection", "uploadType"},
                               {"ifGenerationMatch", "ifGenerationNotMatch", "ifMetagenerationMatch", "ifMetagenerationNotMatch"}))
      return *bad;
    std::lock_guard lock(mu_);
    const std::string bucket = c.params["bucket"];
    if (!buckets_.count(bucket)) return google_error(status::not_found, "notFound", "The specified bucket does not exist.");
    const std::string_view type = str(c.query_params, "uploadType");
    const std::string body = c.request.body();
    if (type == "media") {
      const std::string name(str(c.query_params, "name"));
      if (name.empty()) return google_error(status::bad_request, "required", "Required parameter: name");
      return store(bucket, name, body, std::string(c.header("Content-Type")), {});
    }
    if (type == "multipart") {
      auto parts = parse_multipart(c.header("Content-Type"), body);
      if (!parts || parts->size() != 2 || parts->front().content_type.find("application/json") == std::string::npos)
        return google_error(status::bad_request, "invalid", "Metadata part is too large or the multipart body is malformed.");
      boost::system::error_code ec;
      auto meta = boost::json::parse(parts->front().content, ec);
      if (ec || !meta.is_object()) return google_error(status::bad_request, "parseError", "Parse Error");
      std::string name, content_type, md5;
      std::map<std::string, std::string> m;
      if (auto bad = read_metadata(meta.get_object(), name, content_type, m, md5)) return *bad;
      if (name.empty()) return google_error(status::bad_request, "required", "Required: name");
      const std::string& data = (*parts)[1].content;
      if (!md5.empty() && md5 != intg::crypto::base64_encode(intg::crypto::md5(data)))
        return google_error(status::bad_request, "invalid", "Provided MD5 hash \"" + md5 + "\" doesn't match calculated MD5 hash.");
      return store(bucket, name, data, content_type.empty() ? (*parts)[1].content_type : content_type, std::move(m));
    }
    if (type == "resumable") {
      boost::system::error_code ec;
      auto meta = body.empty() ? boost::json::value(boost::json::object{}) : boost::json::parse(body, ec);
      if (ec || !meta.is_object()) return google_error(status::bad_request, "parseError", "Parse Error");
      session s;
      s.bucket = bucket;
      std::string md5;
      if (auto bad = read_metadata(meta.get_object(), s.name, s.content_type, s.metadata, md5)) return *bad;
      if (s.name.empty()) s.name = std::string(str(c.query_params, "name"));
      if (s.name.empty()) return google_error(status::bad_request, "required", "Required: name");
      if (s.content_type.empty()) s.content_type = std::string(c.header("X-Upload-Content-Type"));
      const std::string id = "fake-session-" + std::to_string(++seen_.sessions);
      sessions_[id] = std::move(s);
      response r{status::ok, 11};
      r.set("Location", base_ + "/upload/storage/v1/b/" + bucket + "/o?uploadType=resumable&upload_id=" + id);
      r.set("Content-Type", "text/plain; charset=utf-8");
      return r;
    }
    return google_error(status::bad_request, "invalid", "Invalid upload type: " + std::string(type));
  }

  response chunk(call& c) {
    using intg::testing::str;
    if (str(c.query_params, "uploadType") != "resumable") return google_error(status::bad_request, "invalid", "Invalid upload type");
    std::lock_guard lock(mu_);
    ++seen_.chunks;
    auto it = sessions_.find(std::string(str(c.query_params, "upload_id")));
    if (it == sessions_.end()) return google_error(status::not_found, "notFound", "No such upload session.");
    session& s = it->second;
    if (s.done) {
      if (s.answer.empty()) return google_error(static_cast<status>(499), "clientClosedRequest", "The upload session was cancelled.");
      return intg::http::make_response(status::ok, s.answer, "application/json; charset=UTF-8");
    }
    // "bytes FIRST-LAST/TOTAL", "bytes FIRST-LAST/*", "bytes */TOTAL", "bytes */*"
    std::string_view range = c.header("Content-Range");
    if (!range.starts_with("bytes ")) return google_error(status::bad_request, "invalid", "Invalid Content-Range");
    range.remove_prefix(6);
    const auto slash = range.find('/');
    if (slash == std::string_view::npos) return google_error(status::bad_request, "invalid", "Invalid Content-Range");
    const std::string_view span = range.substr(0, slash), total_text = range.substr(slash + 1);
    std::optional<std::uint64_t> total;
    if (total_text != "*") total = std::stoull(std::string(total_text));
    std::string data = c.request.body();
    largest_chunk_ = std::max(largest_chunk_, data.size());
    if (span != "*") {
      const auto dash = span.find('-');
      if (dash == std::string_view::npos) return google_error(status::bad_request, "invalid", "Invalid Content-Range");
      const std::uint64_t first = std::stoull(std::string(span.substr(0, dash))), last = std::stoull(std::string(span.substr(dash + 1)));
      if (last < first || last - first + 1 != data.size()) return google_error(status::bad_request, "invalid", "Content-Range does not match the body");
      if (first > s.data.size()) return google_error(status::bad_request, "invalid", "The chunk starts past the bytes received so far");
      if (!total && data.size() % quantum != 0)
        return google_error(status::bad_request, "invalid", "Chunks that are not the last must be a multiple of 256 KiB");
      if (keep_only_) {
        data.resize(std::min(data.size(), *keep_only_));
        keep_only_.reset();
        total.reset();  // not all of it was kept: not finalised
      }
      // Bytes already kept are ignored; the rest is appended.
      const std::uint64_t skip = s.data.size() - first;
      if (skip < data.size()) s.data.append(data, skip, std::string::npos);
    }
    if (total && s.data.size() == *total) {
      s.done = true;
      auto r = store(s.bucket, s.name, s.data, s.content_type, s.metadata);
      s.answer = r.body();
      s.data.clear();
      return r;
    }
    if (total && s.data.size() > *total) return google_error(status::bad_request, "invalid", "More bytes than the total");
    response r{static_cast<status>(308), 11};
    if (!s.data.empty()) r.set("Range", "bytes=0-" + std::to_string(s.data.size() - 1));
    r.set("Content-Length", "0");
    return r;
  }

  intg::testing::fake_api api_;
  std::string base_;
  intg::auth::jwk key_, public_key_;
  mutable std::mutex mu_;
  std::map<std::string, std::map<std::string, object>> buckets_;
  std::map<std::string, session> sessions_;
  counters seen_;
  std::int64_t generation_ = 1700000000000000;
  int tokens_issued_ = 0;
  std::size_t largest_chunk_ = 0;
  std::optional<std::size_t> keep_only_;
  bool corrupt_md5_ = false;
};

}  // namespace fakes
