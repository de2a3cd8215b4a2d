// An encrypted secret store in one JSON file, each value sealed with AES-256-GCM under a keyring
// of 32-byte keys taken from the environment (never from the file's directory). put() replaces a
// value and bumps its version, writing the whole file atomically (temporary file + rename) under
// an advisory lock; readers in this or other processes notice the file changed (inode, size,
// mtime) and reload it on their next get(): no restart needed.
//
// Key rotation without downtime: every value names the key that sealed it, readers decrypt with
// any key of their keyring and writers encrypt with the primary. Give readers the new key first,
// then on the writer add it, make it primary, reencrypt(), and finally retire the old key.
//
// File format (version 2):
//   {"format":"intg-secrets/2",
//    "secrets":{"db_password":{"version":3,"updated":"2024-05-01T12:00:00Z","key":"<key id>",
//                              "value":"<base64 of nonce(12) | ciphertext | tag(16)>"}}}
// The AAD of each value is "intg-secrets/2\n<key id>\n<name>\n<version>", so the format version,
// key id, name and version cannot be changed without decryption failing. Version 1 files (no key
// ids, AAD "intg-secrets/1\n<name>\n<version>") are read and rewritten as version 2 on the first
// write. (Rolling the whole file back to an older copy is not detectable from the file alone.)
#pragma once

