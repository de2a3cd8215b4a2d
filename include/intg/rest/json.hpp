// Typed models for REST providers: plain aggregates described with Boost.Describe, read from and
// written to JSON by one lenient, non-throwing converter.
//
// Boost.JSON 1.81's own conversion of described classes is exact-match strict (an unknown key or
// a missing std::optional member fails, the error does not say where) and writes null for empty
// optionals. Providers add fields all the time, so models here follow other rules:
//   - unknown members are ignored; a missing member is an error unless it is a std::optional;
//     `null` for a std::optional is empty (absent leaves the member at its default);
//   - a C++ name's one trailing underscore is dropped in JSON (`explicit_` is "explicit"); keys
//     that are not C++ names come from the model's `json_keys` (rest::json_key);
//   - integers are range-checked (3.0 fits an int, 3.7 and 1e30 do not; a negative never fits
//     an unsigned), floating-point members accept integers;
//   - described enums are read by name; an enumerator named `unknown` catches names the model
//     does not know yet, otherwise an unknown name is an error;
//   - std::vector, std::map/std::unordered_map with string keys, boost::json::value / object /
//     array (kept raw), nested described structs (base classes' members included); any other
//     type Boost.JSON can convert (its own tag_invoke) is converted by Boost.JSON;
//   - the first problem is an errc::invalid_response error whose json_path() says where
//     ("$.data[3].customer.email") and whose message names the JSON kind expected and found,
//     never the value (values may be secrets).
// Decoding reads straight from the boost::json::value into the model; the JSON path is built only
// when decoding fails (on the way back up), so the success path does no bookkeeping.
//
// INTG_REST_MODELS(), written once inside a provider's namespace, makes boost::json::value_to,
// try_value_to and value_from use these rules for the described types of that namespace.
#pragma once

#include <intg/core/error.hpp>
#include <intg/core/result.hpp>
#include <intg/rest/detail/answer_arena.hpp>

#include <boost/describe/class.hpp>
#include <boost/describe/enum.hpp>
#include <boost/describe/enumerators.hpp>
#include <boost/describe/members.hpp>
#include <boost/describe/modifiers.hpp>
#include <boost/json/parser.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>
#include <boost/mp11/algorithm.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace intg::rest {

/// A struct described with BOOST_DESCRIBE_STRUCT (or BOOST_DESCRIBE_CLASS).
template <class T>
concept model = std::is_class_v<T> && boost::describe::has_describe_members<T>::value;

/// A member whose JSON key is not a C++ name (Last.fm's "#text" and "@attr", OData's
/// "@odata.nextLink"): a model lists them in `static constexpr rest::json_key json_keys[] =
/// {{"text", "#text"}};`, and every other member keeps its own name.
struct json_key {
  std::string_view member;
  std::string_view json;
};

/// An enum described with BOOST_DESCRIBE_ENUM (or BOOST_DEFINE_ENUM...).
template <class T>
concept described_enum = std::is_enum_v<T> && boost::describe::has_describe_enumerators<T>::value;

namespace json_detail {

namespace json = boost::json;
namespace describe = boost::describe;

template <class T>
using members_of = describe::describe_members<T, describe::mod_public | describe::mod_inherited>;

/// The JSON name of a C++ identifier: one trailing underscore dropped (`explicit_`, `default_`).
constexpr std::string_view json_name(std::string_view n) noexcept {
  if (n.size() > 1 && n.back() == '_') n.remove_suffix(1);
  return n;
}

/// The JSON key of T's member `member`: its `json_keys` entry, else json_name(member).
template <class T>
constexpr std::string_view key_of(std::string_view member) noexcept {
  if constexpr (requires { T::json_keys; }) {
    for (const json_key& k : T::json_keys)
      if (k.member == member) return k.json;
  }
  return json_name(member);
}

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};
template <class T>
struct is_vector : std::false_type {};
template <class T, class A>
struct is_vector<std::vector<T, A>> : std::true_type {};
template <class T>
struct is_string_map : std::false_type {};
template <class V, class C, class A>
struct is_string_map<std::map<std::string, V, C, A>> : std::true_type {};
template <class V, class H, class E, class A>
struct is_string_map<std::unordered_map<std::string, V, H, E, A>> : std::true_type {};

