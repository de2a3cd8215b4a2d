// Azure Blob Storage's XML answers read into values (element names from the Blob service REST
// reference): the error document and a List Blobs page; the Put Block List body and block ids;
// the HTTP dates Azure writes. Every reader checks the shape it needs and says what is missing;
// none quotes the answer back.
#pragma once

#include <intg/cloud/formats.hpp>
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

using cloud::detail::clean;

}  // namespace detail

using cloud::parse_http_date;
using cloud::parse_size;
using cloud::unquote_etag;

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