#include <intg/security/crypto/aead.hpp>
#include <intg/security/crypto/encoding.hpp>
#include <intg/security/secrets/keyring.hpp>
#include <intg/detail/file_io.hpp>
#include <intg/detail/strict_json.hpp>
#include <intg/core/error.hpp>
#include <intg/core/result.hpp>
#include <intg/core/secret.hpp>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
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
  static constexpr std::string_view format = "intg-secrets/2";
  static constexpr std::string_view legacy_format = "intg-secrets/1";

  /// The id a key gets when none is chosen: hex of the first 8 bytes of
  /// HMAC-SHA256(key, "intg-secrets key id"). It names the key without revealing it.
  static std::string derive_key_id(const secret& key) { return keyring::derive_key_id(key); }

  /// Opens the store at `path` (which need not exist yet) with one 32-byte key, the primary.
  /// `key_id` (1 to 64 of [A-Za-z0-9._-]) defaults to derive_key_id(key).
  static result<encrypted_file_store> open(std::filesystem::path path, secret key, std::string key_id = {}) {
    encrypted_file_store s;
    s.state_ = std::make_shared<state>();
    s.state_->path = std::move(path);
    auto id = s.add_key(std::move(key), std::move(key_id));
    if (!id) return id.error();
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

  /// Adds a key that decrypts values sealed under it (it encrypts only once made primary).
  /// Returns its id (`key_id`, or derive_key_id(key) when empty).
  result<std::string> add_key(secret key, std::string key_id = {}) {
    std::lock_guard lock(state_->mutex);
    return state_->ring.add(std::move(key), std::move(key_id));
  }

  /// Makes `key_id` (already added) the key new values are sealed with.
  result<void> set_primary(std::string_view key_id) {
    std::lock_guard lock(state_->mutex);
    return state_->ring.set_primary(key_id);
  }

  /// Forgets `key_id`. Refused for the primary key, and while the file still holds values
  /// sealed under it (or is in the version 1 format, which does not say which key sealed what).
  result<void> retire_key(std::string_view key_id) {
    std::lock_guard lock(state_->mutex);
    auto& s = *state_;
    if (key_id == s.ring.primary_id()) return error{errc::invalid_argument, "keyring: cannot retire the primary key " + std::string(key_id)};
    if (!s.ring.find(key_id)) return error{errc::not_found, "keyring: no key with id " + std::string(key_id)};
    if (auto r = reload_locked(false); !r) return r;
    std::size_t in_use = 0;
    for (const auto& [k, v] : s.doc)
      if (s.legacy || v.get_object().at("key").get_string() == key_id) ++in_use;
    if (in_use > 0)
      return error{errc::key_invalid, "key " + std::string(key_id) + " still seals " + std::to_string(in_use) +
                                          " secret(s); reencrypt() first"};
    return s.ring.remove(key_id);
  }

  /// The ids of the keys this store holds, and the primary's.
  std::vector<std::string> key_ids() const {
    std::lock_guard lock(state_->mutex);
    return state_->ring.ids();
  }
  std::string primary_key_id() const {
    std::lock_guard lock(state_->mutex);
    return state_->ring.primary_id();
  }
  /// A copy of the store's keys, for what seals other data under them (the shared token cache).
  keyring keys() const {
    std::lock_guard lock(state_->mutex);
    return state_->ring;
  }

  /// The current value of `name` (reloading the file first if it was replaced).
  result<secret> get(std::string_view name) const {
    std::lock_guard lock(state_->mutex);
    if (auto r = reload_locked(false); !r) return r.error();
    const auto* e = state_->doc.if_contains(name);
    if (!e) return error{errc::not_found, "no secret named " + std::string(name)};
    return open_entry(name, e->get_object(), state_->legacy);
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
      auto sealed = seal(name, version, value.reveal());
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

  /// Re-seals under the primary key every value sealed under another key (names, versions and
  /// values unchanged), and rewrites a version 1 file as version 2.
  result<void> reencrypt() {
    return modify([&](boost::json::object& doc) -> result<void> {
      for (auto& [k, v] : doc) {
        auto& e = v.get_object();
        if (e.at("key").get_string() == state_->ring.primary_id()) continue;
        auto plain = open_entry(k, e, false);
        if (!plain) return plain.error();
        auto sealed = seal(k, e.at("version").as_int64(), plain->reveal());
        if (!sealed) return sealed.error();
        if (const auto* u = e.if_contains("updated")) (*sealed)["updated"] = *u;  // the value did not change
        v = std::move(*sealed);
      }
      return {};
    });
  }

  /// Rotates in one step for a single process: adds `new_key`, makes it primary, re-encrypts
  /// everything and retires every other key. With several readers, use add_key / set_primary /
  /// reencrypt / retire_key instead so that readers holding both keys never fail.
  result<void> rekey(secret new_key, std::string key_id = {}) {
    auto id = add_key(std::move(new_key), std::move(key_id));
    if (!id) return id.error();
    const std::string old_primary = primary_key_id();
    if (auto r = set_primary(*id); !r) return r;
    if (auto r = reencrypt(); !r) {
      (void)set_primary(old_primary);
      (void)retire_key(*id);
      return r;
    }
    for (const auto& k : key_ids())
      if (k != *id)
        if (auto r = retire_key(k); !r) return r;
    return {};
  }

 private:
  using key_entry = keyring::key_entry;
  struct state {
    std::filesystem::path path;
    keyring ring;
    boost::json::object doc;  // name -> {version, updated, key, value}; ciphertexts only
    bool legacy = false;      // doc was read from a version 1 file (no "key" members)
    std::optional<intg::detail::file_identity> seen;
    mutable std::mutex mutex;
  };

  encrypted_file_store() = default;

  const key_entry* find_key(std::string_view id) const { return state_->ring.find(id); }

  static std::string aad(std::string_view key_id, std::string_view name, std::int64_t version) {
    return std::string(format) + "\n" + std::string(key_id) + "\n" + std::string(name) + "\n" + std::to_string(version);
  }
  static std::string legacy_aad(std::string_view name, std::int64_t version) {
    return std::string(legacy_format) + "\n" + std::string(name) + "\n" + std::to_string(version);
  }

  // Seals under the primary key.
  result<boost::json::object> seal(std::string_view name, std::int64_t version, std::string_view plain) const {
    const auto* k = state_->ring.primary();
    auto sealed = crypto::aes256gcm_encrypt(crypto::as_bytes(k->key.reveal()), plain, aad(k->id, name, version));
    if (!sealed) return sealed.error();
    boost::json::object e;
    e["version"] = version;
    const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    ::gmtime_r(&now, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    e["updated"] = buf;
    e["key"] = k->id;
    e["value"] = crypto::base64_encode(*sealed);
    return e;
  }

  result<secret> open_entry(std::string_view name, const boost::json::object& e, bool legacy) const {
    const auto sealed = crypto::base64_decode(std::string_view(e.at("value").as_string()));
    if (!sealed) return error{errc::decryption_failed, "secret " + std::string(name) + " is not valid base64"};
    const auto version = e.at("version").as_int64();
    if (legacy) {  // no key id: any key of the ring may have sealed it
      for (const auto& k : state_->ring.keys())
        if (auto plain = crypto::aes256gcm_decrypt(crypto::as_bytes(k.key.reveal()), *sealed, legacy_aad(name, version)))
          return secret{std::move(*plain)};
      return error{errc::decryption_failed, "secret " + std::string(name) + " does not decrypt (wrong key or altered)"};
    }
    const std::string_view key_id = e.at("key").get_string();
    const auto* k = find_key(key_id);
    if (!k)
      return error{errc::key_invalid, "secret " + std::string(name) + " is sealed under key " + std::string(key_id) +
                                          ", which this store does not hold (add it with add_key)"};
    auto plain = crypto::aes256gcm_decrypt(crypto::as_bytes(k->key.reveal()), *sealed, aad(key_id, name, version));
    if (!plain) return error{errc::decryption_failed, "secret " + std::string(name) + " does not decrypt (wrong key or altered)"};
    return secret{std::move(*plain)};
  }

  // Validates the document's shape so that later .at()/.as_*() calls cannot throw.
  static result<std::pair<boost::json::object, bool>> parse(std::string_view text) {
    auto o = intg::detail::strict_parse_object(text, errc::config_error, "secret store");
    if (!o) return o.error();
    const auto* f = o->if_contains("format");
    const bool legacy = f && f->is_string() && f->get_string() == legacy_format;
    if (!legacy && (!f || !f->is_string() || f->get_string() != format))
      return error{errc::config_error, "secret store: unknown format (expected intg-secrets/2 or intg-secrets/1)"};
    const auto* s = o->if_contains("secrets");
    if (!s || !s->is_object()) return error{errc::config_error, "secret store: no \"secrets\" object"};
    for (const auto& [k, v] : s->get_object()) {
      const auto* e = v.if_object();
      if (!e || !e->contains("version") || !e->at("version").is_int64() || e->at("version").get_int64() < 1 ||
          !e->contains("value") || !e->at("value").is_string() ||
          (!legacy && (!e->contains("key") || !e->at("key").is_string())))
        return error{errc::config_error, "secret store: entry " + std::string(k) + " is malformed"};
    }
    return std::pair{std::move(o->at("secrets").as_object()), legacy};
  }

  result<void> reload_locked(bool force) const {
    auto& s = *state_;
    auto id = intg::detail::identify(s.path);
    if (!force && id == s.seen) return {};
    auto text = intg::detail::read_file(s.path, 64u << 20);
    if (!text) {
      if (text.error() != errc::not_found) return text.error();
      s.doc = {};
      s.legacy = false;
      s.seen = std::nullopt;
      return {};
    }
    auto doc = parse(*text);
    if (!doc) return doc.error();
    s.doc = std::move(doc->first);
    s.legacy = doc->second;
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
    if (s.legacy) {  // migrate: a version 1 file is rewritten as version 2, every value re-sealed
      for (auto& [k, v] : doc) {
        auto plain = open_entry(k, v.get_object(), true);
        if (!plain) return plain.error();
        auto sealed = seal(k, v.get_object().at("version").as_int64(), plain->reveal());
        if (!sealed) return sealed.error();
        if (const auto* u = v.get_object().if_contains("updated")) (*sealed)["updated"] = *u;
        v = std::move(*sealed);
      }
    }
    if (auto r = edit(doc); !r) return r;
    boost::json::object file;
    file["format"] = format;
    file["secrets"] = doc;
    if (auto r = intg::detail::atomic_replace(s.path, boost::json::serialize(file)); !r) return r;
    s.doc = std::move(doc);
    s.legacy = false;
    s.seen = intg::detail::identify(s.path);
    return {};
  }

  std::shared_ptr<state> state_;
};

}  // namespace intg::secrets