template <class T>
inline constexpr bool is_integer_v = std::is_integral_v<T> && !std::is_same_v<T, bool> && !std::is_same_v<T, char> &&
                                     !std::is_same_v<T, wchar_t> && !std::is_same_v<T, char8_t> &&
                                     !std::is_same_v<T, char16_t> && !std::is_same_v<T, char32_t>;

template <class E>
constexpr std::optional<E> unknown_enumerator() noexcept {
  std::optional<E> r;
  boost::mp11::mp_for_each<describe::describe_enumerators<E>>([&](auto d) {
    if (json_name(d.name) == "unknown") r = d.value;
  });
  return r;
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

// The first problem: its message, and the path from the problem up to the root (innermost
// first), filled in as the readers return. Keys point into the model's member names or into the
// document being decoded, both alive until the error is built.
struct failure {
  struct step {
    std::string_view key;
    std::size_t index = 0;
    bool is_index = false;
  };
  std::string message;
  std::vector<step> path;
  // Bytes that arrays and maps may take in the model. A 3-byte "{}," can become a struct of a
  // kilobyte, so a hostile body within the size cap could otherwise ask for gigabytes.
  std::size_t budget = std::size_t(-1);

  bool spend(std::size_t count, std::size_t each) {
    const std::size_t want = count > budget / each ? std::size_t(-1) : count * each;
    if (want > budget)
      return fail("expected at most " + std::to_string(budget / each) + " elements here (what remains of the " +
                  "decoding budget: " + std::to_string(budget) + " bytes), got " + std::to_string(count));
    budget -= want;
    return true;
  }

  bool fail(std::string m) {
    message = std::move(m);
    return false;
  }
  bool at(std::string_view key) {
    path.push_back({key, 0, false});
    return false;
  }
  bool at(std::size_t index) {
    path.push_back({{}, index, true});
    return false;
  }
};

inline bool is_identifier(std::string_view k) noexcept {
  if (k.empty() || (k[0] >= '0' && k[0] <= '9')) return false;
  for (char c : k)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

inline std::string render_path(const std::vector<failure::step>& steps) {
  std::string p = "$";
  for (auto it = steps.rbegin(); it != steps.rend(); ++it) {
    if (it->is_index) {
      p += '[';
      p += std::to_string(it->index);
      p += ']';
    } else if (is_identifier(it->key)) {
      p += '.';
      p += it->key;
    } else {  // a map key such as "order-id" or "a.b": bracket notation, quotes escaped
      p += "[\"";
      for (char c : it->key.substr(0, 128)) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
          p += '\\';
          p += c;
        } else if (u < 0x20 || u == 0x7f) {
          p += '?';
        } else {
          p += c;
        }
      }
      if (it->key.size() > 128) p += "...";
      p += "\"]";
    }
  }
  return p;
}

inline const char* kind_name(const json::value& v) noexcept {
  switch (v.kind()) {
    case json::kind::null: return "null";
    case json::kind::bool_: return "a boolean";
    case json::kind::int64:
    case json::kind::uint64: return "an integer";
    case json::kind::double_: return "a number with a fraction or exponent";
    case json::kind::string: return "a string";
    case json::kind::array: return "an array";
    case json::kind::object: return "an object";
  }
  return "?";
}

// What a member of type T expects, for messages.
template <class T>
std::string expected_kind() {
  if constexpr (is_optional<T>::value) {
    return expected_kind<typename T::value_type>() + " or null";
  } else if constexpr (std::is_same_v<T, bool>) {
    return "a boolean";
  } else if constexpr (is_integer_v<T>) {
    return "an integer in [" + std::to_string(std::numeric_limits<T>::min()) + ", " +
           std::to_string(std::numeric_limits<T>::max()) + "]";
  } else if constexpr (std::is_floating_point_v<T>) {
    return "a number";
  } else if constexpr (std::is_same_v<T, std::string>) {
    return "a string";
  } else if constexpr (described_enum<T>) {
    std::string s = "one of the strings";
    const char* sep = " ";
    boost::mp11::mp_for_each<describe::describe_enumerators<T>>([&](auto d) {
      s += sep;
      s += '"';
      s += json_name(d.name);
      s += '"';
      sep = ", ";
    });
    return s;
  } else if constexpr (is_vector<T>::value || std::is_same_v<T, json::array>) {
    return "an array";
  } else if constexpr (is_string_map<T>::value || model<T> || std::is_same_v<T, json::object>) {
    return "an object";
  } else {
    return "a JSON value convertible to the member's type";
  }
}

