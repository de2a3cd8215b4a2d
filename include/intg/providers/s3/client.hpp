// intg::s3::client: Amazon S3 (and S3-compatible services) as an intg integration on the provider
// kit: buckets, objects (put with checksums, get and range get verified against S3's checksum,
// head, delete, copy), ListObjectsV2 as an async page range, presigned URLs, multipart uploads
// streamed from a source with parts in parallel, and streamed downloads in ranges. Every request
// is signed (SigV4) on every attempt and runs through the integration's pipeline; PUT, GET, HEAD
// and DELETE are retried where the policy says, POSTs (CreateMultipartUpload,
// CompleteMultipartUpload) never blindly. `client.bucket(name)` meets cloud::object_store.
#pragma once

#include <intg/cloud/formats.hpp>
#include <intg/cloud/object_store.hpp>
#include <intg/core/error.hpp>
#include <intg/core/integration.hpp>
#include <intg/core/integration_config.hpp>
#include <intg/core/registry.hpp>
#include <intg/core/result.hpp>
#include <intg/providers/s3/answers.hpp>
#include <intg/providers/s3/provider.hpp>
#include <intg/rest/client.hpp>
#include <intg/security/crypto/encoding.hpp>
#include <intg/security/crypto/hash.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace intg::s3 {

namespace asio = boost::asio;

/// S3's bounds on multipart uploads: parts of 5 MiB to 5 GiB (the last may be smaller), at most
/// 10,000 of them.
inline constexpr std::size_t min_part_size = std::size_t{5} << 20;
inline constexpr std::size_t max_part_size = std::size_t{5} << 30;
inline constexpr int max_parts = 10000;
/// Parts in flight at once, at most.
inline constexpr std::size_t max_parallel = 64;

template <class Pipeline> class basic_client;

namespace detail {

inline char lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

inline bool iequal_prefix(std::string_view s, std::string_view prefix) noexcept {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (lower(s[i]) != prefix[i]) return false;
  return true;
}

using cloud::detail::header;

// An ETag that is the MD5 of the content: a single-part object not encrypted with KMS or a
// customer key (S3's ETag is then something else).
inline bool etag_is_md5(const http::response& res, std::string_view etag) {
  if (etag.size() != 32) return false;
  for (char c : etag)
    if (crypto::detail::hex_value(c) < 0) return false;
  if (header(res, "x-amz-server-side-encryption").starts_with("aws:kms")) return false;
  return header(res, "x-amz-server-side-encryption-customer-algorithm").empty();
}

// What an object's GET or HEAD answer says about it.
inline cloud::object_info info_from(const http::response& res, std::string_view key) {
  cloud::object_info o;
  o.key = std::string(key);
  o.etag = unquote_etag(header(res, "ETag"));
  if (auto t = parse_http_date(header(res, "Last-Modified"))) o.last_modified = *t;
  o.content_type = std::string(header(res, "Content-Type"));
  const std::string_view range = header(res, "Content-Range");  // "bytes 0-9/1234"
  if (const auto slash = range.rfind('/'); range.starts_with("bytes ") && slash != std::string_view::npos) {
    if (auto total = parse_size(range.substr(slash + 1))) o.size = *total;
  } else if (auto len = parse_size(header(res, "Content-Length"))) {
    o.size = *len;
  }
  for (const auto& f : res) {
    const std::string_view name = f.name_string();
    if (!iequal_prefix(name, "x-amz-meta-")) continue;
    std::string n(name.substr(11));
    for (char& c : n) c = lower(c);
    o.metadata.emplace(std::move(n), std::string(f.value()));
  }
  // A composite checksum ("...-3", of a multipart object) is not the whole content's.
  if (const std::string_view sha = header(res, "x-amz-checksum-sha256"); !sha.empty() && sha.find('-') == std::string_view::npos)
    o.checksums.sha256 = std::string(sha);
  if (etag_is_md5(res, o.etag))
    if (auto raw = crypto::from_hex(o.etag)) o.checksums.md5 = crypto::base64_encode(*raw);
  return o;
}

// Content-Type and x-amz-meta-* of a put; names must be tokens, values printable ASCII (S3 keeps
// metadata in HTTP headers).
inline result<void> put_headers(http::request& req, const cloud::put_options& o) {
  for (unsigned char c : o.content_type)
    if (c < 0x20 || c >= 0x7f) return error(errc::invalid_argument, "s3: the content type holds a control or non-ASCII character");
  req.set(http::field::content_type, o.content_type.empty() ? std::string_view("application/octet-stream") : o.content_type);
  for (const auto& m : o.metadata) {
    if (m.name.empty()) return error(errc::invalid_argument, "s3: a metadata name is empty");
    for (unsigned char c : m.name)
      if (!(std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos))
        return error(errc::invalid_argument, "s3: metadata name " + std::string(m.name) + " is not an HTTP token");
    for (unsigned char c : m.value)
      if (c < 0x20 || c >= 0x7f)
        return error(errc::invalid_argument, "s3: the value of metadata " + std::string(m.name) + " holds a control or non-ASCII character");
    std::string name = "x-amz-meta-";
    name += m.name;
    req.set(name, m.value);
  }
  return {};
}

inline error integrity(std::string what) { return error(errc::integrity_violation, "s3: " + std::move(what)); }

// Checks a whole object's content against what S3 keeps: its full-object SHA-256 when S3 gave
// one, else its MD5 (the ETag of a single-part object).
inline result<void> verify(std::string_view bucket, std::string_view key, const cloud::checksums& want,
                           const std::array<std::uint8_t, 32>* sha, const std::array<std::uint8_t, 16>* md5) {
  if (!want.sha256.empty() && sha) {
    if (crypto::base64_encode(*sha) != want.sha256)
      return integrity("the content of s3://" + std::string(bucket) + "/" + std::string(key) +
                       " does not match its SHA-256 checksum (x-amz-checksum-sha256)");
  } else if (!want.md5.empty() && md5) {
    if (crypto::base64_encode(*md5) != want.md5)
      return integrity("the content of s3://" + std::string(bucket) + "/" + std::string(key) + " does not match its MD5 (the ETag)");
  }
  return {};
}

inline std::string range_header(std::uint64_t first, std::optional<std::uint64_t> last) {
  return "bytes=" + std::to_string(first) + "-" + (last ? std::to_string(*last) : std::string());
}

}  // namespace detail

