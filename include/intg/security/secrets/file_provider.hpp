// Secrets from files in a directory, one file per secret (Docker and Kubernetes mount secrets
// this way, e.g. /run/secrets/db_password). Each get() reads the file again, so a rotated file
// is seen at once; one trailing newline is dropped.
#pragma once

#include <intg/detail/file_io.hpp>
#include <intg/core/error.hpp>
#include <intg/core/result.hpp>
#include <intg/core/secret.hpp>

#include <filesystem>
#include <string>
#include <string_view>

namespace intg::secrets {

class file_provider {
 public:
  explicit file_provider(std::filesystem::path directory) : dir_(std::move(directory)) {}

  /// The content of `<directory>/<name>`. Names with '/' or starting with '.' are refused
  /// (no escaping the directory); errc::not_found when the file does not exist.
  result<secret> get(std::string_view name) const {
    if (name.empty() || name.front() == '.' || name.find('/') != std::string_view::npos ||
        name.find('\0') != std::string_view::npos)
      return error{errc::invalid_argument, "invalid secret name"};
    auto text = intg::detail::read_file(dir_ / std::string(name), 1 << 20);
    if (!text) {
      if (text.error() == errc::not_found) return error{errc::not_found, "no secret file " + std::string(name)};
      return text.error();
    }
    secret s{std::move(*text)};
    std::string_view v = s.reveal();
    if (v.ends_with("\r\n")) v.remove_suffix(2);
    else if (v.ends_with('\n')) v.remove_suffix(1);
    if (v.size() == s.reveal().size()) return s;
    return secret{std::string(v)};  // `s` wipes the copy with the newline
  }

 private:
  std::filesystem::path dir_;
};

}  // namespace intg::secrets
