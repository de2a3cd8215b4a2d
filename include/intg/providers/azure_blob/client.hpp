// intg::azure_blob::client: Azure Blob Storage as an intg integration on the provider kit:
// containers, block blobs (Put Blob with Content-MD5 checked both ways; streamed uploads as staged
// blocks committed by Put Block List, blocks in parallel), reads whole, by range and streamed
// (verified against the blob's Content-MD5, ranges up to 4 MiB against their own), Get Blob
// Properties, List Blobs as an async page range, delete, and SAS URLs for a blob. Every request is
// signed with Shared Key on every attempt and runs through the integration's pipeline. Every
// request is a PUT, GET, HEAD or DELETE that may be sent again: Put Block and Put Block List with
// the same ids and content store the same thing twice. `client.container(name)` meets
// cloud::object_store.
#pragma once

#include <intg/cloud/formats.hpp>
#include <intg/cloud/object_store.hpp>
#include <intg/core/error.hpp>
#include <intg/core/integration.hpp>
#include <intg/core/integration_config.hpp>
#include <intg/core/registry.hpp>
#include <intg/core/result.hpp>
#include <intg/core/secret.hpp>
#include <intg/providers/azure_blob/answers.hpp>
#include <intg/providers/azure_blob/provider.hpp>
#include <intg/rest/client.hpp>
#include <intg/security/auth/azure_sas.hpp>
#include <intg/security/crypto/encoding.hpp>
#include <intg/security/crypto/hash.hpp>
#include <intg/security/crypto/random.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace intg::azure_blob {

namespace asio = boost::asio;

/// Block sizes of streamed uploads: 64 KiB (intg's floor) to 4,000 MiB (Azure's bound since
/// version 2019-12-12), at most 50,000 blocks per blob.
inline constexpr std::size_t min_block_size = 64 * 1024;
inline constexpr std::size_t max_block_size = std::size_t{4000} << 20;
inline constexpr int max_blocks = 50000;
/// Blocks in flight at once, at most.
inline constexpr std::size_t max_parallel = 64;
/// Azure answers the MD5 of a range (x-ms-range-get-content-md5) up to this size.
inline constexpr std::uint64_t max_range_md5 = 4u << 20;

template <class Pipeline> class basic_client;

namespace detail {

inline char lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

using cloud::detail::header;

// What a blob's GET or HEAD answer says about it. The blob's MD5 is x-ms-blob-content-md5 in a
// ranged answer (whose Content-MD5, when asked for, is the range's) and Content-MD5 otherwise.
inline cloud::object_info info_from(const http::response& res, std::string_view name) {
  cloud::object_info o;
  o.key = std::string(name);
  o.etag = unquote_etag(header(res, "ETag"));
  if (auto t = parse_http_date(header(res, "Last-Modified"))) o.last_modified = *t;
  o.content_type = std::string(header(res, "Content-Type"));
  const std::string_view range = header(res, "Content-Range");  // "bytes 0-9/1234"
  if (const auto slash = range.rfind('/'); range.starts_with("bytes ") && slash != std::string_view::npos) {
    if (auto total = parse_size(range.substr(slash + 1))) o.size = *total;
    o.checksums.md5 = std::string(header(res, "x-ms-blob-content-md5"));
  } else {
    if (auto len = parse_size(header(res, "Content-Length"))) o.size = *len;
    o.checksums.md5 = std::string(header(res, "Content-MD5"));
  }
  for (const auto& f : res) {
    const std::string_view n = f.name_string();
    if (n.size() <= 10 || !auth::detail::iequal(n.substr(0, 10), "x-ms-meta-")) continue;
    std::string key(n.substr(10));
    for (char& c : key) c = lower(c);
    o.metadata.emplace(std::move(key), std::string(f.value()));
  }
  return o;
}

// The blob's content type and x-ms-meta-* (names C# identifiers, values printable ASCII).
inline result<void> blob_headers(http::request& req, const cloud::put_options& o) {
  for (unsigned char c : o.content_type)
    if (c < 0x20 || c >= 0x7f) return error(errc::invalid_argument, "azure blob: the content type holds a control or non-ASCII character");
  req.set("x-ms-blob-content-type", o.content_type.empty() ? std::string_view("application/octet-stream") : o.content_type);
  for (const auto& m : o.metadata) {
    if (auto ok = check_metadata_name(m.name); !ok) return ok.error();
    for (unsigned char c : m.value)
      if (c < 0x20 || c >= 0x7f)
        return error(errc::invalid_argument, "azure blob: the value of metadata " + std::string(m.name) + " holds a control or non-ASCII character");
    std::string name = "x-ms-meta-";
    name += m.name;
    req.set(name, m.value);
  }
  return {};
}

// What a put stored, as the options describe it.
inline cloud::object_info put_info(std::string_view name, std::uint64_t size, const http::response& res, const cloud::put_options& o) {
  cloud::object_info info;
  info.key = std::string(name);
  info.size = size;
  info.etag = unquote_etag(header(res, "ETag"));
  if (auto t = parse_http_date(header(res, "Last-Modified"))) info.last_modified = *t;
  info.content_type = o.content_type.empty() ? std::string("application/octet-stream") : std::string(o.content_type);
  for (const auto& m : o.metadata) {
    std::string n(m.name);
    for (char& c : n) c = lower(c);
    info.metadata.emplace(std::move(n), std::string(m.value));
  }
  return info;
}

inline error integrity(std::string what) { return error(errc::integrity_violation, "azure blob: " + std::move(what)); }

inline std::string where(std::string_view container, std::string_view blob) {
  return std::string(container) + "/" + std::string(blob);
}

inline std::string range_header(std::uint64_t first, std::optional<std::uint64_t> last) {
  return "bytes=" + std::to_string(first) + "-" + (last ? std::to_string(*last) : std::string());
}

}  // namespace detail

