// intg::gcs::client: Google Cloud Storage's JSON API as an intg integration on the provider kit:
// buckets; uploads simple (the bytes only), multipart (metadata and bytes in one request, with the
// MD5 Google checks before storing) and resumable (streamed in chunks from a byte_source without
// holding the object, each chunk resent where Google did not keep it); reads whole, by range and
// streamed (verified against the MD5 Google keeps); the Object resource; objects.list as an async
// page range; delete. Every request carries an OAuth 2.0 access token (a service account's key or
// the metadata server) and runs through the integration's pipeline. `client.bucket(name)` meets
// cloud::object_store.
//
// What may be sent twice: GET, PUT and DELETE, and the POST that opens a resumable upload (a
// session alone stores nothing). A simple or multipart upload is a POST that stores an object:
// after a 5xx or a lost answer it is not sent again (errc::outcome_unknown; head_object() tells).
#pragma once

#include <intg/cloud/formats.hpp>
#include <intg/cloud/object_store.hpp>
#include <intg/core/error.hpp>
#include <intg/core/integration.hpp>
#include <intg/core/integration_config.hpp>
#include <intg/core/registry.hpp>
#include <intg/core/result.hpp>
#include <intg/providers/gcs/answers.hpp>
#include <intg/providers/gcs/provider.hpp>
#include <intg/rest/client.hpp>
#include <intg/security/crypto/encoding.hpp>
#include <intg/security/crypto/hash.hpp>
#include <intg/security/crypto/random.hpp>

#include <boost/beast/core/string.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace intg::gcs {

namespace asio = boost::asio;

/// Resumable uploads send chunks of a multiple of 256 KiB (Google's rule; the last may be shorter).
inline constexpr std::size_t chunk_quantum = 256 * 1024;
/// The largest chunk this client sends (and so holds in memory).
inline constexpr std::size_t max_chunk_size = std::size_t{1} << 30;

template <class Pipeline> class basic_client;

namespace detail {

using cloud::detail::header;

inline std::string where(std::string_view bucket, std::string_view object) {
  return std::string(bucket) + "/" + std::string(object);
}

inline error integrity(std::string what) { return error(errc::integrity_violation, "gcs: " + std::move(what)); }

inline std::string range_header(std::uint64_t first, std::optional<std::uint64_t> last) {
  return "bytes=" + std::to_string(first) + "-" + (last ? std::to_string(*last) : std::string());
}

// The Object resource a write sends: name, content type, user metadata, and the MD5 Google checks.
inline result<boost::json::object> object_metadata(std::string_view name, const cloud::put_options& o, std::string_view md5) {
  boost::json::object m{{"name", name}, {"contentType", o.content_type.empty() ? std::string_view("application/octet-stream") : o.content_type}};
  if (!o.metadata.empty()) {
    boost::json::object meta;
    for (const auto& e : o.metadata) {
      if (e.name.empty() || e.name.size() > 256) return error(errc::invalid_argument, "gcs: a metadata name must be 1 to 256 bytes");
      for (unsigned char c : e.name)
        if (c < 0x20 || c == 0x7f) return error(errc::invalid_argument, "gcs: a metadata name must not hold control characters");
      meta[e.name] = e.value;
    }
    m["metadata"] = std::move(meta);
  }
  if (!md5.empty()) m["md5Hash"] = md5;
  return m;
}

// What a media download's headers say of the object: x-goog-stored-content-length (the whole
// object's size, also for a range), x-goog-generation, the MD5 in x-goog-hash (of the whole
// object), Content-Type, ETag and Last-Modified. User metadata is not in them (head() reads it).
inline object_resource info_from_media(const http::response& res, std::string_view name, std::size_t body_size) {
  object_resource r;
  r.info.key = std::string(name);
  r.info.etag = cloud::unquote_etag(header(res, "ETag"));
  if (auto t = cloud::parse_http_date(header(res, "Last-Modified"))) r.info.last_modified = *t;
  r.info.content_type = std::string(header(res, "Content-Type"));
  r.generation = std::string(header(res, "x-goog-generation"));
  if (auto n = cloud::parse_size(header(res, "x-goog-stored-content-length"))) r.info.size = *n;
  else r.info.size = body_size;
  for (const auto& f : res)
    if (boost::beast::iequals(f.name_string(), "x-goog-hash"))
      if (auto md5 = md5_of_hash_header(f.value()); !md5.empty()) r.info.checksums.md5 = std::move(md5);
  return r;
}

}  // namespace detail