template <class T>
bool wrong_kind(failure& f, const json::value& v) {
  return f.fail("expected " + expected_kind<T>() + ", got " + kind_name(v));
}

template <class T>
bool read(const json::value& v, T& out, failure& f);

template <class I>
bool read_integer(const json::value& v, I& out, failure& f) {
  using lim = std::numeric_limits<I>;
  if (const auto* i = v.if_int64()) {
    const std::int64_t x = *i;
    if constexpr (std::is_signed_v<I>) {
      if (x >= static_cast<std::int64_t>(lim::min()) && x <= static_cast<std::int64_t>(lim::max())) {
        out = static_cast<I>(x);
        return true;
      }
    } else {
      if (x >= 0 && static_cast<std::uint64_t>(x) <= static_cast<std::uint64_t>(lim::max())) {
        out = static_cast<I>(x);
        return true;
      }
    }
  } else if (const auto* u = v.if_uint64()) {  // Boost.JSON uses uint64 only above INT64_MAX
    if (*u <= static_cast<std::uint64_t>(lim::max())) {
      out = static_cast<I>(*u);
      return true;
    }
  } else if (const auto* d = v.if_double()) {  // 3.0 and 1e2 are integers too; 3.7 is not
    if (std::trunc(*d) != *d) return f.fail("expected " + expected_kind<I>() + ", got a number with a fraction");
    // [min, 2^digits) is exact in double for every integer type.
    constexpr double lo = static_cast<double>(lim::min());
    constexpr double hi = 2.0 * static_cast<double>(std::uint64_t{1} << (lim::digits - 1));
    if (*d >= lo && *d < hi) {
      out = static_cast<I>(*d);
      return true;
    }
  } else {
    return wrong_kind<I>(f, v);
  }
  return f.fail("expected " + expected_kind<I>() + ", got an integer out of that range");
}

template <class F>
bool read_floating(const json::value& v, F& out, failure& f) {
  double d;
  if (const auto* x = v.if_double()) {
    d = *x;
  } else if (const auto* i = v.if_int64()) {
    d = static_cast<double>(*i);
  } else if (const auto* u = v.if_uint64()) {
    d = static_cast<double>(*u);
  } else {
    return wrong_kind<F>(f, v);
  }
  // 1e400 parses as infinity.
  if (!std::isfinite(d) || std::fabs(d) > static_cast<double>(std::numeric_limits<F>::max()))
    return f.fail("expected a finite number, got a number out of range");
  out = static_cast<F>(d);
  return true;
}

template <class E>
bool read_enum(const json::value& v, E& out, failure& f) {
  const auto* s = v.if_string();
  if (!s) return wrong_kind<E>(f, v);
  const std::string_view name(s->data(), s->size());
  bool found = false;
  boost::mp11::mp_for_each<describe::describe_enumerators<E>>([&](auto d) {
    if (!found && json_name(d.name) == name) {
      out = d.value;
      found = true;
    }
  });
  if (found) return true;
  if constexpr (constexpr auto fallback = unknown_enumerator<E>(); fallback.has_value()) {
    out = *fallback;
    return true;
  } else {
    return f.fail("expected " + expected_kind<E>() + ", got another string");
  }
}

