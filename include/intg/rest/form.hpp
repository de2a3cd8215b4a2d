// Described structs as form bodies and query strings (application/x-www-form-urlencoded), with
// the nested keys Stripe and Rails-style APIs read: `metadata[order_id]=x`, `items[0][price]=p`,
// `expand[0]=a`. Member names follow rest/json.hpp (one trailing underscore dropped), empty
// optionals are omitted, bools are `true`/`false`, enums their names, numbers in the shortest form
// that reads back exactly. Brackets are percent-encoded like every other reserved character
// (`metadata%5Border_id%5D=x`, as the `qs` package Stripe's SDK uses writes them); servers decode
// them before reading the key.
#pragma once

#include <intg/http/url.hpp>
#include <intg/rest/json.hpp>

#include <boost/json/value.hpp>

#include <charconv>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace intg::rest {

namespace form_detail {

namespace json = boost::json;
using json_detail::is_integer_v;
using json_detail::is_optional;
using json_detail::is_string_map;
using json_detail::is_vector;
using json_detail::json_name;
using json_detail::members_of;

// Types a flat query string can hold: scalars, and optionals and vectors of scalars.
template <class T>
inline constexpr bool is_scalar_v = std::is_same_v<T, bool> || is_integer_v<T> || std::is_floating_point_v<T> ||
                                    std::is_same_v<T, std::string> || described_enum<T>;
template <class T>
struct is_flat : std::bool_constant<is_scalar_v<T>> {};
template <class T>
struct is_flat<std::optional<T>> : is_flat<T> {};
template <class T, class A>
struct is_flat<std::vector<T, A>> : std::bool_constant<is_scalar_v<T>> {};

template <class N>
void add_number(http::query& out, const std::string& key, N n) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, n);
  out.add(key, std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)));
}

// Appends "[part]" to key for the lifetime of the scope.
struct subkey {
  std::string& key;
  std::size_t size;
  subkey(std::string& k, std::string_view part) : key(k), size(k.size()) {
    key += '[';
    key += part;
    key += ']';
  }
  subkey(std::string& k, std::size_t index) : key(k), size(k.size()) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, index);
    key += '[';
    key.append(buf, r.ptr);
    key += ']';
  }
  ~subkey() { key.resize(size); }
  subkey(const subkey&) = delete;
  subkey& operator=(const subkey&) = delete;
};

inline void put_json(http::query& out, std::string& key, const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: out.add(key, ""); break;  // Stripe reads an empty value as "unset"
    case json::kind::bool_: out.add(key, v.get_bool() ? "true" : "false"); break;
    case json::kind::int64: add_number(out, key, v.get_int64()); break;
    case json::kind::uint64: add_number(out, key, v.get_uint64()); break;
    case json::kind::double_: add_number(out, key, v.get_double()); break;
    case json::kind::string: out.add(key, std::string_view(v.get_string().data(), v.get_string().size())); break;
    case json::kind::array: {
      const auto& a = v.get_array();
      for (std::size_t i = 0; i < a.size(); ++i) {
        subkey s(key, i);
        put_json(out, key, a[i]);
      }
      break;
    }
    case json::kind::object:
      for (const auto& kv : v.get_object()) {
        subkey s(key, std::string_view(kv.key().data(), kv.key().size()));
        put_json(out, key, kv.value());
      }
      break;
  }
}

template <class T>
void put(http::query& out, std::string& key, const T& x) {
  if constexpr (is_optional<T>::value) {
    if (x) put(out, key, *x);
  } else if constexpr (std::is_same_v<T, bool>) {
    out.add(key, x ? "true" : "false");
  } else if constexpr (is_integer_v<T> || std::is_floating_point_v<T>) {
    add_number(out, key, x);
  } else if constexpr (std::is_same_v<T, std::string>) {
    out.add(key, x);
  } else if constexpr (described_enum<T>) {
    const json::value v = rest::encode(x);
    put_json(out, key, v);
  } else if constexpr (model<T>) {
    boost::mp11::mp_for_each<members_of<T>>([&](auto d) {
      subkey s(key, json_detail::key_of<T>(d.name));
      put(out, key, x.*d.pointer);
    });
  } else if constexpr (is_vector<T>::value) {
    std::size_t i = 0;
    for (const auto& e : x) {
      subkey s(key, i++);
      put(out, key, static_cast<const typename T::value_type&>(e));
    }
  } else if constexpr (is_string_map<T>::value) {
    for (const auto& [k, e] : x) {
      subkey s(key, k);
      put(out, key, e);
    }
  } else if constexpr (std::is_same_v<T, json::value>) {
    put_json(out, key, x);
  } else if constexpr (std::is_same_v<T, json::object> || std::is_same_v<T, json::array>) {
    put_json(out, key, json::value(x));
  } else {
    static_assert(sizeof(T) == 0, "intg::rest::append_form: unsupported member type");
  }
}

}  // namespace form_detail

/// Appends the members of a described struct to a form body or query string, nested members as
/// `parent[child]`, vector elements as `name[i]`, map entries as `name[key]`, raw JSON the same
/// way (null as an empty value, which Stripe reads as "unset"). Empty optionals, vectors and maps
/// add nothing.
template <model T>
void append_form(http::query& out, const T& x) {
  std::string key;
  key.reserve(64);
  boost::mp11::mp_for_each<form_detail::members_of<T>>([&](auto d) {
    key.assign(json_detail::key_of<T>(d.name));
    form_detail::put(out, key, x.*d.pointer);
  });
}

/// append_form for query parameters, which are flat: every member must be a scalar (bool, number,
/// string, described enum), or a std::optional or std::vector of one (a vector's elements as
/// `name[i]`).
template <model T>
void append_query(http::query& out, const T& x) {
  boost::mp11::mp_for_each<form_detail::members_of<T>>([&](auto d) {
    using M = std::remove_cvref_t<decltype(x.*d.pointer)>;
    static_assert(form_detail::is_flat<M>::value,
                  "intg::rest::append_query: a query parameter must be a scalar (bool, number, std::string, "
                  "described enum) or a std::optional / std::vector of one; nested structs, maps and raw JSON "
                  "belong in a form body (rest::append_form)");
  });
  append_form(out, x);
}

}  // namespace intg::rest
