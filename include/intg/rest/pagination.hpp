// intg::rest pagination strategies. A strategy is a stateless type: given a page (the request's
// URL, the response, its JSON body and its item count), it says where the next page is — a query
// parameter to set on the current URL, or a URL of its own — or that this was the last page. The
// client's pager follows it, refuses next links to another origin (our credentials must not
// leave the API), stops with an error on a repeated cursor, and honours a page cap.
#pragma once

#include <intg/core/error.hpp>
#include <intg/core/result.hpp>
#include <intg/http/message.hpp>
#include <intg/rest/errors.hpp>
#include <intg/rest/provider.hpp>

#include <boost/beast/core/string.hpp>
#include <boost/json/value.hpp>

#include <charconv>
#include <cstddef>
#include <string>
#include <string_view>

namespace intg::rest {

/// Stop after this many pages (the last page read need not be the API's last).
struct page_cap {
  std::size_t pages = 100;
};

/// What a strategy sees of a page.
struct page_view {
  const http::url& url;
  const http::response& response;
  const boost::json::value& body;
  std::size_t items;  ///< number of items on the page
};

/// Where the next page is.
struct next_page {
  bool done = true;
  std::string param{};  ///< set this query parameter on the current URL ...
  std::string value{};
  std::string url{};    ///< ... or fetch this URL (resolved against the current one)
  static next_page last() { return {}; }
  static next_page with_param(std::string_view p, std::string v) { return {false, std::string(p), std::move(v), {}}; }
  static next_page at(std::string u) { return {false, {}, {}, std::move(u)}; }
};

namespace detail {
inline std::string string_at(const boost::json::value& body, std::string_view ptr) {
  const auto* v = at(body, ptr);
  if (!v) return {};
  if (v->is_string()) return std::string(v->get_string());
  if (v->is_int64()) return std::to_string(v->get_int64());
  return {};
}
// The value of query parameter `name` in `u` (decoded), or empty.
inline std::string query_param(const http::url& u, std::string_view name) {
  auto pairs = http::query::parse(u.query_string());
  if (!pairs) return {};
  for (auto& [k, v] : *pairs)
    if (k == name) return v;
  return {};
}
inline long long number_or(std::string_view s, long long fallback) {
  long long n = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  return ec == std::errc{} && p == s.data() + s.size() && !s.empty() ? n : fallback;
}
}  // namespace detail

/// No pagination: one page.
struct no_pagination {
  static constexpr std::string_view items = "";
  static result<next_page> next(const page_view&) { return next_page::last(); }
};

/// A cursor in the body sent back as a parameter (Slack: `cursor_body<"/response_metadata/next_cursor",
/// "cursor">`). A missing or empty cursor ends the listing.
template <fixed_string CursorPointer, fixed_string Param, fixed_string Items = "">
struct cursor_body {
  static constexpr std::string_view items = Items.view();
  static result<next_page> next(const page_view& p) {
    auto c = detail::string_at(p.body, CursorPointer.view());
    if (c.empty()) return next_page::last();
    return next_page::with_param(Param.view(), std::move(c));
  }
};

/// A cursor in a response header sent back as a parameter.
template <fixed_string Header, fixed_string Param, fixed_string Items = "">
struct cursor_header {
  static constexpr std::string_view items = Items.view();
  static result<next_page> next(const page_view& p) {
    auto it = p.response.find(Header.view());
    if (it == p.response.end() || it->value().empty()) return next_page::last();
    return next_page::with_param(Param.view(), std::string(it->value()));
  }
};

/// RFC 8288 `Link: <https://api.example.com/items?page=3>; rel="next"` (GitHub).
template <fixed_string Items = "">
struct link_header {
  static constexpr std::string_view items = Items.view();
  static result<next_page> next(const page_view& p) {
    for (auto it = p.response.find(http::field::link); it != p.response.end() && it->name() == http::field::link; ++it) {
      std::string_view v = it->value();
      while (!v.empty()) {
        const auto open = v.find('<');
        if (open == std::string_view::npos) break;
        const auto close = v.find('>', open);
        if (close == std::string_view::npos) return error(errc::invalid_response, "pagination: malformed Link header");
        const std::string_view target = v.substr(open + 1, close - open - 1);
        const auto comma = v.find(',', close);
        const std::string_view params = v.substr(close + 1, comma == std::string_view::npos ? std::string_view::npos : comma - close - 1);
        // rel="next" or rel=next, among other parameters.
        for (std::size_t at = 0; (at = params.find("rel=", at)) != std::string_view::npos; at += 4) {
          std::string_view rel = params.substr(at + 4);
          if (!rel.empty() && rel.front() == '"') rel = rel.substr(1, rel.find('"', 1) - 1);
          else rel = rel.substr(0, rel.find_first_of(" ;,"));
          for (std::size_t s = 0; s <= rel.size();) {  // a space-separated list of relations
            const auto e = std::min(rel.find(' ', s), rel.size());
            if (boost::beast::iequals(rel.substr(s, e - s), "next")) return next_page::at(std::string(target));
            s = e + 1;
          }
        }
        if (comma == std::string_view::npos) break;
        v = v.substr(comma + 1);
      }
    }
    return next_page::last();
  }
};

/// The next page's URL in the body (Spotify: `next_url_body<"/next", "/items">`); null ends it.
template <fixed_string Pointer = "/next", fixed_string Items = "">
struct next_url_body {
  static constexpr std::string_view items = Items.view();
  static result<next_page> next(const page_view& p) {
    auto u = detail::string_at(p.body, Pointer.view());
    if (u.empty()) return next_page::last();
    return next_page::at(std::move(u));
  }
};

/// offset/limit: the next offset is this one plus the items received. Ends on an empty page, a
/// page shorter than the limit (when the request set one), or at `Total` (a body pointer) if given.
template <fixed_string Offset = "offset", fixed_string Limit = "limit", fixed_string Items = "", fixed_string Total = "">
struct offset_limit {
  static constexpr std::string_view items = Items.view();
  static result<next_page> next(const page_view& p) {
    if (p.items == 0) return next_page::last();
    const long long offset = detail::number_or(detail::query_param(p.url, Offset.view()), 0);
    const long long limit = detail::number_or(detail::query_param(p.url, Limit.view()), -1);
    if (limit > 0 && static_cast<long long>(p.items) < limit) return next_page::last();
    const long long next = offset + static_cast<long long>(p.items);
    if constexpr (!Total.view().empty()) {
      const auto* t = detail::at(p.body, Total.view());
      if (t && t->is_int64() && next >= t->get_int64()) return next_page::last();
    }
    return next_page::with_param(Offset.view(), std::to_string(next));
  }
};

/// page=1, 2, 3...: ends on an empty page, or at the page count the body gives at `TotalPages`
/// (a number or a numeric string: Last.fm's "/toptracks/@attr/totalPages" is "12").
template <fixed_string Param = "page", int Start = 1, fixed_string Items = "", fixed_string TotalPages = "">
struct page_number {
  static constexpr std::string_view items = Items.view();
  static result<next_page> next(const page_view& p) {
    if (p.items == 0) return next_page::last();
    const long long page = detail::number_or(detail::query_param(p.url, Param.view()), Start);
    if constexpr (!TotalPages.view().empty()) {
      const long long total = detail::number_or(detail::string_at(p.body, TotalPages.view()), -1);
      if (total >= 0 && page - Start + 1 >= total) return next_page::last();
    }
    return next_page::with_param(Param.view(), std::to_string(page + 1));
  }
};

/// Stripe: the items under `Items`, `HasMore` true while more follow, the next page asked for
/// with `Param` = the last item's `Id` (`after_last_id<"data", "has_more", "starting_after">`).
template <fixed_string Items = "data", fixed_string HasMore = "has_more", fixed_string Param = "starting_after",
          fixed_string Id = "id">
struct after_last_id {
  static constexpr std::string_view items = Items.view();
  static result<next_page> next(const page_view& p) {
    const auto* more = detail::at(p.body, HasMore.view());
    if (!more || !more->is_bool() || !more->get_bool()) return next_page::last();
    const auto* arr = detail::at(p.body, Items.view());
    if (!arr || !arr->is_array() || arr->get_array().empty())
      return error(errc::invalid_response, "pagination: has_more is true but the page is empty");
    auto id = detail::string_at(arr->get_array().back(), Id.view());
    if (id.empty()) return error(errc::invalid_response, "pagination: the last item has no " + std::string(Id.view()));
    return next_page::with_param(Param.view(), std::move(id));
  }
};

/// `u` with query parameter `name` set to `value` (replacing any previous value).
inline result<http::url> with_param(const http::url& u, std::string_view name, std::string_view value) {
  auto pairs = http::query::parse(u.query_string());
  if (!pairs) return pairs.error();
  http::query q;
  for (auto& [k, v] : *pairs)
    if (k != name) q.add(k, v);
  q.add(name, value);
  return http::url::parse(u.origin() + std::string(u.path()) + "?" + q.str());
}

}  // namespace intg::rest