/// List Blobs as an async range: `auto pages = az.list_blobs("c", opts); while (true) { auto page =
/// co_await pages.next(); ... }` gives result<optional<cloud::list_page>>, an empty optional after
/// the last page. It follows NextMarker; `start_after` is applied here (Azure's markers are
/// opaque), so pages before it may come back empty. The pager copies the options; the client must
/// outlive it.
template <class Pipeline>
class blob_pages {
 public:
  blob_pages(basic_client<Pipeline>& c, std::string_view container, const cloud::list_options& o)
      : c_(&c), container_(container), st_(o) {}

  asio::awaitable<result<std::optional<cloud::list_page>>> next() {
    using out = std::optional<cloud::list_page>;
    if (st_.done) co_return out{};
    if (st_.page_size < 1 || st_.page_size > 5000) co_return st_.fail(error(errc::invalid_argument, "azure blob: list page_size must be 1 to 5000"));
    http::query q;
    q.add("restype", "container");
    q.add("comp", "list");
    q.add("maxresults", std::to_string(st_.page_size));
    if (!st_.prefix.empty()) q.add("prefix", st_.prefix);
    if (!st_.delimiter.empty()) q.add("delimiter", st_.delimiter);
    if (!st_.token.empty()) q.add("marker", st_.token);
    auto req = c_->make(http::verb::get, container_, {}, q.str());
    if (!req) co_return st_.fail(req.error());
    auto ex = co_await c_->send(*req, "azure_blob.list_blobs");
    if (!ex) co_return st_.fail(ex.error());
    auto page = parse_list(ex->response.body());
    if (!page) co_return st_.fail(page.error());
    if (auto a = st_.advance(std::move(page->next_marker), "azure blob: List Blobs sent the same NextMarker twice (pagination loop)"); !a)
      co_return a.error();
    co_return out{cloud::detail::after(std::move(page->objects), std::move(page->prefixes), st_.start_after)};
  }

  std::size_t pages_read() const noexcept { return st_.pages; }
  bool done() const noexcept { return st_.done; }

 private:
  basic_client<Pipeline>* c_;
  std::string container_;
  cloud::detail::pager_state st_;
};

/// One container of a client, as a cloud::object_store. The client must outlive it.
template <class Pipeline>
class basic_container {
 public:
  basic_container(basic_client<Pipeline>& c, std::string name) : c_(&c), name_(std::move(name)) {}
  const std::string& name() const noexcept { return name_; }

