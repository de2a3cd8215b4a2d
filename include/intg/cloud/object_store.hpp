// intg::cloud::object_store: what code that keeps objects in a cloud store is written against, so
// that it runs on any store that meets the concept (Amazon S3's `s3::bucket`, Azure Blob Storage's
// `azure_blob::container`, Google Cloud Storage's `gcs::bucket`): put, get, head, list, delete, streamed
// bodies in both directions, and checksums checked on the way in and out. The types here are
// provider-neutral; each store documents how it maps them.
//
// Option structs hold views and numbers only, so a temporary one inside a co_await is safe under
// g++ 12 (docs/pitfalls.md); the views must stay valid until the call completes.
#pragma once

#include <intg/core/error.hpp>
#include <intg/core/result.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cerrno>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace intg::cloud {

namespace asio = boost::asio;

/// Checksums of an object's whole content, base64 as the stores write them; empty when unknown.
struct checksums {
  std::string md5{};     ///< MD5 (S3: the ETag of a single-part object; Azure Content-MD5; GCS md5Hash)
  std::string sha256{};  ///< SHA-256 (S3: x-amz-checksum-sha256 of the whole object)
};

/// What a store knows of an object.
struct object_info {
  std::string key{};
  std::uint64_t size = 0;        ///< the whole object's size, also after a ranged read
  std::string etag{};            ///< the store's version tag, without quotes
  std::chrono::system_clock::time_point last_modified{};
  std::string content_type{};    ///< empty in listings
  std::map<std::string, std::string> metadata{};  ///< user metadata, names lower-case; empty in listings
  cloud::checksums checksums{};
};

/// An object read whole (or a range of it) into memory.
struct object {
  object_info info{};
  std::string body{};
};

/// Bytes `first` to `last` inclusive (HTTP's Range); without `last`, to the end.
struct byte_range {
  std::uint64_t first = 0;
  std::optional<std::uint64_t> last{};
};

/// A user metadata entry (S3 x-amz-meta-*, Azure x-ms-meta-*, GCS metadata).
struct metadata_entry {
  std::string_view name{};
  std::string_view value{};
};

struct put_options {
  std::string_view content_type{};              ///< empty: application/octet-stream
  std::span<const metadata_entry> metadata{};
  bool checksum = true;                         ///< send checksums the store verifies before storing
  std::size_t part_size = 8u << 20;             ///< streamed uploads: bytes per part (block, chunk)
  std::size_t parallel = 4;                     ///< streamed uploads: parts in flight at once
};

struct get_options {
  std::optional<byte_range> range{};
  /// Compare what arrived with the checksum the store keeps, where it gives one for what was read
  /// (a whole object, not a range): a mismatch is errc::integrity_violation.
  bool verify = true;
  std::size_t part_size = 8u << 20;             ///< streamed downloads: bytes per ranged request
};

struct list_options {
  std::string_view prefix{};
  /// "/" lists one level of a key hierarchy: keys with the delimiter after the prefix are rolled
  /// up into list_page::prefixes.
  std::string_view delimiter{};
  std::string_view start_after{};               ///< keys after this one (in the store's order)
  std::size_t page_size = 1000;                 ///< keys per request (S3 allows 1 to 1000)
};

struct list_page {
  std::vector<object_info> objects{};
  std::vector<std::string> prefixes{};          ///< with a delimiter: the rolled-up key prefixes
};

/// Where a streamed upload reads from: fills the buffer and returns how many bytes it wrote, 0 at
/// the end. It is called again only after the previous call completed. An error aborts the upload.
using byte_source = std::function<asio::awaitable<result<std::size_t>>(std::span<char>)>;
/// Where a streamed download writes, in order. An error stops the download.
using byte_sink = std::function<asio::awaitable<result<void>>(std::string_view)>;

namespace detail {
inline error io_error(std::string_view what, const std::string& path, int err) {
  return error(errc::invalid_argument, std::string(what) + " " + path + ": " + std::strerror(err));
}
struct file_closer {
  void operator()(std::FILE* f) const noexcept {
    if (f) std::fclose(f);
  }
};
}  // namespace detail

