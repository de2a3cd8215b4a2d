// Amazon S3's XML answers read into values (element names from botocore's S3 model,
// service-2.json, API 2006-03-01): the error document, ListObjectsV2, CreateMultipartUpload,
// CompleteMultipartUpload, CopyObject and ListMultipartUploads; the CompleteMultipartUpload and
// CreateBucketConfiguration bodies; and the two date formats S3 writes. Every reader checks the
// shape it needs and says what is missing; none quotes the answer back.
#pragma once

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

inline int digits(std::string_view s, std::size_t at, std::size_t n) {
  if (at + n > s.size()) return -1;
  int v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const char c = s[at + i];
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

inline std::optional<std::chrono::system_clock::time_point> make_time(int y, int mo, int d, int h, int mi, int s) {
  using namespace std::chrono;
  // system_clock counts nanoseconds in 64 bits: it ends in 2262.
  if (y < 1970 || y > 2261 || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 60) return std::nullopt;
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (mo < 1 || d < 1 || !ymd.ok()) return std::nullopt;
  return system_clock::time_point(sys_days{ymd} + hours{h} + minutes{mi} + seconds{s});
}

}  // namespace detail

/// "2009-10-12T17:50:30.000Z" (ISO 8601 in UTC, as listings write it; fractions are dropped).
inline std::optional<std::chrono::system_clock::time_point> parse_iso8601(std::string_view s) {
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s.back() != 'Z')
    return std::nullopt;
  if (s.size() > 20) {
    if (s[19] != '.' || s.size() > 30) return std::nullopt;
    for (char c : s.substr(20, s.size() - 21))
      if (c < '0' || c > '9') return std::nullopt;
  }
  using detail::digits;
  return detail::make_time(digits(s, 0, 4), digits(s, 5, 2), digits(s, 8, 2), digits(s, 11, 2), digits(s, 14, 2),
                           digits(s, 17, 2));
}

/// "Wed, 12 Oct 2009 17:50:00 GMT" (an HTTP date, as Last-Modified headers write it).
inline std::optional<std::chrono::system_clock::time_point> parse_http_date(std::string_view s) {
  static constexpr std::string_view months = "JanFebMarAprMayJunJulAugSepOctNovDec";
  if (s.size() != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[19] != ':' ||
      s[22] != ':' || s.substr(25) != " GMT")
    return std::nullopt;
  const auto m = months.find(s.substr(8, 3));
  if (m == std::string_view::npos || m % 3 != 0) return std::nullopt;
  using detail::digits;
  return detail::make_time(digits(s, 12, 4), static_cast<int>(m / 3 + 1), digits(s, 5, 2), digits(s, 17, 2),
                           digits(s, 20, 2), digits(s, 23, 2));
}

/// A decimal size; nullopt when it is not one or does not fit 64 bits.
inline std::optional<std::uint64_t> parse_size(std::string_view s) {
  if (s.empty() || s.size() > 20) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    const std::uint64_t d = static_cast<std::uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

/// An ETag without its quotes (S3 writes `"9b2cf535f27731c974343645a3985328"`).
inline std::string unquote_etag(std::string_view e) {
  if (e.size() >= 2 && e.front() == '"' && e.back() == '"') e = e.substr(1, e.size() - 2);
  return std::string(e);
}

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