/// objects.list as an async range: `auto pages = gcs.list_objects("b", opts); while (true) { auto
/// page = co_await pages.next(); ... }` gives result<optional<cloud::list_page>>, an empty optional
/// after the last page. It follows nextPageToken; `start_after` is applied here, so pages before
/// it may come back empty. The pager copies the options; the client must outlive it.
template <class Pipeline>
class object_pages {
 public:
  object_pages(basic_client<Pipeline>& c, std::string_view bucket, const cloud::list_options& o) : c_(&c), bucket_(bucket), st_(o) {}

  asio::awaitable<result<std::optional<cloud::list_page>>> next() {
    using out = std::optional<cloud::list_page>;
    if (st_.done) co_return out{};
    if (st_.page_size < 1 || st_.page_size > 1000) co_return st_.fail(error(errc::invalid_argument, "gcs: list page_size must be 1 to 1000"));
    http::query q;
    q.add("maxResults", std::to_string(st_.page_size));
    if (!st_.prefix.empty()) q.add("prefix", st_.prefix);
    if (!st_.delimiter.empty()) q.add("delimiter", st_.delimiter);
    if (!st_.token.empty()) q.add("pageToken", st_.token);
    auto path = object_path(bucket_, {});
    if (!path) co_return st_.fail(path.error());
    auto req = c_->make(http::verb::get, *path, q.str());
    if (!req) co_return st_.fail(req.error());
    auto ex = co_await c_->send(*req, "gcs.objects.list");
    if (!ex) co_return st_.fail(ex.error());
    auto page = parse_list(ex->response.body());
    if (!page) co_return st_.fail(page.error());
    if (auto a = st_.advance(std::move(page->next_page_token), "gcs: objects.list sent the same nextPageToken twice (pagination loop)"); !a)
      co_return a.error();
    co_return out{cloud::detail::after(std::move(page->objects), std::move(page->prefixes), st_.start_after)};
  }

  std::size_t pages_read() const noexcept { return st_.pages; }
  bool done() const noexcept { return st_.done; }

 private:
  basic_client<Pipeline>* c_;
  std::string bucket_;
  cloud::detail::pager_state st_;
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
  /// objects.delete; a missing object (notFound) is not an error, as the concept says.
  asio::awaitable<result<void>> remove(std::string_view key) {
    auto r = co_await c_->delete_object(name_, key);
    if (!r && r.error() == condition::not_found) co_return result<void>{};
    co_return r;
  }
  object_pages<Pipeline> list(const cloud::list_options& o = {}) { return c_->list_objects(name_, o); }

 private:
  basic_client<Pipeline>* c_;
  std::string name_;
};