namespace detail {

/// Reads up to `size` bytes from `source` into `buf` (fewer only at its end): one part of a
/// streamed upload. `store` names the store in errors ("s3", "gcs", ...).
inline asio::awaitable<result<void>> fill_part(byte_source& source, std::string& buf, std::size_t size, std::string_view store) {
  buf.resize(size);
  std::size_t have = 0;
  while (have < size) {
    auto n = co_await source(std::span<char>(buf.data() + have, size - have));
    if (!n) {
      error e = n.error();
      const std::string why = e.to_string();
      co_return e.with_message(std::string(store) + ": the upload's source failed: " + why);
    }
    if (*n > size - have)
      co_return error(errc::invalid_argument, std::string(store) + ": the upload's source returned more bytes than it was asked for");
    if (*n == 0) break;
    have += *n;
  }
  buf.resize(have);
  co_return result<void>{};
}

/// What a streamed upload shares with the parts (blocks) it sends in parallel: how many are in
/// flight, the first failure, a timer the uploader waits on until one completes, and the buffers
/// of completed parts, handed back to be filled again: an upload allocates `parallel` buffers,
/// not one per part, so its memory stays at parallel x part_size however the allocator lays
/// freed blocks out.
struct parts_in_flight {
  explicit parts_in_flight(const asio::any_io_executor& ex) : wake(ex) {}
  asio::steady_timer wake;
  std::size_t in_flight = 0;
  std::uint64_t bytes = 0;
  std::optional<error> failure;
  std::vector<std::string> spare;

  void fail(error e) {
    if (!failure) failure = std::move(e);
  }
  /// Until a part completes (its handler cancels the timer).
  asio::awaitable<void> wait() {
    wake.expires_at(asio::steady_timer::time_point::max());
    co_await wake.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  /// A buffer to fill with the next part: a completed part's, or a new one.
  std::string buffer() {
    if (spare.empty()) return {};
    std::string b = std::move(spare.back());
    spare.pop_back();
    return b;
  }
  /// A sent part's buffer, to be filled again.
  void give_back(std::string&& b) {
    b.clear();
    spare.push_back(std::move(b));
  }
};

/// What a listing's pager keeps between pages: the options, the opaque token of the next page
/// (Azure's marker, Google's page token), the tokens already followed (the same one twice is a
/// loop), and whether the listing is done (after its last page, or an error).
struct pager_state {
  explicit pager_state(const list_options& o)
      : prefix(o.prefix), delimiter(o.delimiter), start_after(o.start_after), page_size(o.page_size) {}
  std::string prefix, delimiter, start_after;
  std::size_t page_size;
  std::string token;
  std::set<std::string> seen;
  std::size_t pages = 0;
  bool done = false;

