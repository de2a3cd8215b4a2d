// What a request signer reads its settings from (SigV4's and Azure Shared Key's signers): string
// and secret settings by name, and a configuration error naming a setting. `rest::auth_context`
// is one, so a signer built from a tenant's settings plugs into `rest::signed_by`.
#pragma once

#include <intg/core/error.hpp>
#include <intg/core/result.hpp>
#include <intg/core/secret.hpp>

#include <concepts>
#include <string>
#include <string_view>

namespace intg::auth {

/// Reads string settings: `rest::auth_context` is one.
template <class C>
concept settings_source = requires(const C& c, std::string_view key) {
  { c.string(key, true) } -> std::same_as<result<std::string>>;
  { c.secret_setting(key, true) } -> std::same_as<result<secret>>;
  { c.config(key, key) } -> std::same_as<error>;
};

}  // namespace intg::auth