/// ListObjectsV2 as an async range: `auto pages = s3.list_objects("b", opts); while (true) { auto
/// page = co_await pages.next(); ... }` gives result<optional<cloud::list_page>>, an empty
/// optional after the last page. The pager copies the options; the client must outlive it.
template <class Pipeline>
class object_pages {
 public:
  object_pages(basic_client<Pipeline>& c, std::string_view bucket, const cloud::list_options& o)
      : c_(&c), bucket_(bucket), prefix_(o.prefix), delimiter_(o.delimiter), start_after_(o.start_after), page_size_(o.page_size) {}

  asio::awaitable<result<std::optional<cloud::list_page>>> next() {
    using out = std::optional<cloud::list_page>;
    if (done_) co_return out{};
    if (page_size_ < 1 || page_size_ > 1000) co_return fail(error(errc::invalid_argument, "s3: list page_size must be 1 to 1000"));
    http::query q;
    q.add("list-type", "2");
    q.add("encoding-type", "url");
    q.add("max-keys", std::to_string(page_size_));
    if (!prefix_.empty()) q.add("prefix", prefix_);
    if (!delimiter_.empty()) q.add("delimiter", delimiter_);
    if (!start_after_.empty()) q.add("start-after", start_after_);
    if (!token_.empty()) q.add("continuation-token", token_);
    auto req = c_->make(http::verb::get, bucket_, {}, q.str());
    if (!req) co_return fail(req.error());
    auto ex = co_await c_->send(*req, "s3.list_objects_v2");
    if (!ex) co_return fail(ex.error());
    auto page = parse_list_v2(ex->response.body());
    if (!page) co_return fail(page.error());
    ++pages_;
    if (page->truncated) {
      if (!seen_.insert(page->next_token).second)
        co_return fail(error(errc::invalid_response, "s3: ListObjectsV2 sent the same continuation token twice (pagination loop)"));
      token_ = std::move(page->next_token);
    } else {
      done_ = true;
    }
    co_return out{cloud::list_page{std::move(page->objects), std::move(page->prefixes)}};
  }

  std::size_t pages_read() const noexcept { return pages_; }
  bool done() const noexcept { return done_; }

 private:
  error fail(error e) {
    done_ = true;
    return e;
  }
  basic_client<Pipeline>* c_;
  std::string bucket_, prefix_, delimiter_, start_after_;
  std::size_t page_size_;
  std::string token_;
  std::set<std::string> seen_;
  std::size_t pages_ = 0;
  bool done_ = false;
};