  error fail(error e) {
    done = true;
    return e;
  }
  /// A page arrived whose next-page token is `next` (empty on the last page): keeps it, or fails
  /// with `loop` when it was followed before.
  result<void> advance(std::string&& next, std::string_view loop) {
    ++pages;
    if (next.empty()) {
      done = true;
      return {};
    }
    if (!seen.insert(next).second) return fail(error(errc::invalid_response, std::string(loop)));
    token = std::move(next);
    return {};
  }
};

/// A page as the concept gives it from what a store listed, for stores whose listing takes no
/// start key: the keys after `start_after`, and the rolled-up prefixes after it or holding it.
inline list_page after(std::vector<object_info>&& objects, std::vector<std::string>&& prefixes, std::string_view start_after) {
  list_page p;
  for (auto& o : objects)
    if (start_after.empty() || o.key > start_after) p.objects.push_back(std::move(o));
  for (auto& pre : prefixes)
    if (start_after.empty() || pre > start_after || start_after.starts_with(pre)) p.prefixes.push_back(std::move(pre));
  return p;
}

}  // namespace detail

/// Reads the file at `path` (opened at the first read; a missing file is an error then).
inline byte_source file_source(std::string path) {
  auto file = std::make_shared<std::unique_ptr<std::FILE, detail::file_closer>>();
  return [path = std::move(path), file](std::span<char> buf) -> asio::awaitable<result<std::size_t>> {
    if (!*file) {
      file->reset(std::fopen(path.c_str(), "rb"));
      if (!*file) co_return detail::io_error("cannot open", path, errno);
    }
    const std::size_t n = std::fread(buf.data(), 1, buf.size(), file->get());
    if (n < buf.size() && std::ferror(file->get())) co_return detail::io_error("cannot read", path, errno);
    co_return n;
  };
}

/// Writes to the file at `path`, created or truncated at the first write.
inline byte_sink file_sink(std::string path) {
  auto file = std::make_shared<std::unique_ptr<std::FILE, detail::file_closer>>();
  return [path = std::move(path), file](std::string_view chunk) -> asio::awaitable<result<void>> {
    if (!*file) {
      file->reset(std::fopen(path.c_str(), "wb"));
      if (!*file) co_return detail::io_error("cannot create", path, errno);
    }
    if (std::fwrite(chunk.data(), 1, chunk.size(), file->get()) != chunk.size() || std::fflush(file->get()) != 0)
      co_return detail::io_error("cannot write", path, errno);
    co_return result<void>{};
  };
}

/// Reads `data`, which must outlive the upload.
inline byte_source memory_source(std::string_view data) {
  auto at = std::make_shared<std::size_t>(0);
  return [data, at](std::span<char> buf) -> asio::awaitable<result<std::size_t>> {
    const std::size_t n = std::min(buf.size(), data.size() - *at);
    std::memcpy(buf.data(), data.data() + *at, n);
    *at += n;
    co_return n;
  };
}

/// Appends to `out`, which must outlive the download.
inline byte_sink memory_sink(std::string& out) {
  return [&out](std::string_view chunk) -> asio::awaitable<result<void>> {
    out.append(chunk);
    co_return result<void>{};
  };
}

/// A listing, page by page: `while (true) { auto page = co_await pages.next(); ... }` gives
/// result<optional<list_page>>, an empty optional after the last page.
template <class P>
concept page_range = requires(P& p) {
  { p.next() } -> std::same_as<asio::awaitable<result<std::optional<list_page>>>>;
};

/// An object store (the named requirement `ObjectStore`), one bucket or container of a cloud:
///
/// | expression                    | type                                  | does                                    |
/// |-------------------------------|---------------------------------------|-----------------------------------------|
/// | `s.put(key, body, put)`       | `awaitable<result<object_info>>`      | stores `body` (in memory) under `key`   |
/// | `s.put_stream(key, src, put)` | `awaitable<result<object_info>>`      | stores what `src` reads, in parts, without holding it all |
/// | `s.get(key, get)`             | `awaitable<result<object>>`           | reads the object (or a range) into memory |
/// | `s.get_stream(key, sink, get)`| `awaitable<result<object_info>>`      | hands the object to `sink` in order, a part at a time |
/// | `s.head(key)`                 | `awaitable<result<object_info>>`      | size, tag, type, metadata, checksums    |
/// | `s.remove(key)`               | `awaitable<result<void>>`             | deletes it (deleting a missing key succeeds) |
/// | `s.list(opts)`                | a `page_range`                        | keys in order, page by page             |
///
/// A missing key is an error of condition `not_found`; refused credentials `unauthorized`;
/// checksums that do not match are errc::integrity_violation.
template <class S>
concept object_store = requires(S& s, std::string_view key, std::string_view body, const put_options& po,
                                const get_options& go, const list_options& lo, byte_source src, byte_sink sink) {
  { s.put(key, body, po) } -> std::same_as<asio::awaitable<result<object_info>>>;
  { s.put_stream(key, src, po) } -> std::same_as<asio::awaitable<result<object_info>>>;
  { s.get(key, go) } -> std::same_as<asio::awaitable<result<object>>>;
  { s.get_stream(key, sink, go) } -> std::same_as<asio::awaitable<result<object_info>>>;
  { s.head(key) } -> std::same_as<asio::awaitable<result<object_info>>>;
  { s.remove(key) } -> std::same_as<asio::awaitable<result<void>>>;
  { s.list(lo) } -> page_range;
};

}  // namespace intg::cloud