template <class T>
bool read_struct(const json::value& v, T& out, failure& f) {
  const auto* o = v.if_object();
  if (!o) return wrong_kind<T>(f, v);
  bool ok = true;
  boost::mp11::mp_for_each<members_of<T>>([&](auto d) {
    if (!ok) return;
    using M = std::remove_cvref_t<decltype(out.*d.pointer)>;
    constexpr std::string_view key = key_of<T>(d.name);
    const json::value* m = o->if_contains(key);
    if (!m) {
      if constexpr (!is_optional<M>::value) {
        f.fail("missing required member (expected " + expected_kind<M>() + ")");
        ok = f.at(key);
      }
      return;
    }
    if (!read(*m, out.*d.pointer, f)) ok = f.at(key);
  });
  return ok;
}

template <class T>
bool read(const json::value& v, T& out, failure& f) {
  if constexpr (is_optional<T>::value) {
    if (v.is_null()) {
      out.reset();
      return true;
    }
    return read(v, out.emplace(), f);
  } else if constexpr (std::is_same_v<T, bool>) {
    if (const auto* b = v.if_bool()) {
      out = *b;
      return true;
    }
    return wrong_kind<T>(f, v);
  } else if constexpr (is_integer_v<T>) {
    return read_integer(v, out, f);
  } else if constexpr (std::is_floating_point_v<T>) {
    return read_floating(v, out, f);
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (const auto* s = v.if_string()) {
      out.assign(s->data(), s->size());
      return true;
    }
    return wrong_kind<T>(f, v);
  } else if constexpr (described_enum<T>) {
    return read_enum(v, out, f);
  } else if constexpr (model<T>) {
    return read_struct(v, out, f);
  } else if constexpr (is_vector<T>::value) {
    const auto* a = v.if_array();
    if (!a) return wrong_kind<T>(f, v);
    if (!f.spend(a->size(), sizeof(typename T::value_type))) return false;
    out.clear();
    out.reserve(a->size());
    for (std::size_t i = 0; i < a->size(); ++i) {
      if constexpr (std::is_same_v<typename T::value_type, bool>) {  // std::vector<bool> has no bool&
        bool b = false;
        if (!read((*a)[i], b, f)) return f.at(i);
        out.push_back(b);
      } else {
        if (!read((*a)[i], out.emplace_back(), f)) return f.at(i);
      }
    }
    return true;
  } else if constexpr (is_string_map<T>::value) {
    const auto* o = v.if_object();
    if (!o) return wrong_kind<T>(f, v);
    if (!f.spend(o->size(), sizeof(typename T::value_type) + 4 * sizeof(void*))) return false;  // + node links
    out.clear();
    for (const auto& kv : *o) {
      const std::string_view k(kv.key().data(), kv.key().size());
      auto& slot = out[std::string(k)];
      if (!read(kv.value(), slot, f)) return f.at(k);
    }
    return true;
  } else if constexpr (std::is_same_v<T, json::value>) {
    // Always on the default resource: a copy keeps the source's memory resource, and a caller's
    // document may live in a short-lived arena.
    out = json::value(v, json::storage_ptr());
    return true;
  } else if constexpr (std::is_same_v<T, json::object>) {
    if (const auto* o = v.if_object()) {
      out = json::object(*o, json::storage_ptr());
      return true;
    }
    return wrong_kind<T>(f, v);
  } else if constexpr (std::is_same_v<T, json::array>) {
    if (const auto* a = v.if_array()) {
      out = json::array(*a, json::storage_ptr());
      return true;
    }
    return wrong_kind<T>(f, v);
  } else if constexpr (json::has_value_to<T>::value) {
    auto r = json::try_value_to<T>(v);
    if (!r) return f.fail("expected " + expected_kind<T>() + ", got " + kind_name(v) + " (" + r.error().message() + ")");
    out = std::move(*r);
    return true;
  } else {
    static_assert(sizeof(T) == 0,
                  "intg::rest: unsupported member type (use bool, integers, floating point, std::string, "
                  "std::optional, std::vector, std::map<std::string, X>, boost::json::value/object/array, "
                  "described enums or described structs)");
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

template <class T>
void write(json::value& out, const T& x);

template <class E>
void write_enum(json::value& out, E e) {
  bool found = false;
  boost::mp11::mp_for_each<describe::describe_enumerators<E>>([&](auto d) {
    if (!found && d.value == e) {
      const std::string_view n = json_name(d.name);
      out.emplace_string().assign(n.data(), n.size());
      found = true;
    }
  });
  if (!found) {  // a value outside the described ones (a cast): its number
    using U = std::underlying_type_t<E>;
    if constexpr (std::is_signed_v<U>) {
      out = static_cast<std::int64_t>(e);
    } else {
      out = static_cast<std::uint64_t>(e);
    }
  }
}

template <class T>
void write(json::value& out, const T& x) {
  if constexpr (is_optional<T>::value) {
    if (x) {
      write(out, *x);
    } else {
      out.emplace_null();
    }
  } else if constexpr (std::is_same_v<T, bool>) {
    out = x;
  } else if constexpr (is_integer_v<T>) {
    if constexpr (std::is_signed_v<T>) {
      out = static_cast<std::int64_t>(x);
    } else {
      out = static_cast<std::uint64_t>(x);
    }
  } else if constexpr (std::is_floating_point_v<T>) {
    out = static_cast<double>(x);
  } else if constexpr (std::is_same_v<T, std::string>) {
    out.emplace_string().assign(x.data(), x.size());
  } else if constexpr (described_enum<T>) {
    write_enum(out, x);
  } else if constexpr (model<T>) {
    auto& o = out.emplace_object();
    o.reserve(boost::mp11::mp_size<members_of<T>>::value);
    boost::mp11::mp_for_each<members_of<T>>([&](auto d) {
      const auto& m = x.*d.pointer;
      if constexpr (is_optional<std::remove_cvref_t<decltype(m)>>::value) {
        if (!m) return;  // empty optionals are omitted
      }
      write(o.emplace(key_of<T>(d.name), nullptr).first->value(), m);
    });
  } else if constexpr (is_vector<T>::value) {
    auto& a = out.emplace_array();
    a.reserve(x.size());
    for (const auto& e : x) {
      write(a.emplace_back(nullptr), static_cast<const typename T::value_type&>(e));
    }
  } else if constexpr (is_string_map<T>::value) {
    auto& o = out.emplace_object();
    o.reserve(x.size());
    for (const auto& [k, e] : x) write(o.emplace(k, nullptr).first->value(), e);
  } else if constexpr (std::is_same_v<T, json::value> || std::is_same_v<T, json::object> ||
                       std::is_same_v<T, json::array>) {
    out = x;
  } else if constexpr (json::has_value_from<T>::value) {
    out = json::value_from(x);
  } else {
    static_assert(sizeof(T) == 0, "intg::rest::encode: unsupported member type");
  }
}

inline std::string parse_error_message(const json::error_code& ec, std::size_t offset) {
  std::string m = "response body is not valid JSON: ";
  if (ec == json::error::too_deep) {
    m += "nested deeper than 64 levels";
  } else {
    m += ec.message();
  }
  m += " at byte ";
  m += std::to_string(offset);
  return m;
}

}  // namespace json_detail

/// The maximum nesting of arrays and objects decode_body() accepts.
inline constexpr std::size_t max_json_depth = 64;
/// decode_body(): the model's arrays and maps may take this many times the body's size, and at
/// least decode_budget_floor bytes (sparse objects into large structs amplify a legitimate body
/// tenfold or more; "{}," into a 1 KiB struct is 300 times).
inline constexpr std::size_t decode_budget_factor = 32;
inline constexpr std::size_t decode_budget_floor = std::size_t{16} << 20;

/// Reads a T (a described struct, or any supported member type) from a parsed document. Errors are
/// errc::invalid_response with the JSON path of the first problem. `array_budget` bounds the bytes
/// the model's vectors and maps may take (element size times count, summed over the document).
template <class T>
result<T> decode(const boost::json::value& v, std::size_t array_budget = std::size_t(-1)) {
  T out{};
  json_detail::failure f;
  f.budget = array_budget;
  if (json_detail::read(v, out, f)) return out;
  intg::error e(errc::invalid_response, std::move(f.message));
  e.with_json_path(json_detail::render_path(f.path));
  return e;
}

/// Parses a response body (at most `max_bytes`, nesting at most max_json_depth levels, strict
/// JSON, valid UTF-8) and reads a T from it. A body that does not parse is errc::invalid_response
/// whose message has the parser's reason and the byte offset. Duplicate member names: the last
/// one wins, as in JSON.parse and the providers' own SDKs. The model's vectors and maps may take
/// at most decode_budget_factor times the body's size (at least decode_budget_floor), whatever
/// their elements' size: a page of empty objects decoded into large structs is an error, not
/// gigabytes.
template <class T>
result<T> decode_body(std::string_view body, std::size_t max_bytes = std::size_t{8} << 20) {
  namespace json = boost::json;
  if (body.size() > max_bytes)
    return intg::error(errc::invalid_response, "response body of " + std::to_string(body.size()) +
                                                   " bytes exceeds the limit of " + std::to_string(max_bytes) +
                                                   " bytes");
  // The document lives in an arena whose first block is reused (detail::answer_arena): it is read
  // into T and dropped, so its nodes are never freed one by one.
  json::parse_options opts;
  opts.max_depth = max_json_depth;
  unsigned char parser_stack[4096];  // as json::parse: no heap for the usual depth
  detail::answer_arena arena;  // outlives doc, which is dropped without a walk
  json::parser p(&arena, opts, parser_stack, sizeof parser_stack);
  json::error_code ec;
  const std::size_t n = p.write(body.data(), body.size(), ec);
  if (ec) return intg::error(errc::invalid_response, json_detail::parse_error_message(ec, n));
  const json::value doc = p.release();
  return decode<T>(doc, std::max(decode_budget_floor, body.size() * decode_budget_factor));
}

/// Writes a T as JSON: empty optionals omitted, enums by name.
template <class T>
boost::json::value encode(const T& x) {
  boost::json::value v;
  json_detail::write(v, x);
  return v;
}

namespace json_detail {
template <class T>
inline constexpr bool opt_in = model<T> || described_enum<T>;

template <class T>
boost::json::result<T> try_value_to(const boost::json::value& v) {
  auto r = rest::decode<T>(v);
  if (!r) return boost::system::error_code(errc::invalid_response);
  return std::move(*r);
}
}  // namespace json_detail

}  // namespace intg::rest

