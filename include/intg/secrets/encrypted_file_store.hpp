// An encrypted secret store in one JSON file, each value sealed with AES-256-GCM under a 32-byte
// key taken from the environment (never from the file's directory). Rotation: put() replaces a
// value and bumps its version, writing the whole file atomically (temporary file + rename) under
// an advisory lock; readers in this or other processes notice the file changed (inode, size,
// mtime) and reload it on their next get(): no restart needed. rekey() re-encrypts everything
// under a new key.
//
// File format (version 1):
//   {"format":"intg-secrets/1",
//    "secrets":{"db_password":{"version":3,"updated":"2024-05-01T12:00:00.000Z",
//                              "value":"<base64 of nonce(12) | ciphertext | tag(16)>"}}}
// The AAD of each value is "intg-secrets/1\n<name>\n<version>", so a value cannot be moved to
// another name or version without decryption failing. (Rolling the whole file back to an older
// copy is not detectable from the file alone.)
#pragma once

#include <intg/crypto/aead.hpp>
#include <intg/crypto/encoding.hpp>
#include <intg/detail/file_io.hpp>
#include <intg/detail/strict_json.hpp>
#include <intg/error.hpp>
#include <intg/result.hpp>
#include <intg/secret.hpp>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace intg::secrets {

class encrypted_file_store {
 public:
  static constexpr std::string_view format = "intg-secrets/1";

  /// Opens the store at `path` (which need not exist yet) with a 32-byte key.
  static result<encrypted_file_store> open(std::filesystem::path path, secret key) {
    if (key.reveal().size() != crypto::aes256gcm_key_size)
      return error{errc::invalid_argument, "secret store key must be 32 bytes"};
    encrypted_file_store s;
    s.state_ = std::make_shared<state>();
    s.state_->path = std::move(path);
    s.state_->key = std::move(key);
    std::lock_guard lock(s.state_->mutex);
    if (auto r = s.reload_locked(true); !r) return r.error();
    return s;
  }

  /// Opens with the key in environment variable `var`, base64-encoded (32 bytes decoded).
  static result<encrypted_file_store> open_with_env_key(std::filesystem::path path,
                                                        std::string_view var = "INTG_SECRETS_KEY") {
    const char* v = std::getenv(std::string(var).c_str());
    if (!v) return error{errc::config_error, "environment variable " + std::string(var) + " is not set"};
    auto key = crypto::base64_decode(v);
    if (!key) return error{errc::config_error, "environment variable " + std::string(var) + " is not base64"};
    return open(std::move(path), secret{std::move(*key)});
  }

  /// The current value of `name` (reloading the file first if it was replaced).
  result<secret> get(std::string_view name) const {
    std::lock_guard lock(state_->mutex);
    if (auto r = reload_locked(false); !r) return r.error();
    const auto* e = state_->doc.if_contains(name);
    if (!e) return error{errc::not_found, "no secret named " + std::string(name)};
    return open_entry(name, e->get_object());
  }

  /// The version of `name` (1 for a new secret, +1 at each put).
  result<std::uint64_t> version(std::string_view name) const {
    std::lock_guard lock(state_->mutex);
    if (auto r = reload_locked(false); !r) return r.error();
    const auto* e = state_->doc.if_contains(name);
    if (!e) return error{errc::not_found, "no secret named " + std::string(name)};
    return static_cast<std::uint64_t>(e->get_object().at("version").as_int64());
  }

  /// The names of all secrets.
  result<std::vector<std::string>> names() const {
    std::lock_guard lock(state_->mutex);
    if (auto r = reload_locked(false); !r) return r.error();
    std::vector<std::string> out;
    for (const auto& [k, v] : state_->doc) out.emplace_back(k);
    return out;
  }

  /// Sets (or rotates) `name` to `value` and writes the store atomically.
  result<void> put(std::string_view name, const secret& value) {
    if (name.empty() || name.size() > 256) return error{errc::invalid_argument, "invalid secret name"};
    return modify([&](boost::json::object& doc) -> result<void> {
      std::int64_t version = 1;
      if (const auto* e = doc.if_contains(name)) version = e->get_object().at("version").as_int64() + 1;
      auto sealed = seal(name, version, value.reveal(), state_->key.reveal());
      if (!sealed) return sealed.error();
      doc[name] = std::move(*sealed);
      return {};
    });
  }

  /// Removes `name`.
  result<void> remove(std::string_view name) {
    return modify([&](boost::json::object& doc) -> result<void> {
      if (!doc.erase(name)) return error{errc::not_found, "no secret named " + std::string(name)};
      return {};
    });
  }

