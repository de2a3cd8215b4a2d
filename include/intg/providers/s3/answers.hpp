// Amazon S3's XML answers read into values (element names from botocore's S3 model,
// service-2.json, API 2006-03-01): the error document, ListObjectsV2, CreateMultipartUpload,
// CompleteMultipartUpload, CopyObject and ListMultipartUploads; the CompleteMultipartUpload and
// CreateBucketConfiguration bodies; and the two date formats S3 writes. Every reader checks the
// shape it needs and says what is missing; none quotes the answer back.
#pragma once

#include <intg/cloud/formats.hpp>
#include <intg/cloud/object_store.hpp>
#include <intg/core/error.hpp>
#include <intg/core/result.hpp>
#include <intg/http/url.hpp>
#include <intg/rest/xml.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace intg::s3 {

namespace xml = rest::xml;

/// The namespace S3 writes its documents in.
inline constexpr std::string_view xml_namespace = "http://s3.amazonaws.com/doc/2006-03-01/";

/// An S3 error document (`<Error><Code>..</Code><Message>..</Message>...</Error>`): the members
/// worth showing; the rest (StringToSign, CanonicalRequest, ...) are dropped.
struct error_document {
  std::string code{};
  std::string message{};
  std::string key{};
  std::string bucket{};
  std::string region{};     ///< a redirect's or a bad region's
  std::string endpoint{};   ///< PermanentRedirect's
  std::string request_id{};
};

/// One ListObjectsV2 page.
struct list_result {
  std::vector<cloud::object_info> objects{};
  std::vector<std::string> prefixes{};
  bool truncated = false;
  std::string next_token{};
};

/// CompleteMultipartUpload's answer.
struct complete_result {
  std::string etag{};
  std::string location{};
};

/// CopyObject's answer.
struct copy_result {
  std::string etag{};
  std::chrono::system_clock::time_point last_modified{};
};

/// A multipart upload in progress (ListMultipartUploads).
struct upload_entry {
  std::string key{};
  std::string upload_id{};
};

/// A part of a multipart upload, for the CompleteMultipartUpload body.
struct completed_part {
  int number = 0;
  std::string etag{};  ///< without quotes
};

namespace detail {

inline error bad_answer(std::string_view what, std::string_view why) {
  return error(errc::invalid_response, "s3: " + std::string(what) + " answer: " + std::string(why));
}

// The root element's name is not checked (S3 writes "ListBucketResult", moto "...Output"; botocore
// reads answers by member names), but an error document is not an answer.
inline std::optional<error> check_root(std::string_view what, const xml::element& root) {
  if (root.name == "Error") return bad_answer(what, "an error document where an answer was expected");
  return std::nullopt;
}

using cloud::detail::digits;
using cloud::detail::make_time;

}  // namespace detail

using cloud::parse_http_date;
using cloud::parse_iso8601;
using cloud::parse_size;
using cloud::unquote_etag;

/// Whether `body` is an S3 error document: its root element, after an optional XML declaration
/// and whitespace, is `<Error>`. S3 may answer CopyObject and CompleteMultipartUpload with a 200
/// whose body is one; a cheap look, before any parsing.
inline bool is_error_document(std::string_view body) {
  auto skip_space = [&] {
    while (!body.empty() && (body.front() == ' ' || body.front() == '\n' || body.front() == '\r' || body.front() == '\t'))
      body.remove_prefix(1);
  };
  skip_space();
  if (body.starts_with("<?xml")) {
    const auto end = body.find("?>");
    if (end == std::string_view::npos) return false;
    body.remove_prefix(end + 2);
    skip_space();
  }
  return body.starts_with("<Error>") || body.starts_with("<Error ");
}

/// Reads an error document; nullopt when `body` is not one (empty, not XML, another root).
/// Long or unprintable values are cut and blanked: they go into messages and logs.
inline std::optional<error_document> parse_error(std::string_view body) {
  if (body.empty()) return std::nullopt;
  xml::limits l;
  l.max_bytes = 64 * 1024;  // an error document is small; a large "error" is not worth reading
  l.max_depth = 8;
  l.max_elements = 256;
  auto doc = xml::parse(body, l);
  if (!doc || doc->name != "Error") return std::nullopt;
  auto clean = [](std::string_view v) {
    std::string s(v.substr(0, 300));
    for (char& c : s)
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
    return s;
  };
  error_document e;
  e.code = clean(doc->child_text("Code"));
  e.message = clean(doc->child_text("Message"));
  e.key = clean(doc->child_text("Key"));
  e.bucket = clean(doc->child_text("BucketName"));
  e.region = clean(doc->child_text("Region"));
  e.endpoint = clean(doc->child_text("Endpoint"));
  e.request_id = clean(doc->child_text("RequestId"));
  return e;
}