/// The Google Cloud Storage client. Settings (per tenant): service_account (a service account's
/// JSON key file, a secret), or credentials_path (the key file's path), or neither (the metadata
/// server: metadata_url overrides its address); scope (optional); project or project_id (the
/// project buckets are created in and the health check lists);
/// base_url (optional: another endpoint than https://storage.googleapis.com, whose host the
/// deployment must allow).
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
  /// Whether the tokens come from a service account key (settings.service_account or
  /// credentials_path; else from the metadata server).
  bool uses_service_account() noexcept { return kit_.auth().chosen() < 2; }

  /// Reads the settings and obtains a first access token (from the key's token endpoint or the
  /// metadata server): wrong credentials fail here.
  asio::awaitable<result<void>> initialize() {
    ready_ = false;
    auto r = co_await kit_.initialize();
    if (!r) co_return r;
    // "project", or "project_id" as in a service account key and the user's configuration.
    for (std::string_view name : {"project", "project_id"}) {
      const auto* p = kit_.config().settings.if_contains(name);
      if (!p) continue;
      if (!p->is_string())
        co_return error(errc::config_error, "gcs: settings." + std::string(name) + " must be a string").with_json_path("$.settings." + std::string(name));
      project_ = std::string(p->get_string());
      break;
    }
    ready_ = true;
    co_return result<void>{};
  }

  /// Lists one bucket of settings.project (buckets.list, maxResults 1) through the pipeline;
  /// without a project, obtains a token only.
  asio::awaitable<health_report> health_check() {
    health_report h;
    const auto t0 = std::chrono::steady_clock::now();
    result<void> r;
    if (!ready_) {
      r = error(errc::not_initialized, "gcs: initialize() first");
    } else if (project_.empty()) {
      r = co_await kit_.auth().obtain();
    } else {
      http::query q{{"project", project_}, {"maxResults", "1"}};
      auto req = make(http::verb::get, "/storage/v1/b", q.str());
      if (!req) r = req.error();
      else if (auto ex = co_await send(*req, "gcs.health_check"); !ex) r = ex.error();
    }
    h.latency = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
    if (r) {
      h.status = integration_status::healthy;
      h.message = project_.empty() ? "an access token was obtained (settings.project is not set: no bucket listed)" : "buckets.list answered";
    } else {
      h.status = r.error() == condition::rate_limited ? integration_status::degraded : integration_status::unhealthy;
      h.message = r.error().to_string();
    }
    h.details = kit_.pipeline().describe();
    co_return h;
  }
  asio::awaitable<void> cleanup() { return kit_.cleanup(); }

  /// A bucket as a cloud::object_store.
  bucket_type bucket(std::string_view name) { return bucket_type(*this, std::string(name)); }

  // ---- buckets ------------------------------------------------------------------------------

  /// buckets.insert in settings.project (or `project`), at `location` (empty: Google's default,
  /// US). One that exists is `conflict`.
  asio::awaitable<result<void>> create_bucket(std::string_view bucket, std::string_view location = {}, std::string_view project = {}) {
    if (auto ok = check_bucket(bucket); !ok) co_return ok.error();
    const std::string proj = project.empty() ? project_ : std::string(project);
    if (proj.empty()) co_return error(errc::invalid_argument, "gcs: creating a bucket needs a project (settings.project)");
    http::query q{{"project", proj}};
    auto req = make(http::verb::post, "/storage/v1/b", q.str());
    if (!req) co_return req.error();
    boost::json::object body{{"name", bucket}};
    if (!location.empty()) body["location"] = location;
    req->body(boost::json::serialize(body), "application/json");
    auto ex = co_await send(*req, "gcs.buckets.insert");
    if (!ex) co_return ex.error();
    co_return result<void>{};
  }

  /// buckets.delete; a bucket that still holds objects is `conflict`.
  asio::awaitable<result<void>> delete_bucket(std::string_view bucket) {
    if (auto ok = check_bucket(bucket); !ok) co_return ok.error();
    auto req = make(http::verb::delete_, "/storage/v1/b/" + std::string(bucket));
    if (!req) co_return req.error();
    auto ex = co_await send(*req, "gcs.buckets.delete");
    if (!ex) co_return ex.error();
    co_return result<void>{};
  }

  // ---- objects ------------------------------------------------------------------------------

  /// A simple upload (uploadType=media): the bytes and their content type, nothing else (no
  /// metadata, no checksum Google checks; put_object() sends those). A POST: sent once.
  asio::awaitable<result<cloud::object_info>> put_simple(std::string_view bucket, std::string_view object, std::string_view body,
                                                         std::string_view content_type = {}) {
    if (auto ok = check_object(object); !ok) co_return ok.error();
    auto path = object_path(bucket, {}, true);
    if (!path) co_return path.error();
    http::query q{{"uploadType", "media"}, {"name", object}};
    auto req = make(http::verb::post, *path, q.str());
    if (!req) co_return req.error();
    req->body(std::string(body), content_type.empty() ? std::string_view("application/octet-stream") : content_type);
    auto ex = co_await send(*req, "gcs.objects.insert");
    if (!ex) co_return stored_maybe(ex.error(), bucket, object);
    co_return stored(bucket, object, body, ex->response, {});
  }

  /// A multipart upload (uploadType=multipart): the Object resource (name, content type,
  /// metadata, and with `checksum` the MD5, which Google checks before storing) and the bytes in
  /// one request, then the MD5 Google answers checked against ours. A POST: sent once.
  asio::awaitable<result<cloud::object_info>> put_object(std::string_view bucket, std::string_view object, std::string_view body,
                                                         const cloud::put_options& o = {}) {
    auto path = object_path(bucket, object);  // checks both names
    if (!path) co_return path.error();
    path = object_path(bucket, {}, true);
    const std::string md5 = crypto::base64_encode(crypto::md5(body));
    auto meta = detail::object_metadata(object, o, o.checksum ? md5 : std::string());
    if (!meta) co_return meta.error();
    auto boundary = new_boundary(body);
    if (!boundary) co_return boundary.error();
    std::string content = "--" + *boundary + "\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n" + boost::json::serialize(*meta) +
                          "\r\n--" + *boundary + "\r\nContent-Type: " +
                          std::string(o.content_type.empty() ? std::string_view("application/octet-stream") : o.content_type) + "\r\n\r\n";
    content.append(body);
    content += "\r\n--" + *boundary + "--\r\n";
    http::query q{{"uploadType", "multipart"}};
    auto req = make(http::verb::post, *path, q.str());
    if (!req) co_return req.error();
    req->body(std::move(content), "multipart/related; boundary=" + *boundary);
    auto ex = co_await send(*req, "gcs.objects.insert");
    if (!ex) co_return stored_maybe(ex.error(), bucket, object);
    co_return stored(bucket, object, body, ex->response, o.checksum ? std::string_view(md5) : std::string_view());
  }

  /// objects.get with alt=media into memory (up to provider::max_response_bytes; get_stream() for
  /// larger), or a range of it. With `verify`, a whole object is checked against the MD5 Google
  /// sends (x-goog-hash); a range is not checked (Google hashes whole objects only). Composite
  /// objects have no MD5 and are not checked. The info has no user metadata: head_object() reads it.
  asio::awaitable<result<cloud::object>> get_object(std::string_view bucket, std::string_view object, const cloud::get_options& o = {}) {
    auto path = object_path(bucket, object);
    if (!path) co_return path.error();
    auto req = make(http::verb::get, *path, "alt=media");
    if (!req) co_return req.error();
    if (o.range) {
      if (o.range->last && *o.range->last < o.range->first) co_return error(errc::invalid_argument, "gcs: a byte range must not end before it starts");
      req->set(http::field::range, detail::range_header(o.range->first, o.range->last));
    }
    auto ex = co_await send(*req, "gcs.objects.get");
    if (!ex) co_return ex.error();
    cloud::object obj;
    obj.info = detail::info_from_media(ex->response, object, ex->response.body().size()).info;
    obj.body = std::move(ex->response.body());
    if (o.verify && !o.range && !obj.info.checksums.md5.empty() && crypto::base64_encode(crypto::md5(obj.body)) != obj.info.checksums.md5)
      co_return detail::integrity("the content of " + detail::where(bucket, object) + " does not match its MD5 (x-goog-hash)");
    co_return obj;
  }

  /// objects.get: the Object resource (size, generation, type, metadata, MD5).
  asio::awaitable<result<cloud::object_info>> head_object(std::string_view bucket, std::string_view object) {
    auto r = co_await resource(bucket, object);
    if (!r) co_return r.error();
    co_return std::move(r->info);
  }

  /// objects.get: the Object resource with its generation and CRC32C.
  asio::awaitable<result<object_resource>> resource(std::string_view bucket, std::string_view object) {
    auto path = object_path(bucket, object);
    if (!path) co_return path.error();
    auto req = make(http::verb::get, *path);
    if (!req) co_return req.error();
    auto ex = co_await send(*req, "gcs.objects.get");
    if (!ex) co_return ex.error();
    co_return parse_object(ex->response.body());
  }

  /// objects.delete (the live version). A missing object is notFound (condition not_found);
  /// bucket(b).remove() treats that as done.
  asio::awaitable<result<void>> delete_object(std::string_view bucket, std::string_view object, std::string_view if_generation = {}) {
    auto path = object_path(bucket, object);
    if (!path) co_return path.error();
    http::query q;
    if (!if_generation.empty()) q.add("ifGenerationMatch", if_generation);
    auto req = make(http::verb::delete_, *path, q.str());
    if (!req) co_return req.error();
    auto ex = co_await send(*req, "gcs.objects.delete");
    if (!ex) co_return ex.error();
    co_return result<void>{};
  }

  /// objects.list, page by page.
  object_pages<Pipeline> list_objects(std::string_view bucket, const cloud::list_options& o = {}) {
    return object_pages<Pipeline>(*this, bucket, o);
  }

  // ---- streamed transfers -------------------------------------------------------------------

  /// Stores what `source` reads under `object` without holding it all, as a resumable upload:
  /// a POST opens the session (the Object resource: name, content type, metadata), then chunks of
  /// `part_size` bytes (a multiple of 256 KiB, at most 1 GiB) are PUT in order, one in memory at
  /// a time (`parallel` does not apply: a session takes its bytes in order). After each chunk
  /// Google says how far it kept the bytes (308 and Range); what it did not keep is sent again
  /// from the chunk in memory. The MD5 of the content, computed while reading, is compared with
  /// the one Google answers: a mismatch deletes that generation of the object and is
  /// errc::integrity_violation. On any failure the session is cancelled (DELETE), so nothing is
  /// stored and an existing object of that name is untouched.
  asio::awaitable<result<cloud::object_info>> upload(std::string_view bucket, std::string_view object, cloud::byte_source source,
                                                     const cloud::put_options& o = {}) {
    auto path = object_path(bucket, object);
    if (!path) co_return path.error();
    if (!ready_) co_return error(errc::not_initialized, "gcs: initialize() first");
    if (!source) co_return error(errc::invalid_argument, "gcs: upload without a source");
    if (o.part_size < chunk_quantum || o.part_size > max_chunk_size || o.part_size % chunk_quantum != 0)
      co_return error(errc::invalid_argument, "gcs: part_size must be a multiple of 256 KiB up to 1 GiB (" + std::to_string(o.part_size) + ")");
    auto session = co_await open_session(bucket, object, o);
    if (!session) co_return session.error();
    crypto::md5_hasher md5;
    std::string chunk;
    std::uint64_t offset = 0;
    std::optional<object_resource> done;
    for (;;) {
      if (auto f = co_await fill(source, chunk, o.part_size); !f) co_return co_await cancel(*session, f.error());
      md5.update(chunk);
      // A short chunk is the last; an empty one finalises content that filled whole chunks.
      const bool last = chunk.size() < o.part_size;
      auto sent = co_await put_chunk(*session, chunk, offset, last);
      if (!sent) co_return co_await cancel(*session, sent.error());
      offset += chunk.size();
      if (last) {
        done = std::move(*sent);
        break;
      }
      chunk.clear();
    }
    const std::string ours = crypto::base64_encode(md5.finish());
    if (o.checksum && !done->info.checksums.md5.empty() && done->info.checksums.md5 != ours) {
      (void)co_await delete_object(bucket, object, done->generation);
      co_return detail::integrity("Google stored " + detail::where(bucket, object) + " with an MD5 that is not the MD5 of what was read " +
                                  "(that generation was deleted)");
    }
    if (done->info.size != offset)
      co_return error(errc::invalid_response, "gcs: the upload of " + detail::where(bucket, object) + " stored " +
                                                  std::to_string(done->info.size) + " bytes of " + std::to_string(offset));
    co_return std::move(done->info);
  }

  /// objects.get a part at a time (`part_size` bytes per ranged request, 64 KiB to 64 MiB), each
  /// handed to `sink` in order: the Object resource first (size, generation, MD5), then ranged
  /// reads of that generation only (ifGenerationMatch: an object replaced meanwhile is an error,
  /// conditionNotMet, not a mix of two versions). With `verify`, a whole object is checked
  /// against its MD5 after its last part reached the sink.
  asio::awaitable<result<cloud::object_info>> get_stream(std::string_view bucket, std::string_view object, cloud::byte_sink sink,
                                                         const cloud::get_options& o = {}) {
    if (!sink) co_return error(errc::invalid_argument, "gcs: get_stream without a sink");
    if (o.part_size < 64 * 1024 || o.part_size > provider::max_response_bytes)
      co_return error(errc::invalid_argument, "gcs: part_size for downloads must be 64 KiB to 64 MiB");
    auto res = co_await resource(bucket, object);
    if (!res) co_return res.error();
    cloud::object_info info = res->info;
    std::uint64_t first = 0, last = info.size ? info.size - 1 : 0;
    if (o.range) {
      if (o.range->first >= info.size) co_return error(errc::invalid_argument, "gcs: the byte range starts past the object's end");
      first = o.range->first;
      if (o.range->last) {
        if (*o.range->last < first) co_return error(errc::invalid_argument, "gcs: a byte range must not end before it starts");
        last = std::min(*o.range->last, last);
      }
    }
    const bool whole = o.verify && !o.range && !info.checksums.md5.empty();
    crypto::md5_hasher md5;
    auto path = object_path(bucket, object);
    if (!path) co_return path.error();
    http::query q{{"alt", "media"}};
    if (!res->generation.empty()) q.add("ifGenerationMatch", res->generation);
    for (std::uint64_t at = first; info.size > 0 && at <= last;) {
      const std::uint64_t end = std::min<std::uint64_t>(at + o.part_size - 1, last);
      auto req = make(http::verb::get, *path, q.str());
      if (!req) co_return req.error();
      req->set(http::field::range, detail::range_header(at, end));
      auto ex = co_await send(*req, "gcs.objects.get");
      if (!ex) co_return ex.error();
      const std::string& body = ex->response.body();
      if (body.size() != end - at + 1)
        co_return error(errc::invalid_response, "gcs: a ranged read answered " + std::to_string(body.size()) + " bytes instead of " +
                                                    std::to_string(end - at + 1));
      if (whole) md5.update(body);
      if (auto w = co_await sink(body); !w) co_return w.error();
      at = end + 1;
    }
    if (whole && crypto::base64_encode(md5.finish()) != info.checksums.md5)
      co_return detail::integrity("the content of " + detail::where(bucket, object) + " does not match its MD5 (md5Hash)");
    co_return info;
  }

 private:
  template <class P> friend class object_pages;

  result<http::request> make(http::verb method, const std::string& path, std::string_view query = {}) const {
    if (!ready_) return error(errc::not_initialized, "gcs: initialize() first");
    auto u = api_url(kit_.base_url(), path, query);
    if (!u) return error(errc::invalid_argument, "gcs: invalid request URL");
    return http::request(method, std::move(*u));
  }

  asio::awaitable<result<rest::exchange>> send(http::request& req, std::string_view operation) { return kit_.send(req, operation); }

  // A boundary that does not occur in the body.
  static result<std::string> new_boundary(std::string_view body) {
    for (int i = 0; i < 4; ++i) {
      auto r = crypto::random_bytes(16);
      if (!r) return r.error();
      std::string b = "intg_" + crypto::to_hex(*r);
      if (body.find(b) == std::string_view::npos) return b;
    }
    return error(errc::crypto_failure, "gcs: no multipart boundary outside the body");
  }

  // The answer to an upload: the Object resource, its size and (when we sent one) MD5 checked.
  static result<cloud::object_info> stored(std::string_view bucket, std::string_view object, std::string_view body, const http::response& res,
                                           std::string_view md5) {
    auto r = parse_object(res.body(), "objects.insert");
    if (!r) return r.error();
    if (!md5.empty() && !r->info.checksums.md5.empty() && r->info.checksums.md5 != md5)
      return detail::integrity("Google answered md5Hash " + cloud::detail::clean(r->info.checksums.md5, 64) + " for " +
                               detail::where(bucket, object) + ", which is not the MD5 of what was sent");
    if (r->info.size != body.size())
      return error(errc::invalid_response, "gcs: objects.insert stored " + std::to_string(r->info.size) + " bytes of " +
                                               std::to_string(body.size()));
    return std::move(r->info);
  }

  // An upload that failed after it may have reached Google says how to find out.
  static error stored_maybe(error e, std::string_view bucket, std::string_view object) {
    if (e == condition::outcome_unknown || e == condition::timeout) {
      const std::string m(e.message());
      e.with_message(m + " (the upload may have been stored: head_object() tells whether " + detail::where(bucket, object) + " exists)");
    }
    return e;
  }

  // Opens a resumable session; its URL (Location) must be on the API's origin, which is where the
  // token goes with each chunk.
  asio::awaitable<result<http::url>> open_session(std::string_view bucket, std::string_view object, const cloud::put_options& o) {
    auto path = object_path(bucket, {}, true);
    if (!path) co_return path.error();
    auto meta = detail::object_metadata(object, o, {});
    if (!meta) co_return meta.error();
    http::query q{{"uploadType", "resumable"}};
    auto req = make(http::verb::post, *path, q.str());
    if (!req) co_return req.error();
    req->set("X-Upload-Content-Type", o.content_type.empty() ? std::string_view("application/octet-stream") : o.content_type);
    req->body(boost::json::serialize(*meta), "application/json; charset=UTF-8");
    // Opening a session stores nothing: a second one after a lost answer is only never used.
    req->idempotency_header = "X-Upload-Content-Type";
    auto ex = co_await send(*req, "gcs.objects.insert");
    if (!ex) co_return ex.error();
    const std::string_view location = detail::header(ex->response, "Location");
    auto u = http::url::parse(location);
    if (location.empty() || !u) co_return error(errc::invalid_response, "gcs: a resumable upload was opened without a usable session URL (Location)");
    if (u->origin() != kit_.base_url().origin())
      co_return error(errc::invalid_response, "gcs: the resumable session URL is on another origin than the API (" + u->origin() + ")");
    co_return std::move(*u);
  }

  // PUTs `chunk` (bytes offset..) to the session, resending from where Google says it stopped
  // keeping them. The last chunk names the total and answers the Object resource.
  asio::awaitable<result<std::optional<object_resource>>> put_chunk_once(const http::url& session, std::string_view data, std::uint64_t at,
                                                                         std::optional<std::uint64_t> total, std::uint64_t& kept) {
    http::request req(http::verb::put, session);
    std::string range = "bytes ";
    range += data.empty() ? std::string("*") : std::to_string(at) + "-" + std::to_string(at + data.size() - 1);
    range += "/" + (total ? std::to_string(*total) : std::string("*"));
    req.set(http::field::content_range, range);
    req.body(std::string(data), "application/octet-stream");
    auto ex = co_await send(req, "gcs.objects.insert.chunk");
    if (!ex) co_return ex.error();
    const int status = static_cast<int>(ex->response.result_int());
    if (status == 308) {
      // "Range: bytes=0-N": N + 1 bytes kept; no Range: none.
      const std::string_view r = detail::header(ex->response, "Range");
      kept = 0;
      if (!r.empty()) {
        const auto dash = r.find('-');
        auto last = dash == std::string_view::npos ? std::nullopt : cloud::parse_size(r.substr(dash + 1));
        if (!r.starts_with("bytes=0-") || !last) co_return error(errc::invalid_response, "gcs: a resumable upload answered an unreadable Range");
        kept = *last + 1;
      }
      co_return std::optional<object_resource>{};
    }
    auto obj = parse_object(ex->response.body(), "resumable upload");
    if (!obj) co_return obj.error();
    co_return std::optional<object_resource>(std::move(*obj));
  }

  asio::awaitable<result<object_resource>> put_chunk(const http::url& session, const std::string& chunk, std::uint64_t offset, bool last) {
    const std::optional<std::uint64_t> total = last ? std::optional<std::uint64_t>(offset + chunk.size()) : std::nullopt;
    const std::uint64_t end = offset + chunk.size();
    std::uint64_t at = offset;
    for (int stalled = 0;;) {
      std::uint64_t kept = at;
      auto r = co_await put_chunk_once(session, std::string_view(chunk).substr(at - offset), at, total, kept);
      if (!r) co_return r.error();
      if (*r) {
        if (!last) co_return error(errc::invalid_response, "gcs: a resumable upload was finalised before its last chunk");
        co_return std::move(**r);
      }
      if (last && kept >= end) co_return error(errc::invalid_response, "gcs: a resumable upload kept every byte but did not finalise");
      if (!last && kept == end) co_return object_resource{};
      if (kept < offset || kept > end)
        co_return error(errc::invalid_response, "gcs: a resumable upload kept " + std::to_string(kept) + " bytes, outside the chunk sent (" +
                                                    std::to_string(offset) + "-" + std::to_string(end) + ")");
      stalled = kept > at ? 0 : stalled + 1;
      if (stalled >= 3) co_return error(errc::unavailable, "gcs: a resumable upload made no progress in three attempts");
      at = kept;
    }
  }

  // Cancels a session after `e` (best effort) and returns `e`.
  asio::awaitable<result<cloud::object_info>> cancel(const http::url& session, error e) {
    http::request req(http::verb::delete_, session);
    (void)co_await send(req, "gcs.objects.insert.cancel");
    const std::string m(e.message());
    co_return e.with_message(m + " (the resumable upload was cancelled: nothing was stored)");
  }

  // Reads up to `size` bytes from the source (fewer only at its end).
  static asio::awaitable<result<void>> fill(cloud::byte_source& source, std::string& buf, std::size_t size) {
    return cloud::detail::fill_part(source, buf, size, "gcs");
  }

  kit_type kit_;
  std::string project_;
  bool ready_ = false;
};

using client = basic_client<>;
using bucket = basic_bucket<rest::default_pipeline>;

static_assert(intg::integration<client>);
static_assert(cloud::object_store<bucket>);

}  // namespace intg::gcs
