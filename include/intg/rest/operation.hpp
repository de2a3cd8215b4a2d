// intg::rest typed operations: one constexpr object per endpoint, naming the method, the path
// template (its `{}` placeholders counted at compile time against the operation's argument
// count), the operation's name (metrics, traces) and how its parameters travel. Parameters of
// GET/HEAD/DELETE go to the query string; others to the body (JSON, form, or multipart). A Params
// type with `result<void> validate() const` is checked before anything is sent.
#pragma once

#include <intg/core/result.hpp>
#include <intg/http/message.hpp>
#include <intg/rest/provider.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace intg::rest {

/// How the parameters of an unsafe method are sent.
enum class body { json, form, multipart, none };

namespace detail {
// Called only when the counts differ: a compile error that names the problem.
inline void path_placeholders_do_not_match_the_operation_argument_count() {}
}  // namespace detail

/// A path with N `{}` placeholders, each replaced by a percent-encoded argument.
template <std::size_t N>
struct path_template {
  std::string_view text;
  template <std::size_t M>
  consteval path_template(const char (&s)[M]) : text(s, M - 1) {  // NOLINT: implicit by design
    std::size_t n = 0;
    for (std::size_t i = 0; i + 1 < M - 1; ++i)
      if (s[i] == '{' && s[i + 1] == '}') ++n;
    if (n != N) detail::path_placeholders_do_not_match_the_operation_argument_count();
    if (M < 2 || s[0] != '/') detail::path_placeholders_do_not_match_the_operation_argument_count();
  }
  /// The path with `args` percent-encoded in place of the placeholders.
  std::string expand(const std::string_view* args) const {
    std::string out;
    std::size_t k = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '{' && i + 1 < text.size() && text[i + 1] == '}') {
        http::percent_encode_to(out, args[k++]);
        ++i;
      } else {
        out += text[i];
      }
    }
    return out;
  }
};

/// Checks a path argument before anything is sent (an id's alphabet and length); null: any
/// non-empty string, percent-encoded into its segment.
using argument_check = result<void> (*)(std::string_view);

/// One endpoint: `operation<customer, customer_create>{http::verb::post, "/v1/customers",
/// "customers.create", rest::body::form}`. `Args` is the number of path arguments.
template <class Response, class Params = none, std::size_t Args = 0>
struct operation {
  using response_type = Response;
  using params_type = Params;
  static constexpr std::size_t arg_count = Args;
  static constexpr bool paged = false;
  http::verb method;
  path_template<Args> path;
  std::string_view name;
  rest::body body = rest::body::json;
  /// Which credential of a provider whose auth is a rest::auth_set (0 otherwise).
  std::uint8_t credential = 0;
  argument_check check{};
  /// How many leading path arguments split the provider's rate-limit buckets (Discord's major
  /// parameters: a channel id, a webhook id and token): each value has limits of its own.
  std::uint8_t major_args = 0;
  /// A path argument (1-based; 0: none) that is a credential (Discord's webhook token): removed
  /// from every error message of the call.
  std::uint8_t secret_arg = 0;
};

/// Use the provider's pagination strategy (the default of list_operation).
struct provider_pagination {};

/// A paginated listing of `Item`s: `list_operation<customer, list_params>{http::verb::get,
/// "/v1/customers", "customers.list"}`. `items` overrides the strategy's JSON pointer to the
/// page's array (Slack: "/channels", "/messages").
template <class Item, class Params = none, std::size_t Args = 0, class Pagination = provider_pagination>
struct list_operation {
  using item_type = Item;
  using response_type = std::vector<Item>;
  using params_type = Params;
  using pagination = Pagination;
  static constexpr std::size_t arg_count = Args;
  static constexpr bool paged = true;
  http::verb method;
  path_template<Args> path;
  std::string_view name;
  std::string_view items{};
  rest::body body = rest::body::json;
  std::uint8_t credential = 0;  ///< as in operation
  argument_check check{};       ///< as in operation
  std::uint8_t major_args = 0;  ///< as in operation
};

/// A multipart/form-data body (file uploads): the Params of an operation with body::multipart.
struct multipart {
  struct part {
    std::string name;
    std::string data;
    std::string filename{};      ///< set for a file
    std::string content_type{};  ///< e.g. "image/png"; empty: none sent
  };
  std::vector<part> parts;
  multipart& field(std::string name, std::string value) {
    parts.push_back({std::move(name), std::move(value)});
    return *this;
  }
  multipart& file(std::string name, std::string filename, std::string content_type, std::string data) {
    parts.push_back({std::move(name), std::move(data), std::move(filename), std::move(content_type)});
    return *this;
  }
  /// The body with `boundary` (which must not occur in any part).
  std::string encode(std::string_view boundary) const {
    std::string out;
    auto quoted = [](std::string_view s) {
      std::string q;
      for (char c : s) q += (c == '"' || c == '\r' || c == '\n') ? '_' : c;  // no header injection
      return q;
    };
    for (const auto& p : parts) {
      out += "--";
      out += boundary;
      out += "\r\nContent-Disposition: form-data; name=\"" + quoted(p.name) + "\"";
      if (!p.filename.empty()) out += "; filename=\"" + quoted(p.filename) + "\"";
      out += "\r\n";
      if (!p.content_type.empty()) out += "Content-Type: " + quoted(p.content_type) + "\r\n";
      out += "\r\n";
      out += p.data;
      out += "\r\n";
    }
    out += "--";
    out += boundary;
    out += "--\r\n";
    return out;
  }
};

}  // namespace intg::rest