  /// Re-encrypts every value under `new_key` (32 bytes); this store then uses the new key.
  /// Other processes must be given the new key before they read again.
  result<void> rekey(secret new_key) {
    if (new_key.reveal().size() != crypto::aes256gcm_key_size)
      return error{errc::invalid_argument, "secret store key must be 32 bytes"};
    auto r = modify([&](boost::json::object& doc) -> result<void> {
      for (auto& [k, v] : doc) {
        auto plain = open_entry(k, v.get_object());
        if (!plain) return plain.error();
        auto sealed = seal(k, v.get_object().at("version").as_int64(), plain->reveal(), new_key.reveal());
        if (!sealed) return sealed.error();
        v = std::move(*sealed);
      }
      return {};
    });
    if (r) state_->key = std::move(new_key);
    return r;
  }

 private:
  struct state {
    std::filesystem::path path;
    secret key;
    boost::json::object doc;  // name -> {version, updated, value}; ciphertexts only
    std::optional<intg::detail::file_identity> seen;
    std::mutex mutex;
  };

  encrypted_file_store() = default;

  static std::string aad(std::string_view name, std::int64_t version) {
    return std::string(format) + "\n" + std::string(name) + "\n" + std::to_string(version);
  }

  static result<boost::json::object> seal(std::string_view name, std::int64_t version, std::string_view plain,
                                          std::string_view key) {
    auto sealed = crypto::aes256gcm_encrypt(crypto::as_bytes(key), plain, aad(name, version));
    if (!sealed) return sealed.error();
    boost::json::object e;
    e["version"] = version;
    const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    ::gmtime_r(&now, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    e["updated"] = buf;
    e["value"] = crypto::base64_encode(*sealed);
    return e;
  }

  result<secret> open_entry(std::string_view name, const boost::json::object& e) const {
    const auto sealed = crypto::base64_decode(std::string_view(e.at("value").as_string()));
    if (!sealed) return error{errc::decryption_failed, "secret " + std::string(name) + " is not valid base64"};
    auto plain = crypto::aes256gcm_decrypt(crypto::as_bytes(state_->key.reveal()), *sealed,
                                           aad(name, e.at("version").as_int64()));
    if (!plain) return error{errc::decryption_failed, "secret " + std::string(name) + " does not decrypt (wrong key or altered)"};
    return secret{std::move(*plain)};
  }

  // Validates the document's shape so that later .at()/.as_*() calls cannot throw.
  static result<boost::json::object> parse(std::string_view text) {
    auto o = intg::detail::strict_parse_object(text, errc::config_error, "secret store");
    if (!o) return o.error();
    const auto* f = o->if_contains("format");
    if (!f || !f->is_string() || f->get_string() != format)
      return error{errc::config_error, "secret store: unknown format (expected intg-secrets/1)"};
    const auto* s = o->if_contains("secrets");
    if (!s || !s->is_object()) return error{errc::config_error, "secret store: no \"secrets\" object"};
    for (const auto& [k, v] : s->get_object()) {
      const auto* e = v.if_object();
      if (!e || !e->contains("version") || !e->at("version").is_int64() || e->at("version").get_int64() < 1 ||
          !e->contains("value") || !e->at("value").is_string())
        return error{errc::config_error, "secret store: entry " + std::string(k) + " is malformed"};
    }
    return std::move(o->at("secrets").as_object());
  }

  result<void> reload_locked(bool force) const {
    auto& s = *state_;
    auto id = intg::detail::identify(s.path);
    if (!force && id == s.seen) return {};
    auto text = intg::detail::read_file(s.path, 64u << 20);
    if (!text) {
      if (text.error() != errc::not_found) return text.error();
      s.doc = {};
      s.seen = std::nullopt;
      return {};
    }
    auto doc = parse(*text);
    if (!doc) return doc.error();
    s.doc = std::move(*doc);
    s.seen = id;
    return {};
  }

  template <class Edit>
  result<void> modify(Edit edit) {
    auto& s = *state_;
    std::lock_guard lock(s.mutex);
    auto flock = intg::detail::lock_file(s.path.string() + ".lock");  // serialises writers across processes
    if (!flock) return flock.error();
    if (auto r = reload_locked(true); !r) return r;  // edit the latest version
    boost::json::object doc = s.doc;
    if (auto r = edit(doc); !r) return r;
    boost::json::object file;
    file["format"] = format;
    file["secrets"] = doc;
    if (auto r = intg::detail::atomic_replace(s.path, boost::json::serialize(file)); !r) return r;
    s.doc = std::move(doc);
    s.seen = intg::detail::identify(s.path);
    return {};
  }

  std::shared_ptr<state> state_;
};

}  // namespace intg::secrets