/// One bucket of a client, as a cloud::object_store. The client must outlive it.
template <class Pipeline>
class basic_bucket {
 public:
  basic_bucket(basic_client<Pipeline>& c, std::string name) : c_(&c), name_(std::move(name)) {}
  const std::string& name() const noexcept { return name_; }

  asio::awaitable<result<cloud::object_info>> put(std::string_view key, std::string_view body, const cloud::put_options& o = {}) {
    return c_->put_object(name_, key, body, o);
  }
  asio::awaitable<result<cloud::object_info>> put_stream(std::string_view key, cloud::byte_source src, const cloud::put_options& o = {}) {
    return c_->upload(name_, key, std::move(src), o);
  }
  asio::awaitable<result<cloud::object>> get(std::string_view key, const cloud::get_options& o = {}) {
    return c_->get_object(name_, key, o);
  }
  asio::awaitable<result<cloud::object_info>> get_stream(std::string_view key, cloud::byte_sink sink, const cloud::get_options& o = {}) {
    return c_->get_stream(name_, key, std::move(sink), o);
  }
  asio::awaitable<result<cloud::object_info>> head(std::string_view key) { return c_->head_object(name_, key); }
  asio::awaitable<result<void>> remove(std::string_view key) { return c_->delete_object(name_, key); }
  object_pages<Pipeline> list(const cloud::list_options& o = {}) { return c_->list_objects(name_, o); }

 private:
  basic_client<Pipeline>* c_;
  std::string name_;
};

/// The S3 client. Settings (per tenant): access_key_id, secret_access_key, session_token
/// (optional), region, base_url (optional: an endpoint other than https://s3.REGION.amazonaws.com,
/// whose host the deployment must allow), addressing (optional: "auto", "path" or "virtual").
template <class Pipeline = rest::default_pipeline>
class basic_client {
 public:
  using kit_type = rest::client<provider, Pipeline>;
  using pipeline_type = Pipeline;
  using bucket_type = basic_bucket<Pipeline>;

  basic_client(integration_config cfg, registry_services& services) : kit_(std::move(cfg), services) {}
  basic_client(integration_config cfg, registry_services& services, rest::client_options opts)
      : kit_(std::move(cfg), services, std::move(opts)) {}
  basic_client(integration_config cfg, asio::any_io_executor ex, std::shared_ptr<span_observer> calls = {},
               rest::client_options opts = {})
      : kit_(std::move(cfg), std::move(ex), std::move(calls), std::move(opts)) {}
  basic_client(integration_config cfg, asio::any_io_executor ex, rest::client_options opts)
      : kit_(std::move(cfg), std::move(ex), std::move(opts)) {}
  basic_client(integration_config cfg, asio::any_io_executor ex, Pipeline pipeline, rest::client_options opts = {})
      : kit_(std::move(cfg), std::move(ex), std::move(pipeline), std::move(opts)) {}
  basic_client(const basic_client&) = delete;
  basic_client& operator=(const basic_client&) = delete;

  // ---- the integration ----------------------------------------------------------------------
  std::string_view name() const noexcept { return kit_.name(); }
  static constexpr std::string_view category() noexcept { return kit_type::category(); }
  const integration_config& config() const noexcept { return kit_.config(); }
  boost::json::object describe() const { return kit_.describe(); }
  Pipeline& pipeline() noexcept { return kit_.pipeline(); }
  http::client& http() noexcept { return kit_.http(); }
  /// The provider kit's client underneath (base URL, limits, send()).
  kit_type& kit() noexcept { return kit_; }
  /// The SigV4 signer (credentials, region, clock).
  auth::sigv4::signer<"s3">& signer() noexcept { return kit_.auth().signer; }
  s3::addressing addressing() const noexcept { return addressing_; }

  /// Reads the settings (credentials, region, endpoint, addressing). No request is sent.
  asio::awaitable<result<void>> initialize() {
    ready_ = false;
    auto r = co_await kit_.initialize();
    if (!r) co_return r;
    addressing_ = s3::addressing::automatic;
    if (const auto* v = kit_.config().settings.if_contains("addressing")) {
      const std::string_view a = v->is_string() ? std::string_view(v->get_string()) : std::string_view{};
      if (a == "path") addressing_ = s3::addressing::path;
      else if (a == "virtual") addressing_ = s3::addressing::virtual_hosted;
      else if (a != "auto")
        co_return error(errc::config_error, "s3: settings.addressing must be \"auto\", \"path\" or \"virtual\"").with_json_path("$.settings.addressing");
    }
    const std::string_view p = kit_.base_url().path();
    base_path_ = p == "/" ? std::string() : std::string(p);
    ready_ = true;
    co_return result<void>{};
  }