  asio::awaitable<result<cloud::object_info>> put(std::string_view key, std::string_view body, const cloud::put_options& o = {}) {
    return c_->put_blob(name_, key, body, o);
  }
  asio::awaitable<result<cloud::object_info>> put_stream(std::string_view key, cloud::byte_source src, const cloud::put_options& o = {}) {
    return c_->upload(name_, key, std::move(src), o);
  }
  asio::awaitable<result<cloud::object>> get(std::string_view key, const cloud::get_options& o = {}) {
    return c_->get_blob(name_, key, o);
  }
  asio::awaitable<result<cloud::object_info>> get_stream(std::string_view key, cloud::byte_sink sink, const cloud::get_options& o = {}) {
    return c_->get_stream(name_, key, std::move(sink), o);
  }
  asio::awaitable<result<cloud::object_info>> head(std::string_view key) { return c_->head_blob(name_, key); }
  /// Delete Blob; a missing blob (BlobNotFound) is not an error, as the concept says.
  asio::awaitable<result<void>> remove(std::string_view key) {
    auto r = co_await c_->delete_blob(name_, key);
    if (!r && r.error().provider_code() == "BlobNotFound") co_return result<void>{};
    co_return r;
  }
  blob_pages<Pipeline> list(const cloud::list_options& o = {}) { return c_->list_blobs(name_, o); }

 private:
  basic_client<Pipeline>* c_;
  std::string name_;
};

/// The Azure Blob Storage client. Settings (per tenant): account_name, account_key (a secret),
/// base_url (optional: another endpoint than https://ACCOUNT.blob.core.windows.net, whose host
/// the deployment must allow; Azurite's is http://127.0.0.1:PORT/devstoreaccount1).
template <class Pipeline = rest::default_pipeline>
class basic_client {
 public:
  using kit_type = rest::client<provider, Pipeline>;
  using pipeline_type = Pipeline;
  using container_type = basic_container<Pipeline>;

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
  /// The Shared Key signer (credential, x-ms-version, clock).
  auth::azure::signer& signer() noexcept { return kit_.auth().signer; }

  /// Reads the settings (account, key, endpoint). No request is sent.
  asio::awaitable<result<void>> initialize() {
    ready_ = false;
    auto r = co_await kit_.initialize();
    if (!r) co_return r;
    const std::string_view p = kit_.base_url().path();
    base_path_ = p == "/" ? std::string() : std::string(p);
    while (!base_path_.empty() && base_path_.back() == '/') base_path_.pop_back();
    ready_ = true;
    co_return result<void>{};
  }

  /// Get Blob Service Properties through the probe stack (see rest::client::health_check).
  asio::awaitable<health_report> health_check() { return kit_.health_check(); }
  asio::awaitable<void> cleanup() { return kit_.cleanup(); }

  /// A container as a cloud::object_store.
  container_type container(std::string_view name) { return container_type(*this, std::string(name)); }

  // ---- containers ---------------------------------------------------------------------------

  /// Create Container (private: no public access). One that exists is ContainerAlreadyExists
  /// (condition conflict), also when a retry follows a create whose answer was lost.
  asio::awaitable<result<void>> create_container(std::string_view container) {
    auto req = make(http::verb::put, container, {}, "restype=container");
    if (!req) co_return req.error();
    auto ex = co_await send(*req, "azure_blob.create_container");
    if (!ex) co_return ex.error();
    co_return result<void>{};
  }

  /// Delete Container, with its blobs (Azure removes them in the background; the name may be
  /// refused with ContainerBeingDeleted for a while).
  asio::awaitable<result<void>> delete_container(std::string_view container) {
    auto req = make(http::verb::delete_, container, {}, "restype=container");
    if (!req) co_return req.error();
    auto ex = co_await send(*req, "azure_blob.delete_container");
    if (!ex) co_return ex.error();
    co_return result<void>{};
  }

  // ---- blobs --------------------------------------------------------------------------------

