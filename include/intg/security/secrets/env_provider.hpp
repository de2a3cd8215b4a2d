// Secrets from environment variables (the twelve-factor way): `get("DB_PASSWORD")` reads
// `$<prefix>DB_PASSWORD` at each call, so a restarted process picks up new values.
#pragma once

#include <intg/core/error.hpp>
#include <intg/core/result.hpp>
#include <intg/core/secret.hpp>

#include <cstdlib>
#include <string>
#include <string_view>

namespace intg::secrets {

class env_provider {
 public:
  explicit env_provider(std::string prefix = {}) : prefix_(std::move(prefix)) {}

  /// The variable's value; errc::not_found when it is unset (the message names the variable,
  /// never a value).
  result<secret> get(std::string_view name) const {
    const std::string var = prefix_ + std::string(name);
    if (name.empty() || var.find('=') != std::string::npos) return error{errc::invalid_argument, "invalid variable name"};
    const char* v = std::getenv(var.c_str());
    if (!v) return error{errc::not_found, "environment variable " + var + " is not set"};
    return secret{std::string(v)};
  }

 private:
  std::string prefix_;
};

}  // namespace intg::secrets