  /// ListBuckets through the probe stack (see rest::client::health_check).
  asio::awaitable<health_report> health_check() { return kit_.health_check(); }
  asio::awaitable<void> cleanup() { return kit_.cleanup(); }

  /// A bucket as a cloud::object_store.
  bucket_type bucket(std::string_view name) { return bucket_type(*this, std::string(name)); }

  // ---- buckets ------------------------------------------------------------------------------

  /// CreateBucket in the client's region (a LocationConstraint outside us-east-1).
  asio::awaitable<result<void>> create_bucket(std::string_view bucket) {
    auto req = make(http::verb::put, bucket, {});
    if (!req) co_return req.error();
    if (signer().region != "us-east-1") req->body(create_bucket_body(signer().region), "application/xml");
    auto ex = co_await send(*req, "s3.create_bucket");
    if (!ex) co_return ex.error();
    co_return result<void>{};
  }

  /// DeleteBucket (it must be empty: BucketNotEmpty, condition conflict, otherwise).
  asio::awaitable<result<void>> delete_bucket(std::string_view bucket) {
    auto req = make(http::verb::delete_, bucket, {});
    if (!req) co_return req.error();
    auto ex = co_await send(*req, "s3.delete_bucket");
    if (!ex) co_return ex.error();
    co_return result<void>{};
  }

  // ---- objects ------------------------------------------------------------------------------

  /// PutObject of `body` (held in memory; see upload() for large or streamed content). With
  /// `checksum`, sends Content-MD5 and x-amz-checksum-sha256, which S3 checks before storing (and
  /// keeps, so that get_object() verifies what it reads), and checks that the ETag S3 answers is
  /// the MD5 of what was sent.
  asio::awaitable<result<cloud::object_info>> put_object(std::string_view bucket, std::string_view key, std::string_view body,
                                                         const cloud::put_options& o = {}) {
    if (auto k = check_key(key); !k) co_return k.error();
    auto req = make(http::verb::put, bucket, key);
    if (!req) co_return req.error();
    if (auto h = detail::put_headers(*req, o); !h) co_return h.error();
    const auto sha = crypto::sha256(body);
    std::array<std::uint8_t, 16> md5{};
    req->set("x-amz-content-sha256", crypto::to_hex(sha));  // the signed payload hash, computed once
    if (o.checksum) {
      md5 = crypto::md5(body);
      req->set(http::field::content_md5, crypto::base64_encode(md5));
      req->set("x-amz-checksum-sha256", crypto::base64_encode(sha));
      req->set("x-amz-sdk-checksum-algorithm", "SHA256");
    }
    req->message.body().assign(body.data(), body.size());
    auto ex = co_await send(*req, "s3.put_object");
    if (!ex) co_return ex.error();
    cloud::object_info info;
    info.key = std::string(key);
    info.size = body.size();
    info.etag = unquote_etag(detail::header(ex->response, "ETag"));
    if (auto t = parse_http_date(detail::header(ex->response, "Last-Modified"))) info.last_modified = *t;
    info.content_type = o.content_type.empty() ? std::string("application/octet-stream") : std::string(o.content_type);
    for (const auto& m : o.metadata) {
      std::string n(m.name);
      for (char& c : n) c = detail::lower(c);
      info.metadata.emplace(std::move(n), std::string(m.value));
    }
    if (o.checksum) {
      info.checksums.sha256 = crypto::base64_encode(sha);
      info.checksums.md5 = crypto::base64_encode(md5);
      if (detail::etag_is_md5(ex->response, info.etag) && info.etag != crypto::to_hex(md5))
        co_return detail::integrity("S3 answered ETag " + info.etag + " for s3://" + std::string(bucket) + "/" + std::string(key) +
                                    ", which is not the MD5 of what was sent");
    }
    co_return info;
  }

