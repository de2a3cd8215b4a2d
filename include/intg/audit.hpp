// A tamper-evident audit log for compliance: append-only JSON Lines where every record carries
// the hash of the previous one (a SHA-256 chain, or an HMAC-SHA256 chain when a key is given),
// an fsync policy, and a verifier that detects altered, removed, reordered or truncated records.
// Records say who did what, for which tenant, when and with what outcome. Values built from an
// intg::secret are written as "***": secrets never reach the log.
//
// Line format (one JSON object per line, members in this order):
//   {"seq":0,"time":"2024-05-01T12:00:00.123Z","actor":"alice","action":"secret.rotate",
//    "tenant":"t1","target":"db_password","outcome":"success","details":{...},
//    "prev":"<64 hex>","hash":"<64 hex>"}
// `hash` = hex(SHA-256(line up to `prev` inclusive, closed with '}')), or HMAC-SHA256 with the
// key; `prev` of the first record is 64 zeros. A head file (`<log>.head`, {"records":N,"hash":h})
// is replaced atomically at each sync: verifying against it detects truncation at the end.
// Keep a copy of the head elsewhere too: whoever can rewrite the log can rewrite its head.
#pragma once

#include <intg/crypto/compare.hpp>
#include <intg/crypto/encoding.hpp>
#include <intg/crypto/hash.hpp>
#include <intg/crypto/hmac.hpp>
#include <intg/detail/file_io.hpp>
#include <intg/detail/strict_json.hpp>
#include <intg/error.hpp>
#include <intg/result.hpp>
#include <intg/secret.hpp>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace intg {

enum class audit_outcome { success, failure, denied };

inline std::string_view to_string(audit_outcome o) noexcept {
  switch (o) {
    case audit_outcome::success: return "success";
    case audit_outcome::failure: return "failure";
    case audit_outcome::denied: return "denied";
  }
  return "failure";
}

/// One detail of an audit record. A field made from an intg::secret is always written "***".
struct audit_field {
  struct redacted {};
  std::string_view key;
  std::variant<std::string_view, std::int64_t, bool, redacted> value;

  audit_field(std::string_view k, std::string_view v) : key(k), value(v) {}
  audit_field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  audit_field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  audit_field(std::string_view k, std::int64_t v) : key(k), value(v) {}
  audit_field(std::string_view k, int v) : key(k), value(static_cast<std::int64_t>(v)) {}
  audit_field(std::string_view k, bool v) : key(k), value(v) {}
  audit_field(std::string_view k, const secret&) : key(k), value(redacted{}) {}
};

/// What happened. Views: the log copies what it writes.
struct audit_record {
  std::string_view actor{};   ///< who: a user id, service account or API key id (never the key)
  std::string_view action{};  ///< what: e.g. "token.issue", "secret.rotate", "login"
  std::string_view tenant{};  ///< which tenant (may be empty)
  std::string_view target{};  ///< on what (may be empty)
  audit_outcome outcome = audit_outcome::success;
  std::initializer_list<audit_field> details = {};
};

/// When records reach the disk.
enum class fsync_policy {
  every_record,  ///< fsync after each record: nothing acknowledged is lost on a crash (slowest)
  every_n,       ///< fsync after every `fsync_every` records (and on sync() / destruction)
  never,         ///< leave it to the OS (fastest; a crash may lose the last records)
};

struct audit_options {
  fsync_policy fsync = fsync_policy::every_record;
  unsigned fsync_every = 100;
  /// When non-empty, the chain is HMAC-SHA256 with this key: without the key nobody can
  /// recompute a consistent chain after editing the file.
  secret chain_key{};
  bool write_head = true;  ///< maintain `<log>.head`
  std::function<std::chrono::system_clock::time_point()> now = [] { return std::chrono::system_clock::now(); };
};

/// The position of a log: how many records, and the hash of the last one.
struct audit_head {
  std::uint64_t records = 0;
  std::string hash = std::string(64, '0');
};