/// Written once inside a namespace that declares models: boost::json::value_to<T>,
/// try_value_to<T> and value_from for the described structs and enums of that namespace (found by
/// argument-dependent lookup) use intg::rest's rules instead of Boost.JSON's strict built-in
/// conversion. value_to throws intg::exception (message and JSON path); try_value_to can only
/// return the code (errc::invalid_response): call intg::rest::decode for the path.
#define INTG_REST_MODELS()                                                                                         \
  template <class IntgRestModel_, std::enable_if_t<::intg::rest::json_detail::opt_in<IntgRestModel_>, int> = 0>    \
  IntgRestModel_ tag_invoke(::boost::json::value_to_tag<IntgRestModel_>, const ::boost::json::value& intg_v_) {   \
    return ::intg::rest::decode<IntgRestModel_>(intg_v_).value();                                                 \
  }                                                                                                                \
  template <class IntgRestModel_, std::enable_if_t<::intg::rest::json_detail::opt_in<IntgRestModel_>, int> = 0>    \
  ::boost::json::result<IntgRestModel_> tag_invoke(::boost::json::try_value_to_tag<IntgRestModel_>,               \
                                                   const ::boost::json::value& intg_v_) {                         \
    return ::intg::rest::json_detail::try_value_to<IntgRestModel_>(intg_v_);                                      \
  }                                                                                                                \
  template <class IntgRestModel_, std::enable_if_t<::intg::rest::json_detail::opt_in<IntgRestModel_>, int> = 0>    \
  void tag_invoke(::boost::json::value_from_tag, ::boost::json::value& intg_out_, const IntgRestModel_& intg_x_) { \
    intg_out_ = ::intg::rest::encode(intg_x_);                                                                     \
  }                                                                                                                \
  static_assert(true, "INTG_REST_MODELS() is followed by a semicolon")