  /// GetObject into memory (up to provider::max_response_bytes; get_stream() for larger), or a
  /// range of it. A whole object is checked against its SHA-256 when S3 keeps one, else against
  /// its MD5 when the ETag is one (`verify`); a mismatch is errc::integrity_violation.
  asio::awaitable<result<cloud::object>> get_object(std::string_view bucket, std::string_view key, const cloud::get_options& o = {}) {
    if (auto k = check_key(key); !k) co_return k.error();
    auto req = make(http::verb::get, bucket, key);
    if (!req) co_return req.error();
    if (o.range) {
      if (o.range->last && *o.range->last < o.range->first)
        co_return error(errc::invalid_argument, "s3: a byte range must not end before it starts");
      req->set(http::field::range, detail::range_header(o.range->first, o.range->last));
    } else if (o.verify) {
      req->set("x-amz-checksum-mode", "ENABLED");  // S3 then answers the checksum it keeps
    }
    auto ex = co_await send(*req, "s3.get_object");
    if (!ex) co_return ex.error();
    cloud::object obj;
    obj.info = detail::info_from(ex->response, key);
    obj.body = std::move(ex->response.body());
    if (!o.range) obj.info.size = obj.body.size();
    if (o.verify && !o.range) {
      const auto sha = obj.info.checksums.sha256.empty() ? std::array<std::uint8_t, 32>{} : crypto::sha256(obj.body);
      const auto md5 = obj.info.checksums.md5.empty() ? std::array<std::uint8_t, 16>{} : crypto::md5(obj.body);
      if (auto v = detail::verify(bucket, key, obj.info.checksums, &sha, &md5); !v) co_return v.error();
    }
    co_return obj;
  }

  /// HeadObject: size, ETag, type, metadata and the checksums S3 keeps.
  asio::awaitable<result<cloud::object_info>> head_object(std::string_view bucket, std::string_view key) {
    if (auto k = check_key(key); !k) co_return k.error();
    auto req = make(http::verb::head, bucket, key);
    if (!req) co_return req.error();
    req->set("x-amz-checksum-mode", "ENABLED");
    auto ex = co_await send(*req, "s3.head_object");
    if (!ex) co_return ex.error();
    co_return detail::info_from(ex->response, key);
  }

  /// DeleteObject (S3 answers 204 whether the key existed or not).
  asio::awaitable<result<void>> delete_object(std::string_view bucket, std::string_view key) {
    if (auto k = check_key(key); !k) co_return k.error();
    auto req = make(http::verb::delete_, bucket, key);
    if (!req) co_return req.error();
    auto ex = co_await send(*req, "s3.delete_object");
    if (!ex) co_return ex.error();
    co_return result<void>{};
  }

  /// CopyObject within S3 (up to 5 GiB), metadata copied. The answer's key, ETag and time.
  asio::awaitable<result<cloud::object_info>> copy_object(std::string_view src_bucket, std::string_view src_key,
                                                          std::string_view dst_bucket, std::string_view dst_key) {
    if (auto k = check_key(src_key); !k) co_return k.error();
    if (auto k = check_key(dst_key); !k) co_return k.error();
    if (auto b = check_bucket(src_bucket); !b) co_return b.error();
    auto req = make(http::verb::put, dst_bucket, dst_key);
    if (!req) co_return req.error();
    std::string source = "/";
    source += src_bucket;
    source += '/';
    source += encode_key(src_key);
    req->set("x-amz-copy-source", source);
    auto ex = co_await send(*req, "s3.copy_object");
    if (!ex) co_return ex.error();
    auto c = parse_copy(ex->response.body());
    if (!c) co_return c.error();
    cloud::object_info info;
    info.key = std::string(dst_key);
    info.etag = std::move(c->etag);
    info.last_modified = c->last_modified;
    co_return info;
  }

  /// ListObjectsV2, page by page.
  object_pages<Pipeline> list_objects(std::string_view bucket, const cloud::list_options& o = {}) {
    return object_pages<Pipeline>(*this, bucket, o);
  }

  // ---- presigned URLs -----------------------------------------------------------------------

  /// A presigned URL for `method` (GET, PUT, HEAD, DELETE) on the object, valid for `expires` (1 s
  /// to 7 days). Anyone holding it may use it until then: treat it as a credential. For a PUT with
  /// `content_type`, the uploader must send that Content-Type (it is signed).
  result<std::string> presign(http::verb method, std::string_view bucket, std::string_view key, std::chrono::seconds expires,
                              std::string_view content_type = {}) {
    if (auto k = check_key(key); !k) return k.error();
    auto req = make(method, bucket, key);
    if (!req) return req.error();
    if (!content_type.empty()) req->set(http::field::content_type, content_type);
    return signer().presign(*req, expires);
  }
  result<std::string> presign_get(std::string_view bucket, std::string_view key, std::chrono::seconds expires) {
    return presign(http::verb::get, bucket, key, expires);
  }
  result<std::string> presign_put(std::string_view bucket, std::string_view key, std::chrono::seconds expires,
                                  std::string_view content_type = {}) {
    return presign(http::verb::put, bucket, key, expires, content_type);
  }

  // ---- streamed transfers -------------------------------------------------------------------