namespace detail {

inline constexpr std::size_t audit_suffix_size = 9 + 64 + 2;  // ,"hash":" <64 hex> "}

inline std::string chain_hash(std::string_view body, std::string_view key) {
  return key.empty() ? crypto::to_hex(crypto::sha256(body)) : crypto::to_hex(crypto::hmac_sha256(key, body));
}

inline std::string rfc3339_millis(std::chrono::system_clock::time_point t) {
  const auto ms = std::chrono::floor<std::chrono::milliseconds>(t);
  const std::time_t secs = std::chrono::system_clock::to_time_t(std::chrono::floor<std::chrono::seconds>(ms));
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[96];  // generous: the compiler cannot bound tm's fields
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>((ms.time_since_epoch() % std::chrono::seconds(1)).count()));
  return buf;
}

inline std::filesystem::path head_path(const std::filesystem::path& log) { return log.string() + ".head"; }

// Walks a log's text and checks every link. Returns the head at the end.
inline result<audit_head> verify_chain(std::string_view text, std::string_view key) {
  auto bad = [](std::uint64_t line, std::string why) {
    return error{errc::integrity_violation, "audit log line " + std::to_string(line + 1) + ": " + why};
  };
  audit_head head;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    if (nl == std::string_view::npos) return bad(head.records, "truncated record (no end of line)");
    const std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    static constexpr std::string_view marker = ",\"hash\":\"";
    if (line.size() < audit_suffix_size + 2 || line.substr(line.size() - audit_suffix_size, marker.size()) != marker ||
        line.substr(line.size() - 2) != "\"}")
      return bad(head.records, "no hash");
    const std::string_view hash = line.substr(line.size() - 66, 64);
    std::string body(line.substr(0, line.size() - audit_suffix_size));
    body += '}';
    if (!crypto::constant_time_equal(chain_hash(body, key), hash))
      return bad(head.records, "hash mismatch (record altered, or wrong chain key)");
    auto rec = strict_parse_object(body, errc::integrity_violation, "audit record");
    if (!rec) return bad(head.records, std::string(rec.error().message()));
    const auto* seq = rec->if_contains("seq");
    const auto* prev = rec->if_contains("prev");
    if (!seq || !seq->is_int64() || seq->get_int64() != static_cast<std::int64_t>(head.records))
      return bad(head.records, "sequence number out of order (record removed or reordered)");
    if (!prev || !prev->is_string() || prev->get_string() != head.hash)
      return bad(head.records, "previous-hash link broken (record removed, reordered or inserted)");
    head.hash = std::string(hash);
    ++head.records;
  }
  return head;
}

inline result<std::optional<audit_head>> read_head(const std::filesystem::path& p) {
  auto text = read_file(p, 4096);
  if (!text) {
    if (text.error() == errc::not_found) return std::optional<audit_head>{};
    return text.error();
  }
  auto o = strict_parse_object(*text, errc::integrity_violation, "audit head");
  if (!o) return o.error();
  const auto* n = o->if_contains("records");
  const auto* h = o->if_contains("hash");
  if (!n || !n->is_int64() || n->get_int64() < 0 || !h || !h->is_string() || h->get_string().size() != 64)
    return error{errc::integrity_violation, "audit head file is malformed"};
  return std::optional<audit_head>(audit_head{static_cast<std::uint64_t>(n->get_int64()), std::string(h->get_string())});
}

}  // namespace detail

/// Verifies the log at `path`: every hash, sequence number and link, and, when `expected` (or
/// the `<log>.head` file, used when `expected` is not given) is present, that the log still
/// holds that head: fewer records means truncation, another hash means rewriting. Returns the
/// log's head; errors are errc::integrity_violation with the first bad line.
inline result<audit_head> verify_audit_log(const std::filesystem::path& path, std::string_view chain_key = {},
                                           std::optional<audit_head> expected = std::nullopt) {
  auto text = detail::read_file(path, std::size_t(1) << 34);
  if (!text) return text.error();
  if (!expected) {
    auto h = detail::read_head(detail::head_path(path));
    if (!h) return h.error();
    expected = *h;
  }
  // Walk to the checkpoint first so its hash can be compared, then on to the end.
  auto head = detail::verify_chain(*text, chain_key);
  if (!head) return head.error();
  if (expected && expected->records > 0) {
    if (head->records < expected->records)
      return error{errc::integrity_violation, "audit log truncated: " + std::to_string(head->records) + " records, head says " +
                                                  std::to_string(expected->records)};
    // Hash of record number expected->records - 1.
    std::string_view rest = *text;
    for (std::uint64_t i = 0; i + 1 < expected->records; ++i) rest.remove_prefix(rest.find('\n') + 1);
    const std::string_view line = rest.substr(0, rest.find('\n'));
    if (line.substr(line.size() - 66, 64) != expected->hash)
      return error{errc::integrity_violation, "audit log does not match its head (rewritten)"};
  }
  return head;
}

