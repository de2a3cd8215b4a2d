// A keyring: 32-byte AES-256-GCM keys, each named by an id, one of them the primary. Writers seal
// with the primary; readers open with whichever key a sealed value names, so that keys rotate
// without downtime (give readers the new key, make it primary on the writers, re-seal, retire the
// old one). The encrypted secret store keeps its keys in one, and so does everything else that
// seals data with the store's keys (the shared token cache).
#pragma once

#include <intg/core/error.hpp>
#include <intg/core/result.hpp>
#include <intg/core/secret.hpp>
#include <intg/security/crypto/aead.hpp>
#include <intg/security/crypto/encoding.hpp>
#include <intg/security/crypto/hmac.hpp>

#include <algorithm>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace intg::secrets {

class keyring {
 public:
  struct key_entry {
    std::string id;
    secret key;
  };

  /// The id a key gets when none is chosen: hex of the first 8 bytes of
  /// HMAC-SHA256(key, "intg-secrets key id"). It names the key without revealing it.
  static std::string derive_key_id(const secret& key) {
    const auto mac = crypto::hmac_sha256(key.reveal(), "intg-secrets key id");
    return crypto::to_hex(std::span<const std::uint8_t>(mac.data(), 8));
  }

  /// 1 to 64 of [A-Za-z0-9._-].
  static bool valid_key_id(std::string_view id) noexcept {
    return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    });
  }

  /// A ring holding `key` (32 bytes) as its primary; `key_id` defaults to derive_key_id(key).
  static result<keyring> with_primary(secret key, std::string key_id = {}) {
    keyring k;
    auto id = k.add(std::move(key), std::move(key_id));
    if (!id) return id.error();
    k.primary_ = *id;
    return k;
  }

  /// Adds a key that opens values sealed under it (it seals only once made primary). The first
  /// key added to an empty ring becomes the primary. Returns its id.
  result<std::string> add(secret key, std::string key_id = {}) {
    if (key.reveal().size() != crypto::aes256gcm_key_size) return error{errc::invalid_argument, "keyring: a key must be 32 bytes"};
    if (key_id.empty()) key_id = derive_key_id(key);
    if (!valid_key_id(key_id)) return error{errc::invalid_argument, "keyring: a key id must be 1 to 64 of [A-Za-z0-9._-]"};
    if (find(key_id)) return error{errc::invalid_argument, "keyring: there is already a key with id " + key_id};
    keys_.push_back({key_id, std::move(key)});
    if (primary_.empty()) primary_ = key_id;
    return key_id;
  }

  /// Makes `key_id` (already added) the key new values are sealed with.
  result<void> set_primary(std::string_view key_id) {
    if (!find(key_id)) return error{errc::not_found, "keyring: no key with id " + std::string(key_id)};
    primary_ = std::string(key_id);
    return {};
  }

  /// Forgets `key_id` (never the primary).
  result<void> remove(std::string_view key_id) {
    if (key_id == primary_) return error{errc::invalid_argument, "keyring: cannot retire the primary key " + std::string(key_id)};
    if (!find(key_id)) return error{errc::not_found, "keyring: no key with id " + std::string(key_id)};
    std::erase_if(keys_, [&](const key_entry& k) { return k.id == key_id; });
    return {};
  }

  const key_entry* find(std::string_view key_id) const noexcept {
    for (const auto& k : keys_)
      if (k.id == key_id) return &k;
    return nullptr;
  }
  /// The primary key; nullptr for an empty ring.
  const key_entry* primary() const noexcept { return find(primary_); }
  const std::string& primary_id() const noexcept { return primary_; }
  const std::vector<key_entry>& keys() const noexcept { return keys_; }
  std::vector<std::string> ids() const {
    std::vector<std::string> out;
    for (const auto& k : keys_) out.push_back(k.id);
    return out;
  }
  bool empty() const noexcept { return keys_.empty(); }

 private:
  std::vector<key_entry> keys_;
  std::string primary_;
};

}  // namespace intg::secrets