  /// Put Blob: a block blob of `body` (in memory; see upload() for large or streamed content).
  /// With `checksum`, sends Content-MD5, which Azure checks before storing, and checks the
  /// Content-MD5 Azure answers (its own hash of what arrived). Azure keeps the MD5, so that
  /// get_blob() verifies what it reads.
  asio::awaitable<result<cloud::object_info>> put_blob(std::string_view container, std::string_view blob, std::string_view body,
                                                       const cloud::put_options& o = {}) {
    auto req = make(http::verb::put, container, blob);
    if (!req) co_return req.error();
    if (auto h = detail::blob_headers(*req, o); !h) co_return h.error();
    req->set("x-ms-blob-type", "BlockBlob");
    req->set(http::field::content_type, o.content_type.empty() ? std::string_view("application/octet-stream") : o.content_type);
    const std::string md5 = crypto::base64_encode(crypto::md5(body));
    if (o.checksum) req->set(http::field::content_md5, md5);
    req->message.body().assign(body.data(), body.size());
    auto ex = co_await send(*req, "azure_blob.put_blob");
    if (!ex) co_return ex.error();
    cloud::object_info info = detail::put_info(blob, body.size(), ex->response, o);
    const std::string_view answered = detail::header(ex->response, "Content-MD5");
    if (o.checksum && !answered.empty() && answered != md5)
      co_return detail::integrity("Azure answered Content-MD5 " + detail::clean(answered, 64) + " for " + detail::where(container, blob) +
                                  ", which is not the MD5 of what was sent");
    info.checksums.md5 = md5;
    co_return info;
  }

  /// Get Blob into memory (up to provider::max_response_bytes; get_stream() for larger), or a
  /// range of it. With `verify`, a whole blob is checked against the Content-MD5 Azure keeps, and
  /// a range of at most 4 MiB against the MD5 Azure computes for it (x-ms-range-get-content-md5);
  /// a mismatch is errc::integrity_violation. Longer ranges are not checked.
  asio::awaitable<result<cloud::object>> get_blob(std::string_view container, std::string_view blob, const cloud::get_options& o = {}) {
    auto req = make(http::verb::get, container, blob);
    if (!req) co_return req.error();
    bool range_md5 = false;
    if (o.range) {
      if (o.range->last && *o.range->last < o.range->first)
        co_return error(errc::invalid_argument, "azure blob: a byte range must not end before it starts");
      req->set(http::field::range, detail::range_header(o.range->first, o.range->last));
      range_md5 = o.verify && o.range->last && *o.range->last - o.range->first < max_range_md5;
      if (range_md5) req->set("x-ms-range-get-content-md5", "true");
    }
    auto ex = co_await send(*req, "azure_blob.get_blob");
    if (!ex) co_return ex.error();
    cloud::object obj;
    obj.info = detail::info_from(ex->response, blob);
    obj.body = std::move(ex->response.body());
    if (!o.range) obj.info.size = obj.body.size();
    if (o.verify) {
      const std::string_view want = o.range ? (range_md5 ? detail::header(ex->response, "Content-MD5") : std::string_view{})
                                            : std::string_view(obj.info.checksums.md5);
      if (auto v = check_md5(container, blob, want, crypto::md5(obj.body), o.range.has_value()); !v) co_return v.error();
    }
    co_return obj;
  }

  /// Get Blob Properties: size, ETag, type, metadata and the Content-MD5 Azure keeps.
  asio::awaitable<result<cloud::object_info>> head_blob(std::string_view container, std::string_view blob) {
    auto req = make(http::verb::head, container, blob);
    if (!req) co_return req.error();
    auto ex = co_await send(*req, "azure_blob.get_blob_properties");
    if (!ex) co_return ex.error();
    co_return detail::info_from(ex->response, blob);
  }

  /// Delete Blob, with its snapshots. A missing blob is BlobNotFound (condition not_found);
  /// container(c).remove() treats that as done.
  asio::awaitable<result<void>> delete_blob(std::string_view container, std::string_view blob) {
    auto req = make(http::verb::delete_, container, blob);
    if (!req) co_return req.error();
    req->set("x-ms-delete-snapshots", "include");
    auto ex = co_await send(*req, "azure_blob.delete_blob");
    if (!ex) co_return ex.error();
    co_return result<void>{};
  }

  /// List Blobs, page by page.
  blob_pages<Pipeline> list_blobs(std::string_view container, const cloud::list_options& o = {}) {
    return blob_pages<Pipeline>(*this, container, o);
  }

  // ---- shared access signatures ---------------------------------------------------------------