/// The writer. Thread-safe: appends are serialised by a mutex. One writer per file.
class audit_log {
 public:
  /// Opens (or creates, mode 0600) the log at `path`. An existing log is verified first and
  /// continued; a broken chain is refused (errc::integrity_violation) rather than extended.
  static result<audit_log> open(const std::filesystem::path& path, audit_options opts = {}) {
    audit_log log;
    log.state_ = std::make_unique<state>();
    auto& s = *log.state_;
    s.path = path;
    s.opts = std::move(opts);
    auto text = detail::read_file(path, std::size_t(1) << 34);
    if (text) {
      auto head = verify_audit_log(path, s.opts.chain_key.reveal());
      if (!head) return head.error();
      s.head = std::move(*head);
    } else if (text.error() != errc::not_found) {
      return text.error();
    }
    s.fd = detail::unique_fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
    if (!s.fd) return detail::io_error("cannot open audit log", path);
    return log;
  }

  audit_log(audit_log&&) noexcept = default;
  audit_log& operator=(audit_log&&) noexcept = default;
  ~audit_log() {
    if (state_ && state_->unsynced > 0) (void)sync();
  }

  /// Appends one record; returns its sequence number.
  result<std::uint64_t> append(const audit_record& r) {
    auto& s = *state_;
    boost::json::object o;
    boost::json::object details;
    for (const auto& f : r.details) {
      std::visit(
          [&](const auto& v) {
            using V = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<V, audit_field::redacted>) details[f.key] = secret::redacted;
            else details[f.key] = v;
          },
          f.value);
    }
    std::lock_guard lock(s.mutex);
    const std::uint64_t seq = s.head.records;
    o["seq"] = seq;
    o["time"] = detail::rfc3339_millis(s.opts.now());
    o["actor"] = r.actor;
    o["action"] = r.action;
    o["tenant"] = r.tenant;
    o["target"] = r.target;
    o["outcome"] = to_string(r.outcome);
    o["details"] = std::move(details);
    o["prev"] = s.head.hash;
    std::string body = boost::json::serialize(o);
    const std::string hash = detail::chain_hash(body, s.opts.chain_key.reveal());
    body.pop_back();  // reopen the object to append the hash
    body += ",\"hash\":\"" + hash + "\"}\n";
    if (auto w = detail::write_all(s.fd.get(), body, s.path); !w) return w.error();  // one write: O_APPEND
    s.head.records = seq + 1;
    s.head.hash = hash;
    ++s.unsynced;
    if (s.opts.fsync == fsync_policy::every_record ||
        (s.opts.fsync == fsync_policy::every_n && s.unsynced >= std::max(1u, s.opts.fsync_every))) {
      if (auto r2 = sync_locked(); !r2) return r2.error();
    }
    return seq;
  }

  /// Flushes to disk (fsync, unless the policy is `never`) and updates the head file.
  result<void> sync() {
    std::lock_guard lock(state_->mutex);
    return sync_locked();
  }

  /// The current head (publish it somewhere the log's writer cannot rewrite).
  audit_head head() const {
    std::lock_guard lock(state_->mutex);
    return state_->head;
  }

 private:
  audit_log() = default;

  result<void> sync_locked() {
    auto& s = *state_;
    if (s.opts.fsync != fsync_policy::never && ::fsync(s.fd.get()) != 0) return detail::io_error("cannot fsync", s.path);
    s.unsynced = 0;
    if (s.opts.write_head) {
      boost::json::object h;
      h["records"] = s.head.records;
      h["hash"] = s.head.hash;
      return detail::atomic_replace(detail::head_path(s.path), boost::json::serialize(h));
    }
    return {};
  }

  struct state {
    std::filesystem::path path;
    audit_options opts;
    detail::unique_fd fd;
    audit_head head;
    unsigned unsynced = 0;
    mutable std::mutex mutex;
  };
  std::unique_ptr<state> state_;
};

}  // namespace intg