  /// Stores what `source` reads under `key` without holding it all: content shorter than one part
  /// goes in one PutObject; longer content in a multipart upload of `part_size` parts (5 MiB to
  /// 5 GiB), up to `parallel` in flight, so at most `parallel` parts are in memory at once. Each
  /// part carries Content-MD5 (with `checksum`) and its signed SHA-256, and its ETag is checked;
  /// the ETag of the assembled object must be the one its parts make. On any failure (a part, the
  /// source) the upload is aborted (AbortMultipartUpload) and the first error returned.
  /// CompleteMultipartUpload is never sent twice: when its outcome is unknown, a HeadObject tells
  /// whether the object with the expected ETag is there.
  asio::awaitable<result<cloud::object_info>> upload(std::string_view bucket, std::string_view key, cloud::byte_source source,
                                                     const cloud::put_options& o = {}) {
    if (auto k = check_key(key); !k) co_return k.error();
    if (auto b = check_bucket(bucket); !b) co_return b.error();
    if (!ready_) co_return error(errc::not_initialized, "s3: initialize() first");
    if (!source) co_return error(errc::invalid_argument, "s3: upload without a source");
    if (o.part_size < min_part_size || o.part_size > max_part_size)
      co_return error(errc::invalid_argument, "s3: part_size must be 5 MiB to 5 GiB (" + std::to_string(o.part_size) + ")");
    if (o.parallel < 1 || o.parallel > max_parallel) co_return error(errc::invalid_argument, "s3: parallel must be 1 to 64");
    std::string first;
    if (auto f = co_await fill(source, first, o.part_size); !f) co_return f.error();
    if (first.size() < o.part_size) co_return co_await put_object(bucket, key, first, o);

    auto id = co_await create_upload(bucket, key, o);
    if (!id) co_return id.error();
    const auto ex = co_await asio::this_coro::executor;
    auto st = std::make_shared<upload_state>(ex);
    const std::string b(bucket), k(key);
    std::string part = std::move(first);
    for (int number = 1;; ++number) {
      if (number > max_parts) {
        st->fail(error(errc::invalid_argument, "s3: the content needs more than 10,000 parts of " + std::to_string(o.part_size) +
                                                   " bytes: raise part_size"));
        break;
      }
      st->parts.resize(static_cast<std::size_t>(number));
      st->bytes += part.size();
      ++st->in_flight;
      asio::co_spawn(ex, upload_part(b, k, *id, number, std::move(part), o.checksum, st), [st](std::exception_ptr e) {
        if (e) st->fail(error(errc::invalid_response, "s3: a part upload failed with an exception"));
        --st->in_flight;
        st->wake.cancel();
      });
      // At most `parallel` parts in memory: wait for a free slot before reading the next one.
      while (st->in_flight >= o.parallel && !st->failure) co_await st->wait();
      if (st->failure) break;
      part = st->buffer();
      if (auto f = co_await fill(source, part, o.part_size); !f) {
        st->fail(f.error());
        break;
      }
      if (part.empty()) break;
    }
    while (st->in_flight > 0) co_await st->wait();
    if (st->failure) co_return co_await abandon(b, k, *id, *st->failure);
    co_return co_await complete(b, k, *id, *st, o);
  }