/// Reads a ListObjectsV2 page. With `<EncodingType>url</EncodingType>` (the client asks for it,
/// so that keys with characters XML 1.0 cannot carry can be listed) keys and prefixes are
/// URL-decoded, '+' as a space, as S3 writes them.
inline result<list_result> parse_list_v2(std::string_view body) {
  constexpr std::string_view what = "ListObjectsV2";
  auto doc = xml::parse(body);
  if (!doc) return detail::bad_answer(what, doc.error().message());
  if (auto bad = detail::check_root(what, *doc)) return *bad;
  const bool encoded = doc->child_text("EncodingType") == "url";
  auto text = [&](std::string_view v) -> result<std::string> {
    if (!encoded) return std::string(v);
    auto d = http::percent_decode(v, true);
    if (!d) return detail::bad_answer(what, "an invalid URL-encoded key or prefix");
    return d;
  };
  list_result out;
  const std::string_view truncated = doc->child_text("IsTruncated");
  if (truncated != "true" && truncated != "false") return detail::bad_answer(what, "IsTruncated is not true or false");
  out.truncated = truncated == "true";
  out.next_token = std::string(doc->child_text("NextContinuationToken"));
  if (out.truncated && out.next_token.empty()) return detail::bad_answer(what, "truncated without a NextContinuationToken");
  for (const xml::element* c : doc->all("Contents")) {
    cloud::object_info o;
    const xml::element* key = c->child("Key");
    if (!key) return detail::bad_answer(what, "an entry of Contents has no Key");
    auto k = text(key->text);
    if (!k) return k.error();
    o.key = std::move(*k);
    auto size = parse_size(c->child_text("Size"));
    if (!size) return detail::bad_answer(what, "an entry of Contents has no valid Size");
    o.size = *size;
    o.etag = unquote_etag(c->child_text("ETag"));
    if (const auto* lm = c->child("LastModified")) {
      auto t = parse_iso8601(lm->text);
      if (!t) return detail::bad_answer(what, "an entry of Contents has an invalid LastModified");
      o.last_modified = *t;
    }
    out.objects.push_back(std::move(o));
  }
  for (const xml::element* c : doc->all("CommonPrefixes")) {
    const xml::element* p = c->child("Prefix");
    if (!p) return detail::bad_answer(what, "an entry of CommonPrefixes has no Prefix");
    auto v = text(p->text);
    if (!v) return v.error();
    out.prefixes.push_back(std::move(*v));
  }
  return out;
}

/// CreateMultipartUpload's UploadId.
inline result<std::string> parse_initiate(std::string_view body) {
  constexpr std::string_view what = "CreateMultipartUpload";
  auto doc = xml::parse(body);
  if (!doc) return detail::bad_answer(what, doc.error().message());
  if (auto bad = detail::check_root(what, *doc)) return *bad;
  const std::string_view id = doc->child_text("UploadId");
  if (id.empty()) return detail::bad_answer(what, "no UploadId");
  for (unsigned char c : id)
    if (c <= 0x20 || c >= 0x7f) return detail::bad_answer(what, "the UploadId holds a space, control or non-ASCII character");
  return std::string(id);
}

inline result<complete_result> parse_complete(std::string_view body) {
  constexpr std::string_view what = "CompleteMultipartUpload";
  auto doc = xml::parse(body);
  if (!doc) return detail::bad_answer(what, doc.error().message());
  if (auto bad = detail::check_root(what, *doc)) return *bad;
  complete_result out;
  out.etag = unquote_etag(doc->child_text("ETag"));
  out.location = std::string(doc->child_text("Location"));
  if (out.etag.empty()) return detail::bad_answer(what, "no ETag");
  return out;
}

inline result<copy_result> parse_copy(std::string_view body) {
  constexpr std::string_view what = "CopyObject";
  auto doc = xml::parse(body);
  if (!doc) return detail::bad_answer(what, doc.error().message());
  if (auto bad = detail::check_root(what, *doc)) return *bad;
  copy_result out;
  out.etag = unquote_etag(doc->child_text("ETag"));
  if (out.etag.empty()) return detail::bad_answer(what, "no ETag");
  if (const auto* lm = doc->child("LastModified")) {
    auto t = parse_iso8601(lm->text);
    if (!t) return detail::bad_answer(what, "an invalid LastModified");
    out.last_modified = *t;
  }
  return out;
}

/// ListMultipartUploads (one page: up to 1,000 uploads).
inline result<std::vector<upload_entry>> parse_list_uploads(std::string_view body) {
  constexpr std::string_view what = "ListMultipartUploads";
  auto doc = xml::parse(body);
  if (!doc) return detail::bad_answer(what, doc.error().message());
  if (auto bad = detail::check_root(what, *doc)) return *bad;
  std::vector<upload_entry> out;
  for (const xml::element* u : doc->all("Upload")) {
    upload_entry e{std::string(u->child_text("Key")), std::string(u->child_text("UploadId"))};
    if (e.key.empty() || e.upload_id.empty()) return detail::bad_answer(what, "an Upload without Key or UploadId");
    out.push_back(std::move(e));
  }
  return out;
}

/// The CompleteMultipartUpload request body: the parts in order, with their ETags.
inline std::string complete_body(const std::vector<completed_part>& parts) {
  std::string out = "<CompleteMultipartUpload xmlns=\"" + std::string(xml_namespace) + "\">";
  for (const auto& p : parts) {
    out += "<Part><ETag>&quot;";
    out += xml::escape(p.etag);
    out += "&quot;</ETag><PartNumber>";
    out += std::to_string(p.number);
    out += "</PartNumber></Part>";
  }
  out += "</CompleteMultipartUpload>";
  return out;
}

/// The CreateBucket body outside us-east-1 (where a bucket is created without one).
inline std::string create_bucket_body(std::string_view region) {
  return "<CreateBucketConfiguration xmlns=\"" + std::string(xml_namespace) + "\"><LocationConstraint>" +
         xml::escape(region) + "</LocationConstraint></CreateBucketConfiguration>";
}

}  // namespace intg::s3
