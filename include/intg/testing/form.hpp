// intg::testing: request bodies and query strings as a fake sees them. Form bodies and query
// strings with nested keys (`metadata[order_id]=x`, `expand[0]=a`, `expand[]=a`,
// `items[0][price]=p`: the style Stripe and Rails use) become a boost::json object of strings,
// objects and arrays; JSON bodies are parsed as they are. Test helpers, not library code.
#pragma once

#include <intg/core/error.hpp>
#include <intg/core/result.hpp>
#include <intg/http/url.hpp>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace intg::testing {

namespace detail {

// "a[b][0][]" -> {"a", "b", "0", ""}; nullopt when the brackets do not pair.
inline std::optional<std::vector<std::string>> split_key(std::string_view key) {
  std::vector<std::string> parts;
  const auto open = key.find('[');
  parts.emplace_back(key.substr(0, open));
  if (parts.front().empty()) return std::nullopt;
  auto rest = open == std::string_view::npos ? std::string_view{} : key.substr(open);
  while (!rest.empty()) {
    if (rest.front() != '[') return std::nullopt;
    const auto close = rest.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    parts.emplace_back(rest.substr(1, close - 1));
    rest.remove_prefix(close + 1);
  }
  return parts;
}

inline bool is_index(std::string_view s) {
  if (s.empty() || s.size() > 6) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// Puts `value` at `parts[i..]` below `slot`, creating arrays for "" / numeric keys, objects else.
inline bool assign(boost::json::value& slot, const std::vector<std::string>& parts, std::size_t i, std::string_view value) {
  if (i == parts.size()) {
    if (!slot.is_null()) return false;  // a key given twice
    slot = boost::json::string(value);
    return true;
  }
  const std::string& k = parts[i];
  const bool array_key = k.empty() || is_index(k);
  if (slot.is_null()) {
    if (array_key) slot.emplace_array();
    else slot.emplace_object();
  }
  if (array_key) {
    if (!slot.is_array()) return false;
    auto& arr = slot.get_array();
    // `x[]=a` always appends; `x[N]` addresses element N, appending when N is the next index
    // (or beyond: sparse indexes are packed, as Rack does).
    std::size_t n = k.empty() ? arr.size() : static_cast<std::size_t>(std::stoul(k));
    if (k.empty() || n >= arr.size()) {
      arr.emplace_back(nullptr);
      n = arr.size() - 1;
    }
    return assign(arr[n], parts, i + 1, value);
  }
  if (!slot.is_object()) return false;
  return assign(slot.get_object()[k], parts, i + 1, value);
}

}  // namespace detail

/// Parses `a=1&metadata[k]=v&expand[0]=x&expand[]=y` (percent-decoded, `+` as space) into an
/// object of strings, nested objects and arrays. An error for malformed percent escapes,
/// unpaired brackets, or a key given twice / used both as a value and a container.
inline result<boost::json::object> parse_form(std::string_view s) {
  boost::json::value root = boost::json::object{};
  auto pairs = http::query::parse(s);
  if (!pairs) return pairs.error();
  for (const auto& [k, v] : *pairs) {
    auto parts = detail::split_key(k);
    if (!parts) return error(errc::invalid_argument, "malformed form key: " + k);
    if (!detail::assign(root, *parts, 0, v)) return error(errc::invalid_argument, "conflicting form key: " + k);
  }
  return std::move(root.get_object());
}

/// A body as an object: JSON when the content type says so (it must be an object), a form
/// otherwise (empty body: empty object).
inline result<boost::json::object> parse_body(std::string_view content_type, std::string_view body) {
  if (body.empty()) return boost::json::object{};
  if (content_type.find("json") != std::string_view::npos) {
    boost::system::error_code ec;
    auto v = boost::json::parse(body, ec);
    if (ec) return error(errc::invalid_argument, "invalid JSON body");
    if (!v.is_object()) return error(errc::invalid_argument, "JSON body is not an object");
    return std::move(v.get_object());
  }
  return parse_form(body);
}

/// A form value as a string ("" when absent or not a string).
inline std::string_view str(const boost::json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view{};
}

/// A form or JSON value as an integer: JSON integers, or strings of digits (forms carry only
/// strings). nullopt when absent or not an integer.
inline std::optional<std::int64_t> integer(const boost::json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  if (!v) return std::nullopt;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64() && v->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) return static_cast<std::int64_t>(v->get_uint64());
  if (!v->is_string()) return std::nullopt;
  std::string_view s = v->get_string();
  bool neg = !s.empty() && s.front() == '-';
  if (neg) s.remove_prefix(1);
  if (s.empty() || s.size() > 18) return std::nullopt;
  std::int64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return neg ? -n : n;
}

/// A form or JSON value as a boolean: true/false, or the strings "true"/"false"/"1"/"0".
inline std::optional<bool> boolean(const boost::json::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  if (!v) return std::nullopt;
  if (v->is_bool()) return v->get_bool();
  if (!v->is_string()) return std::nullopt;
  std::string_view s = v->get_string();
  if (s == "true" || s == "1") return true;
  if (s == "false" || s == "0") return false;
  return std::nullopt;
}

}  // namespace intg::testing