  /// A URL with a service SAS for one blob, valid for `expires` (1 s to 7 days) with
  /// `permissions` (letters of "racwdxtmeiy" in that order: "r" to read, "cw" to upload). Anyone
  /// holding it may use it until then, so it comes as an intg::secret (printed as ***). Over an
  /// https endpoint the SAS allows https only. Nothing is sent to create it.
  result<secret> sas_url(std::string_view container, std::string_view blob, std::string_view permissions, std::chrono::seconds expires) {
    if (expires < std::chrono::seconds(1) || expires > std::chrono::hours(24 * 7))
      return error(errc::invalid_argument, "azure blob: a SAS must expire in 1 second to 7 days");
    auto u = make_url(container, blob);
    if (!u) return u.error();
    const auto* key = signer().credential();
    if (!key) return error(errc::not_initialized, "azure blob: initialize() first");
    auth::azure::service_sas s;
    s.common.permissions = std::string(permissions);
    s.common.expiry = signer().clock() + expires;
    s.common.protocol = kit_.base_url().tls() ? auth::azure::sas_protocol::https_only : auth::azure::sas_protocol::https_and_http;
    s.common.version = signer().version;
    s.container = std::string(container);
    s.blob = std::string(blob);
    auto sas = auth::azure::make_service_sas(s, *key);
    if (!sas) return sas.error();
    return sas->url(u->str());
  }
  result<secret> sas_get(std::string_view container, std::string_view blob, std::chrono::seconds expires) {
    return sas_url(container, blob, "r", expires);
  }

  // ---- streamed transfers -------------------------------------------------------------------