  /// GetObject a part at a time (`part_size` bytes per ranged request), each handed to `sink` in
  /// order: HeadObject first (size, ETag, checksums), then ranged GETs that must match that ETag
  /// (If-Match: an object replaced meanwhile is an error, not a mix of two versions). A whole
  /// object is checked as get_object() checks it, after the last part reached the sink.
  asio::awaitable<result<cloud::object_info>> get_stream(std::string_view bucket, std::string_view key, cloud::byte_sink sink,
                                                         const cloud::get_options& o = {}) {
    if (!sink) co_return error(errc::invalid_argument, "s3: get_stream without a sink");
    if (o.part_size < 64 * 1024 || o.part_size > provider::max_response_bytes)
      co_return error(errc::invalid_argument, "s3: part_size for downloads must be 64 KiB to 64 MiB");
    auto head = co_await head_object(bucket, key);
    if (!head) co_return head.error();
    cloud::object_info info = std::move(*head);
    std::uint64_t first = 0, last = info.size ? info.size - 1 : 0;
    if (o.range) {
      if (o.range->first >= info.size) co_return error(errc::invalid_argument, "s3: the byte range starts past the object's end");
      first = o.range->first;
      if (o.range->last) {
        if (*o.range->last < first) co_return error(errc::invalid_argument, "s3: a byte range must not end before it starts");
        last = std::min(*o.range->last, last);
      }
    }
    const bool verify = o.verify && !o.range;
    crypto::sha256_hasher sha;
    crypto::md5_hasher md5;
    const std::string if_match = "\"" + info.etag + "\"";
    for (std::uint64_t at = first; info.size > 0 && at <= last;) {
      const std::uint64_t end = std::min<std::uint64_t>(at + o.part_size - 1, last);
      auto req = make(http::verb::get, bucket, key);
      if (!req) co_return req.error();
      req->set(http::field::range, detail::range_header(at, end));
      if (!info.etag.empty()) req->set(http::field::if_match, if_match);
      auto ex = co_await send(*req, "s3.get_object");
      if (!ex) co_return ex.error();
      const std::string& body = ex->response.body();
      if (body.size() != end - at + 1)
        co_return error(errc::invalid_response, "s3: a ranged GET answered " + std::to_string(body.size()) + " bytes instead of " +
                                                    std::to_string(end - at + 1));
      if (verify) {
        if (!info.checksums.sha256.empty()) sha.update(body);
        else if (!info.checksums.md5.empty()) md5.update(body);
      }
      if (auto w = co_await sink(body); !w) co_return w.error();
      at = end + 1;
    }
    if (verify) {
      const auto s = info.checksums.sha256.empty() ? std::array<std::uint8_t, 32>{} : sha.finish();
      const auto m = info.checksums.md5.empty() ? std::array<std::uint8_t, 16>{} : md5.finish();
      if (auto v = detail::verify(bucket, key, info.checksums, &s, &m); !v) co_return v.error();
    }
    co_return info;
  }

  // ---- multipart housekeeping ---------------------------------------------------------------

  /// ListMultipartUploads: uploads begun and neither completed nor aborted (first 1,000).
  asio::awaitable<result<std::vector<upload_entry>>> list_uploads(std::string_view bucket) {
    auto req = make(http::verb::get, bucket, {}, "uploads");
    if (!req) co_return req.error();
    auto ex = co_await send(*req, "s3.list_multipart_uploads");
    if (!ex) co_return ex.error();
    co_return parse_list_uploads(ex->response.body());
  }

  /// AbortMultipartUpload: drops the parts stored so far.
  asio::awaitable<result<void>> abort_upload(std::string_view bucket, std::string_view key, std::string_view upload_id) {
    if (auto k = check_key(key); !k) co_return k.error();
    http::query q{{"uploadId", upload_id}};
    auto req = make(http::verb::delete_, bucket, key, q.str());
    if (!req) co_return req.error();
    auto ex = co_await send(*req, "s3.abort_multipart_upload");
    if (!ex) co_return ex.error();
    co_return result<void>{};
  }

 private:
  template <class P> friend class object_pages;

  // The parallel parts, and what the completion needs of them.
  struct upload_state : cloud::detail::parts_in_flight {
    using parts_in_flight::parts_in_flight;
    std::vector<completed_part> parts;
  };

  result<http::request> make(http::verb method, std::string_view bucket, std::string_view key, std::string_view query = {}) const {
    if (!ready_) return error(errc::not_initialized, "s3: initialize() first");
    auto u = object_url(kit_.base_url(), base_path_, addressing_, bucket, key, query);
    if (!u) return u.error();
    return http::request(method, std::move(*u));
  }

  asio::awaitable<result<rest::exchange>> send(http::request& req, std::string_view operation) {
    return kit_.send(req, operation);
  }

  // Reads up to `size` bytes from the source (fewer only at its end).
  static asio::awaitable<result<void>> fill(cloud::byte_source& source, std::string& buf, std::size_t size) {
    return cloud::detail::fill_part(source, buf, size, "s3");
  }

  asio::awaitable<result<std::string>> create_upload(std::string_view bucket, std::string_view key, const cloud::put_options& o) {
    auto req = make(http::verb::post, bucket, key, "uploads");
    if (!req) co_return req.error();
    if (auto h = detail::put_headers(*req, o); !h) co_return h.error();
    auto ex = co_await send(*req, "s3.create_multipart_upload");
    if (!ex) co_return ex.error();
    co_return parse_initiate(ex->response.body());
  }

