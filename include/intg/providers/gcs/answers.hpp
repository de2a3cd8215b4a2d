// Google Cloud Storage's JSON answers read into values (member names from the Cloud Storage JSON
// API's discovery document, storage/v1): the Object resource, a page of objects.list, and
// Google's error document. Every reader checks the type of each member it reads and says which
// one is wrong; none quotes the answer back. Sizes and generations are JSON strings (int64 and
// uint64 travel as strings in Google's JSON), checked to be decimal.
#pragma once

#include <intg/cloud/formats.hpp>
#include <intg/cloud/object_store.hpp>
#include <intg/core/error.hpp>
#include <intg/core/result.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace intg::gcs {

/// An object as the Object resource describes it: what cloud::object_info holds, and the
/// generation (the object's version: conditions on it keep a streamed read to one version).
struct object_resource {
  cloud::object_info info{};
  std::string generation{};
  std::string crc32c{};  ///< base64 of the big-endian CRC32C, as Google writes it
};

/// One page of objects.list.
struct list_result {
  std::vector<cloud::object_info> objects{};
  std::vector<std::string> prefixes{};
  std::string next_page_token{};  ///< empty on the last page
};

/// Google's error document, `{"error": {"code": 404, "message": "...", "errors": [{"reason":
/// "notFound", ...}]}}`: the first reason and the message.
struct error_document {
  int code = 0;
  std::string reason{};
  std::string message{};
};

namespace detail {

using cloud::detail::clean;

inline error bad_answer(std::string_view what, std::string_view why) {
  return error(errc::invalid_response, "gcs: " + std::string(what) + " answer: " + std::string(why));
}

// Parses `body` as a JSON object (at most 32 levels deep).
inline result<boost::json::object> parse_object_json(std::string_view body, std::string_view what) {
  boost::json::parse_options po;
  po.max_depth = 32;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(boost::json::string_view(body.data(), body.size()), ec, {}, po);
  if (ec) return bad_answer(what, "not JSON (" + ec.message() + ")");
  if (!v.is_object()) return bad_answer(what, "not a JSON object");
  return std::move(v.get_object());
}

// A string member: nullopt when absent, an error when it is not a string.
inline result<std::optional<std::string_view>> string_member(const boost::json::object& o, std::string_view name, std::string_view what) {
  const auto* v = o.if_contains(name);
  if (!v || v->is_null()) return std::optional<std::string_view>{};
  if (!v->is_string()) return bad_answer(what, "member " + std::string(name) + " is not a string");
  return std::optional<std::string_view>(std::string_view(v->get_string()));
}

}  // namespace detail

/// Reads an Object resource (already parsed).
inline result<object_resource> read_object(const boost::json::object& o, std::string_view what = "object") {
  object_resource r;
  auto text = [&](std::string_view name, std::string& out) -> result<void> {
    auto s = detail::string_member(o, name, what);
    if (!s) return s.error();
    if (*s) out = std::string(**s);
    return {};
  };
  if (auto n = text("name", r.info.key); !n) return n.error();
  if (r.info.key.empty()) return detail::bad_answer(what, "an object without a name");
  std::string size, updated;
  for (auto [name, out] : {std::pair<std::string_view, std::string*>{"size", &size}, {"updated", &updated},
                           {"etag", &r.info.etag}, {"contentType", &r.info.content_type}, {"md5Hash", &r.info.checksums.md5},
                           {"generation", &r.generation}, {"crc32c", &r.crc32c}})
    if (auto t = text(name, *out); !t) return t.error();
  if (!size.empty()) {
    auto n = cloud::parse_size(size);
    if (!n) return detail::bad_answer(what, "size is not a decimal number of bytes");
    r.info.size = *n;
  }
  if (!r.generation.empty() && !cloud::parse_size(r.generation)) return detail::bad_answer(what, "generation is not a decimal number");
  if (!updated.empty()) {
    auto t = cloud::parse_iso8601(updated);
    if (!t) return detail::bad_answer(what, "updated is not an RFC 3339 time in UTC");
    r.info.last_modified = *t;
  }
  if (const auto* m = o.if_contains("metadata"); m && !m->is_null()) {
    if (!m->is_object()) return detail::bad_answer(what, "metadata is not an object");
    for (const auto& [k, v] : m->get_object()) {
      if (!v.is_string()) return detail::bad_answer(what, "a metadata value is not a string");
      std::string key(k.data(), k.size());
      for (char& c : key)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
      r.info.metadata.emplace(std::move(key), std::string(v.get_string()));
    }
  }
  return r;
}

/// Reads an Object resource from an answer's body.
inline result<object_resource> parse_object(std::string_view body, std::string_view what = "object") {
  auto o = detail::parse_object_json(body, what);
  if (!o) return o.error();
  return read_object(*o, what);
}

/// Reads a page of objects.list: items (Object resources), prefixes, nextPageToken.
inline result<list_result> parse_list(std::string_view body) {
  constexpr std::string_view what = "objects.list";
  auto o = detail::parse_object_json(body, what);
  if (!o) return o.error();
  list_result page;
  if (const auto* items = o->if_contains("items"); items && !items->is_null()) {
    if (!items->is_array()) return detail::bad_answer(what, "items is not an array");
    for (const auto& item : items->get_array()) {
      if (!item.is_object()) return detail::bad_answer(what, "an item is not an object");
      auto r = read_object(item.get_object(), what);
      if (!r) return r.error();
      page.objects.push_back(std::move(r->info));
    }
  }
  if (const auto* pre = o->if_contains("prefixes"); pre && !pre->is_null()) {
    if (!pre->is_array()) return detail::bad_answer(what, "prefixes is not an array");
    for (const auto& p : pre->get_array()) {
      if (!p.is_string()) return detail::bad_answer(what, "a prefix is not a string");
      page.prefixes.emplace_back(p.get_string());
    }
  }
  auto token = detail::string_member(*o, "nextPageToken", what);
  if (!token) return token.error();
  if (*token) page.next_page_token = std::string(**token);
  return page;
}

/// Reads Google's error document; nullopt when `body` is not one.
inline std::optional<error_document> parse_error(std::string_view body) {
  if (body.empty() || body.size() > 64 * 1024) return std::nullopt;  // an error document is small
  auto o = detail::parse_object_json(body, "error");
  if (!o) return std::nullopt;
  const auto* e = o->if_contains("error");
  if (!e || !e->is_object()) return std::nullopt;
  const auto& err = e->get_object();
  error_document d;
  if (const auto* c = err.if_contains("code"); c && c->is_int64()) d.code = static_cast<int>(c->get_int64());
  if (const auto* m = err.if_contains("message"); m && m->is_string()) d.message = detail::clean(m->get_string(), 300);
  if (const auto* list = err.if_contains("errors"); list && list->is_array() && !list->get_array().empty())
    if (const auto* first = list->get_array().front().if_object())
      if (const auto* r = first->if_contains("reason"); r && r->is_string()) d.reason = detail::clean(r->get_string(), 100);
  return d;
}

/// The MD5 in an `x-goog-hash` header ("crc32c=n03x6A==,md5=Ojk9c3dhfxgoKVVHYwFbHQ=="; Google
/// sends one header per hash or both in one); empty when there is none.
inline std::string md5_of_hash_header(std::string_view v) {
  while (!v.empty()) {
    const auto comma = v.find(',');
    std::string_view item = v.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    if (item.starts_with("md5=")) return std::string(item.substr(4));
    if (comma == std::string_view::npos) break;
    v.remove_prefix(comma + 1);
  }
  return {};
}

}  // namespace intg::gcs