  /// Stores what `source` reads under `blob` without holding it all: content shorter than one
  /// block goes in one Put Blob; longer content is staged as blocks of `part_size` bytes (64 KiB
  /// to 4,000 MiB), up to `parallel` Put Block requests in flight, so at most `parallel` blocks
  /// are in memory at once, then committed with Put Block List. Each block carries Content-MD5
  /// (with `checksum`), which Azure checks; the MD5 of the whole content, computed while reading,
  /// is stored as the blob's Content-MD5 (x-ms-blob-content-md5), so that reads verify it. Block
  /// ids hold a random nonce per upload, so two uploads to one name never mix their blocks.
  /// On any failure (a block, the source, more than 50,000 blocks) nothing is committed: Put
  /// Block List is not sent, an existing blob of that name is untouched, and Azure discards the
  /// staged blocks (at the next commit to that name, or after a week).
  asio::awaitable<result<cloud::object_info>> upload(std::string_view container, std::string_view blob, cloud::byte_source source,
                                                     const cloud::put_options& o = {}) {
    if (auto c = check_container(container); !c) co_return c.error();
    if (auto b = check_blob(blob); !b) co_return b.error();
    if (!ready_) co_return error(errc::not_initialized, "azure blob: initialize() first");
    if (!source) co_return error(errc::invalid_argument, "azure blob: upload without a source");
    if (o.part_size < min_block_size || o.part_size > max_block_size)
      co_return error(errc::invalid_argument, "azure blob: part_size must be 64 KiB to 4000 MiB (" + std::to_string(o.part_size) + ")");
    if (o.parallel < 1 || o.parallel > max_parallel) co_return error(errc::invalid_argument, "azure blob: parallel must be 1 to 64");
    std::string part;
    if (auto f = co_await fill(source, part, o.part_size); !f) co_return f.error();
    if (part.size() < o.part_size) co_return co_await put_blob(container, blob, part, o);

    auto nonce = crypto::random_bytes(8);
    if (!nonce) co_return nonce.error();
    const std::string tag = crypto::to_hex(*nonce);
    const auto ex = co_await asio::this_coro::executor;
    auto st = std::make_shared<upload_state>(ex);
    const std::string c(container), b(blob);
    crypto::md5_hasher whole;
    for (int number = 1;; ++number) {
      if (number > max_blocks) {
        st->fail(error(errc::invalid_argument, "azure blob: the content needs more than 50,000 blocks of " + std::to_string(o.part_size) +
                                                   " bytes: raise part_size"));
        break;
      }
      whole.update(part);
      st->ids.push_back(block_id(tag, number));
      st->bytes += part.size();
      ++st->in_flight;
      asio::co_spawn(ex, put_block(c, b, st->ids.back(), std::move(part), o.checksum, st), [st](std::exception_ptr e) {
        if (e) st->fail(error(errc::invalid_response, "azure blob: a block upload failed with an exception"));
        --st->in_flight;
        st->wake.cancel();
      });
      // At most `parallel` blocks in memory: wait for a free slot before reading the next one.
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
    if (st->failure) {
      error e = *st->failure;
      const std::string m(e.message());
      co_return e.with_message(m + " (nothing was committed to " + detail::where(c, b) + ")");
    }
    co_return co_await commit(c, b, *st, crypto::base64_encode(whole.finish()), o);
  }

  /// Get Blob a part at a time (`part_size` bytes per ranged request, 64 KiB to 64 MiB), each
  /// handed to `sink` in order: Get Blob Properties first (size, ETag, MD5), then ranged GETs that
  /// must match that ETag (If-Match: a blob replaced meanwhile is an error, ConditionNotMet,
  /// not a mix of two versions). With `verify`, parts of at most 4 MiB are checked against the MD5
  /// Azure computes for them before they reach the sink, and a whole blob against its Content-MD5
  /// after its last part did.
  asio::awaitable<result<cloud::object_info>> get_stream(std::string_view container, std::string_view blob, cloud::byte_sink sink,
                                                         const cloud::get_options& o = {}) {
    if (!sink) co_return error(errc::invalid_argument, "azure blob: get_stream without a sink");
    if (o.part_size < 64 * 1024 || o.part_size > provider::max_response_bytes)
      co_return error(errc::invalid_argument, "azure blob: part_size for downloads must be 64 KiB to 64 MiB");
    auto head = co_await head_blob(container, blob);
    if (!head) co_return head.error();
    cloud::object_info info = std::move(*head);
    std::uint64_t first = 0, last = info.size ? info.size - 1 : 0;
    if (o.range) {
      if (o.range->first >= info.size) co_return error(errc::invalid_argument, "azure blob: the byte range starts past the blob's end");
      first = o.range->first;
      if (o.range->last) {
        if (*o.range->last < first) co_return error(errc::invalid_argument, "azure blob: a byte range must not end before it starts");
        last = std::min(*o.range->last, last);
      }
    }
    const bool whole = o.verify && !o.range && !info.checksums.md5.empty();
    const bool parts = o.verify && o.part_size <= max_range_md5;
    crypto::md5_hasher md5;
    const std::string if_match = "\"" + info.etag + "\"";
    for (std::uint64_t at = first; info.size > 0 && at <= last;) {
      const std::uint64_t end = std::min<std::uint64_t>(at + o.part_size - 1, last);
      auto req = make(http::verb::get, container, blob);
      if (!req) co_return req.error();
      req->set(http::field::range, detail::range_header(at, end));
      if (parts) req->set("x-ms-range-get-content-md5", "true");
      if (!info.etag.empty()) req->set(http::field::if_match, if_match);
      auto ex = co_await send(*req, "azure_blob.get_blob");
      if (!ex) co_return ex.error();
      const std::string& body = ex->response.body();
      if (body.size() != end - at + 1)
        co_return error(errc::invalid_response, "azure blob: a ranged GET answered " + std::to_string(body.size()) + " bytes instead of " +
                                                    std::to_string(end - at + 1));
      if (parts)
        if (auto v = check_md5(container, blob, detail::header(ex->response, "Content-MD5"), crypto::md5(body), true); !v) co_return v.error();
      if (whole) md5.update(body);
      if (auto w = co_await sink(body); !w) co_return w.error();
      at = end + 1;
    }
    if (whole)
      if (auto v = check_md5(container, blob, info.checksums.md5, md5.finish(), false); !v) co_return v.error();
    co_return info;
  }

 private:
  template <class P> friend class blob_pages;

  // The parallel parts, and what the completion needs of them.
  struct upload_state : cloud::detail::parts_in_flight {
    using parts_in_flight::parts_in_flight;
    std::vector<std::string> ids;
  };

  result<http::url> make_url(std::string_view container, std::string_view blob, std::string_view query = {}) const {
    if (!ready_) return error(errc::not_initialized, "azure blob: initialize() first");
    return blob_url(kit_.base_url(), base_path_, container, blob, query);
  }

  result<http::request> make(http::verb method, std::string_view container, std::string_view blob, std::string_view query = {}) const {
    auto u = make_url(container, blob, query);
    if (!u) return u.error();
    return http::request(method, std::move(*u));
  }

  asio::awaitable<result<rest::exchange>> send(http::request& req, std::string_view operation) {
    return kit_.send(req, operation);
  }

  // `want` (base64; empty: nothing to check) against the MD5 of what arrived.
  static result<void> check_md5(std::string_view container, std::string_view blob, std::string_view want,
                                const std::array<std::uint8_t, 16>& got, bool range) {
    if (want.empty() || crypto::base64_encode(got) == want) return {};
    return detail::integrity(std::string(range ? "a range of " : "the content of ") + detail::where(container, blob) +
                             " does not match its MD5 (Content-MD5)");
  }

  // Reads up to `size` bytes from the source (fewer only at its end).
  static asio::awaitable<result<void>> fill(cloud::byte_source& source, std::string& buf, std::size_t size) {
    return cloud::detail::fill_part(source, buf, size, "azure blob");
  }

  // Put Block: stages one block. Sending it again (a retry after a lost answer) stages the same
  // bytes under the same id, replacing the first copy: idempotent.
  asio::awaitable<void> put_block(std::string container, std::string blob, std::string id, std::string body, bool checksum,
                                  std::shared_ptr<upload_state> st) {
    http::query q{{"comp", "block"}, {"blockid", id}};
    auto req = make(http::verb::put, container, blob, q.str());
    if (!req) {
      st->fail(req.error());
      co_return;
    }
    const std::string md5 = crypto::base64_encode(crypto::md5(body));
    if (checksum) req->set(http::field::content_md5, md5);
    req->message.body() = std::move(body);
    // However this part ends, its buffer goes back to the upload for a later part.
    struct give_back {
      upload_state& st;
      http::request& r;
      ~give_back() { st.give_back(std::move(r.message.body())); }
    } recycle{*st, *req};
    auto ex = co_await send(*req, "azure_blob.put_block");
    if (!ex) {
      st->fail(ex.error());
      co_return;
    }
    // Azure answers the MD5 it computed of the block (Azurite answers none).
    const std::string_view answered = detail::header(ex->response, "Content-MD5");
    if (checksum && !answered.empty() && answered != md5)
      st->fail(detail::integrity("Azure answered Content-MD5 " + detail::clean(answered, 64) + " for a block of " +
                                 detail::where(container, blob) + ", which is not the MD5 of what was sent"));
  }

  // Put Block List: commits the staged blocks in order, with the content type, metadata and the
  // whole content's MD5. Every id is <Latest>, so sending the same list again after a lost answer
  // commits the same blob: idempotent, and the kit may retry it like any PUT.
  asio::awaitable<result<cloud::object_info>> commit(const std::string& container, const std::string& blob, const upload_state& st,
                                                     const std::string& md5, const cloud::put_options& o) {
    auto req = make(http::verb::put, container, blob, "comp=blocklist");
    if (!req) co_return req.error();
    if (auto h = detail::blob_headers(*req, o); !h) co_return h.error();
    if (o.checksum) req->set("x-ms-blob-content-md5", md5);
    req->body(block_list_body(st.ids), "application/xml");
    auto ex = co_await send(*req, "azure_blob.put_block_list");
    if (!ex) {
      error e = ex.error();
      // Still failing after its retries, without a refusal: it may have been committed.
      if (is_transient(e) || e == condition::outcome_unknown || e == condition::timeout) {
        const std::string m(e.message());
        e.with_message(m + " (Put Block List may have taken effect: head_blob() tells whether " + detail::where(container, blob) +
                       " was committed)");
      }
      co_return e;
    }
    cloud::object_info info = detail::put_info(blob, st.bytes, ex->response, o);
    if (o.checksum) info.checksums.md5 = md5;
    co_return info;
  }

  kit_type kit_;
  std::string base_path_;
  bool ready_ = false;
};

using client = basic_client<>;
using container = basic_container<rest::default_pipeline>;

static_assert(intg::integration<client>);
static_assert(cloud::object_store<container>);

}  // namespace intg::azure_blob