  asio::awaitable<void> upload_part(std::string bucket, std::string key, std::string upload_id, int number, std::string body,
                                    bool checksum, std::shared_ptr<upload_state> st) {
    const std::string n = std::to_string(number);
    http::query q{{"partNumber", n}, {"uploadId", upload_id}};
    auto req = make(http::verb::put, bucket, key, q.str());
    if (!req) {
      st->fail(req.error());
      co_return;
    }
    const auto md5 = crypto::md5(body);
    req->set("x-amz-content-sha256", crypto::to_hex(crypto::sha256(body)));
    if (checksum) req->set(http::field::content_md5, crypto::base64_encode(md5));
    req->message.body() = std::move(body);
    // However this part ends, its buffer goes back to the upload for a later part.
    struct give_back {
      upload_state& st;
      http::request& r;
      ~give_back() { st.give_back(std::move(r.message.body())); }
    } recycle{*st, *req};
    auto ex = co_await send(*req, "s3.upload_part");
    if (!ex) {
      st->fail(ex.error());
      co_return;
    }
    std::string etag = unquote_etag(detail::header(ex->response, "ETag"));
    if (etag.empty()) {
      st->fail(error(errc::invalid_response, "s3: UploadPart answered without an ETag (part " + n + ")"));
      co_return;
    }
    if (detail::etag_is_md5(ex->response, etag) && etag != crypto::to_hex(md5)) {
      st->fail(detail::integrity("part " + n + " was stored with ETag " + etag + ", which is not the MD5 of what was sent"));
      co_return;
    }
    st->parts[static_cast<std::size_t>(number - 1)] = completed_part{number, std::move(etag)};
  }

  // The ETag S3 gives an object assembled from these parts: the MD5 of their MD5s, "-", their
  // count. Empty when a part's ETag is not an MD5 (KMS encryption).
  static std::string assembled_etag(const std::vector<completed_part>& parts) {
    std::string md5s;
    for (const auto& p : parts) {
      if (p.etag.size() != 32) return {};
      auto raw = crypto::from_hex(p.etag);
      if (!raw) return {};
      md5s += *raw;
    }
    return crypto::to_hex(crypto::md5(md5s)) + "-" + std::to_string(parts.size());
  }

  asio::awaitable<result<cloud::object_info>> complete(const std::string& bucket, const std::string& key, const std::string& id,
                                                       const upload_state& st, const cloud::put_options& o) {
    const std::string expected = assembled_etag(st.parts);
    cloud::object_info info;
    info.key = key;
    info.size = st.bytes;
    info.content_type = o.content_type.empty() ? std::string("application/octet-stream") : std::string(o.content_type);
    for (const auto& m : o.metadata) {
      std::string n(m.name);
      for (char& c : n) c = detail::lower(c);
      info.metadata.emplace(std::move(n), std::string(m.value));
    }
    http::query q{{"uploadId", id}};
    auto req = make(http::verb::post, bucket, key, q.str());
    if (!req) co_return co_await abandon(bucket, key, id, req.error());
    req->body(complete_body(st.parts), "application/xml");
    auto ex = co_await send(*req, "s3.complete_multipart_upload");
    if (!ex) {
      // Not sent again: a HeadObject tells whether it took effect (the object with the ETag its
      // parts make is there).
      if (!expected.empty() && (ex.error() == condition::outcome_unknown || is_transient(ex.error()))) {
        auto there = co_await head_object(bucket, key);
        if (there && there->etag == expected) co_return std::move(*there);
      }
      co_return co_await abandon(bucket, key, id, ex.error());
    }
    auto done = parse_complete(ex->response.body());
    if (!done) co_return done.error();
    if (!expected.empty() && done->etag != expected)
      co_return detail::integrity("s3://" + bucket + "/" + key + " was assembled with ETag " + done->etag + ", not " + expected +
                                  " as its parts make");
    info.etag = std::move(done->etag);
    co_return info;
  }

  // Aborts the upload after `cause`, which is the error returned (saying so if the abort failed too).
  asio::awaitable<result<cloud::object_info>> abandon(const std::string& bucket, const std::string& key, const std::string& id, error cause) {
    auto aborted = co_await abort_upload(bucket, key, id);
    if (!aborted) {
      const std::string why = aborted.error().to_string();
      std::string m(cause.message());
      cause.with_message(m + " (and AbortMultipartUpload of upload " + id + " failed too: " + why + ")");
    }
    co_return cause;
  }

  kit_type kit_;
  s3::addressing addressing_ = s3::addressing::automatic;
  std::string base_path_;
  bool ready_ = false;
};

using client = basic_client<>;
using bucket = basic_bucket<rest::default_pipeline>;

static_assert(intg::integration<client>);
static_assert(cloud::object_store<bucket>);

}  // namespace intg::s3
