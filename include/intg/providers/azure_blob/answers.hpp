// Azure Blob Storage's XML answers read into values (element names from the Blob service REST
// reference): the error document and a List Blobs page; the Put Block List body and block ids;
// the HTTP dates Azure writes. Every reader checks the shape it needs and says what is missing;
// none quotes the answer back.
#pragma once

#include <intg/cloud/object_store.hpp>
#include <intg/core/error.hpp>
#include <intg/core/result.hpp>
#include <intg/rest/xml.hpp>
#include <intg/security/crypto/encoding.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace intg::azure_blob {

namespace xml = rest::xml;

/// An error document (`<Error><Code>..</Code><Message>..</Message></Error>`): the code and the
/// message's first line; the request id from the "RequestId:" line. Anything else (Azure's
/// AuthenticationErrorDetail repeats the signature it received) is never read.
struct error_document {
  std::string code{};
  std::string message{};
  std::string request_id{};
};

/// One List Blobs page.
struct list_result {
  std::vector<cloud::object_info> objects{};
  std::vector<std::string> prefixes{};
  std::string next_marker{};  ///< empty on the last page
};

namespace detail {

inline error bad_answer(std::string_view what, std::string_view why) {
  return error(errc::invalid_response, "azure blob: " + std::string(what) + " answer: " + std::string(why));
}

// A value that goes into messages and logs: cut, control characters blanked.
inline std::string clean(std::string_view v, std::size_t max = 300) {
  std::string s(v.substr(0, max));
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  return s;
}

inline int digits(std::string_view s, std::size_t at, std::size_t n) {
  int v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const char c = s[at + i];
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

}  // namespace detail

/// "Wed, 12 Oct 2009 17:50:00 GMT" (Last-Modified, and the dates of a listing).
inline std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view s) {
  using namespace std::chrono;
  static constexpr std::string_view months = "JanFebMarAprMayJunJulAugSepOctNovDec";
  if (s.size() != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[19] != ':' ||
      s[22] != ':' || s.substr(25) != " GMT")
    return std::nullopt;
  const auto m = months.find(s.substr(8, 3));
  if (m == std::string_view::npos || m % 3 != 0) return std::nullopt;
  const int y = detail::digits(s, 12, 4), d = detail::digits(s, 5, 2), h = detail::digits(s, 17, 2), mi = detail::digits(s, 20, 2),
            sec = detail::digits(s, 23, 2);
  // system_clock counts nanoseconds in 64 bits: it ends in 2262.
  if (y < 1970 || y > 2261 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60) return std::nullopt;
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(m / 3 + 1)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return std::nullopt;
  return system_clock::time_point(sys_days{ymd} + hours{h} + minutes{mi} + seconds{sec});
}

/// A decimal size; nullopt when it is not one or does not fit 64 bits.
inline std::optional<std::uint64_t> parse_size(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

/// An ETag without its quotes (Azure writes `"0x8DC1234567890AB"` in headers, bare in listings).
inline std::string unquote_etag(std::string_view e) {
  if (e.size() >= 2 && e.front() == '"' && e.back() == '"') e = e.substr(1, e.size() - 2);
  return std::string(e);
}

/// Reads an error document; nullopt when `body` is not one (empty, not XML, another root).
inline std::optional<error_document> parse_error(std::string_view body) {
  if (body.empty()) return std::nullopt;
  xml::limits l;
  l.max_bytes = 64 * 1024;  // an error document is small; a large "error" is not worth reading
  l.max_depth = 8;
  l.max_elements = 256;
  auto doc = xml::parse(body, l);
  if (!doc || doc->name != "Error") return std::nullopt;
  error_document e;
  e.code = detail::clean(doc->child_text("Code"), 100);
  // Azure appends "\nRequestId:...\nTime:..." to the message.
  std::string_view m = doc->child_text("Message");
  if (const auto at = m.find("\nRequestId:"); at != std::string_view::npos) {
    std::string_view id = m.substr(at + 11);
    e.request_id = detail::clean(id.substr(0, id.find('\n')), 100);
    m = m.substr(0, at);
  }
  e.message = detail::clean(m);
  return e;
}

/// Reads a List Blobs page (EnumerationResults): each Blob's Name, Content-Length, Etag,
/// Last-Modified and Content-MD5, each BlobPrefix's Name, and NextMarker.
inline result<list_result> parse_list(std::string_view body) {
  constexpr std::string_view what = "List Blobs";
  auto doc = xml::parse(body);
  if (!doc) return detail::bad_answer(what, doc.error().message());
  if (doc->name != "EnumerationResults") return detail::bad_answer(what, "the root element is not EnumerationResults");
  const xml::element* blobs = doc->child("Blobs");
  if (!blobs) return detail::bad_answer(what, "no Blobs element");
  list_result out;
  out.next_marker = std::string(doc->child_text("NextMarker"));
  for (const xml::element& b : blobs->children) {
    if (b.name == "BlobPrefix") {
      const xml::element* name = b.child("Name");
      if (!name || name->text.empty()) return detail::bad_answer(what, "a BlobPrefix has no Name");
      out.prefixes.push_back(name->text);
      continue;
    }
    if (b.name != "Blob") continue;
    cloud::object_info o;
    const xml::element* name = b.child("Name");
    if (!name || name->text.empty()) return detail::bad_answer(what, "a Blob has no Name");
    o.key = name->text;
    const xml::element* p = b.child("Properties");
    if (!p) return detail::bad_answer(what, "a Blob has no Properties");
    auto size = parse_size(p->child_text("Content-Length"));
    if (!size) return detail::bad_answer(what, "a Blob has no valid Content-Length");
    o.size = *size;
    o.etag = unquote_etag(p->child_text("Etag"));
    if (const auto* lm = p->child("Last-Modified")) {
      auto t = parse_http_date(lm->text);
      if (!t) return detail::bad_answer(what, "a Blob has an invalid Last-Modified");
      o.last_modified = *t;
    }
    o.checksums.md5 = std::string(p->child_text("Content-MD5"));
    out.objects.push_back(std::move(o));
  }
  return out;
}

/// The id of block `number` of an upload: base64 of "<nonce>-<number, 7 digits>", 24 bytes, so
/// every id of a blob has the same length (Azure requires it) and no '=' padding. The nonce (16
/// characters, random per upload) keeps two uploads to the same blob from mixing their blocks.
inline std::string block_id(std::string_view nonce, int number) {
  char n[16];
  std::snprintf(n, sizeof n, "%07d", number);
  return crypto::base64_encode(std::string(nonce.substr(0, 16)) + "-" + n);
}

/// The Put Block List body: every block as <Latest>, so that sending the same list again after
/// a lost answer commits the same blob (the blocks are found among the committed ones then).
inline std::string block_list_body(const std::vector<std::string>& ids) {
  std::string out = "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>";
  for (const auto& id : ids) {
    out += "<Latest>";
    out += xml::escape(id);
    out += "</Latest>";
  }
  out += "</BlockList>";
  return out;
}

}  // namespace intg::azure_blob
