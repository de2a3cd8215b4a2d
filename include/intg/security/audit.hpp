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
//
// Start-up: open() verifies only what follows the checkpoint (`<log>.checkpoint`, the offset and
// hash of a record already verified, MACed with the chain key when there is one); the full walk
// is verify_audit_log(). A final line without its newline (a crash or a full disk mid-write) is
// cut at open and the cut recorded as an "audit.repair" record; a complete record that does not
// verify is never cut: the log is refused. An append whose write fails part-way is rolled back.
#pragma once

#include <intg/security/crypto/compare.hpp>
#include <intg/security/crypto/encoding.hpp>
#include <intg/security/crypto/hash.hpp>
#include <intg/security/crypto/hmac.hpp>
#include <intg/detail/file_io.hpp>
#include <intg/detail/strict_json.hpp>
#include <intg/core/error.hpp>
#include <intg/core/result.hpp>
#include <intg/core/secret.hpp>

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
  /// Rewrite `<log>.checkpoint` after this many new records (at a sync) and when the log is
  /// closed; open() then verifies only the records after it. 0: no checkpoint, open() verifies all.
  std::uint64_t checkpoint_every = 10000;
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

inline std::filesystem::path checkpoint_path(const std::filesystem::path& log) { return log.string() + ".checkpoint"; }

struct audit_line {
  std::int64_t seq = -1;
  std::string prev;
  std::string_view hash;  // into the line
};

// Checks one line (without its newline): its hash, and that it is a record with seq and prev.
inline result<audit_line> check_line(std::string_view line, std::string_view key) {
  static constexpr std::string_view marker = ",\"hash\":\"";
  if (line.size() < audit_suffix_size + 2 || line.substr(line.size() - audit_suffix_size, marker.size()) != marker ||
      line.substr(line.size() - 2) != "\"}")
    return error{errc::integrity_violation, "no hash"};
  audit_line out;
  out.hash = line.substr(line.size() - 66, 64);
  std::string body(line.substr(0, line.size() - audit_suffix_size));
  body += '}';
  if (!crypto::constant_time_equal(chain_hash(body, key), out.hash))
    return error{errc::integrity_violation, "hash mismatch (record altered, or wrong chain key)"};
  auto rec = strict_parse_object(body, errc::integrity_violation, "audit record");
  if (!rec) return rec.error();
  const auto* seq = rec->if_contains("seq");
  const auto* prev = rec->if_contains("prev");
  if (seq && seq->is_int64()) out.seq = seq->get_int64();
  if (prev && prev->is_string()) out.prev = std::string(prev->get_string());
  return out;
}

struct chain_scan {
  audit_head head;
  std::size_t last_start = 0;  // offset in the text of the last record's line
};

// Walks a log's text from `start` (the head before its first line) and checks every link and,
// when given, that the log holds `expected` (record expected->records - 1 has its hash).
inline result<chain_scan> verify_chain(std::string_view text, std::string_view key, audit_head start = {},
                                       const std::optional<audit_head>& expected = std::nullopt) {
  auto bad = [](std::uint64_t line, std::string why) {
    return error{errc::integrity_violation, "audit log line " + std::to_string(line + 1) + ": " + why};
  };
  if (expected && expected->records > 0 && expected->records == start.records && expected->hash != start.hash)
    return error{errc::integrity_violation, "audit log does not match its head (rewritten)"};
  chain_scan scan{std::move(start), 0};
  auto& head = scan.head;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto nl = text.find('\n', pos);
    if (nl == std::string_view::npos) return bad(head.records, "truncated record (no end of line)");
    auto rec = check_line(text.substr(pos, nl - pos), key);
    if (!rec) return bad(head.records, std::string(rec.error().message()));
    if (rec->seq != static_cast<std::int64_t>(head.records))
      return bad(head.records, "sequence number out of order (record removed or reordered)");
    if (rec->prev != head.hash) return bad(head.records, "previous-hash link broken (record removed, reordered or inserted)");
    head.hash = std::string(rec->hash);
    ++head.records;
    scan.last_start = pos;
    pos = nl + 1;
    if (expected && expected->records == head.records && expected->hash != head.hash)
      return error{errc::integrity_violation, "audit log does not match its head (rewritten)"};
  }
  if (expected && head.records < expected->records)
    return error{errc::integrity_violation, "audit log truncated: " + std::to_string(head.records) + " records, head says " +
                                                std::to_string(expected->records)};
  return scan;
}

// A checkpoint: record `records - 1` occupies bytes [start, end) of the log and hashes to `hash`.
struct audit_checkpoint {
  std::uint64_t records = 0, start = 0, end = 0;
  std::string hash;
};

inline std::string checkpoint_mac(const audit_checkpoint& c, std::string_view key) {
  return crypto::to_hex(crypto::hmac_sha256(key, "intg-audit-checkpoint/1\n" + std::to_string(c.records) + "\n" +
                                                     std::to_string(c.start) + "\n" + std::to_string(c.end) + "\n" + c.hash));
}

inline result<void> write_checkpoint(const std::filesystem::path& log, const audit_checkpoint& c, std::string_view key) {
  boost::json::object o;
  o["records"] = c.records;
  o["start"] = c.start;
  o["end"] = c.end;
  o["hash"] = c.hash;
  if (!key.empty()) o["mac"] = checkpoint_mac(c, key);
  return atomic_replace(checkpoint_path(log), boost::json::serialize(o));
}

// The checkpoint, when there is one that is well formed and, with a key, carries a valid MAC.
// Anything else is ignored (nullopt): the caller then verifies the whole log.
inline std::optional<audit_checkpoint> read_checkpoint(const std::filesystem::path& log, std::string_view key) {
  auto text = read_file(checkpoint_path(log), 4096);
  if (!text) return std::nullopt;
  auto o = strict_parse_object(*text, errc::integrity_violation, "audit checkpoint");
  if (!o) return std::nullopt;
  auto num = [&](const char* k) -> std::optional<std::uint64_t> {
    const auto* v = o->if_contains(k);
    if (!v || !v->is_int64() || v->get_int64() < 0) return std::nullopt;
    return static_cast<std::uint64_t>(v->get_int64());
  };
  const auto n = num("records"), b = num("start"), e = num("end");
  const auto* h = o->if_contains("hash");
  if (!n || !b || !e || *n == 0 || *b >= *e || !h || !h->is_string() || h->get_string().size() != 64) return std::nullopt;
  audit_checkpoint c{*n, *b, *e, std::string(h->get_string())};
  if (!key.empty()) {
    const auto* m = o->if_contains("mac");
    if (!m || !m->is_string() || !crypto::constant_time_equal(checkpoint_mac(c, key), std::string_view(m->get_string())))
      return std::nullopt;
  }
  return c;
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
  auto scan = detail::verify_chain(*text, chain_key, {}, expected);
  if (!scan) return scan.error();
  return scan->head;
}

/// The writer. Thread-safe: appends are serialised by a mutex. One writer per file.
class audit_log {
 public:
  /// Opens (or creates, mode 0600) the log at `path` and continues it. The records after the
  /// checkpoint (all of them without one) are verified against the chain and the head file; a
  /// broken chain is refused (errc::integrity_violation) rather than extended. A final line
  /// without its newline is cut and an "audit.repair" record says how many bytes were cut.
  static result<audit_log> open(const std::filesystem::path& path, audit_options opts = {}) {
    audit_log log;
    log.state_ = std::make_unique<state>();
    auto& s = *log.state_;
    s.path = path;
    s.opts = std::move(opts);
    const std::string_view key = s.opts.chain_key.reveal();
    auto expected = detail::read_head(detail::head_path(path));
    if (!expected) return expected.error();

    // Where verification starts: after a checkpoint that checks out, else at the beginning.
    std::uint64_t base = 0;  // file offset of `text`
    std::size_t skip = 0;    // bytes of `text` already verified (the checkpoint's record)
    audit_head start;
    std::optional<std::string> text;
    if (s.opts.checkpoint_every > 0) {
      if (auto cp = detail::read_checkpoint(path, key); cp && (!*expected || (*expected)->records >= cp->records)) {
        auto rest = detail::read_file_from(path, cp->start, std::size_t(1) << 34);
        const std::size_t len = static_cast<std::size_t>(cp->end - cp->start);
        if (rest && rest->size() >= len && (*rest)[len - 1] == '\n') {
          auto line = detail::check_line(std::string_view(*rest).substr(0, len - 1), key);
          // The record at the checkpoint must be there, intact, and be the one the checkpoint names.
          if (line && line->seq == static_cast<std::int64_t>(cp->records - 1) && line->hash == cp->hash) {
            base = cp->start;
            skip = len;
            start = {cp->records, cp->hash};
            s.last_start = cp->start;
            s.checkpointed = cp->records;
            text = std::move(*rest);
          }
        }
      }
    }
    if (!text) {
      auto whole = detail::read_file(path, std::size_t(1) << 34);
      if (!whole && whole.error() != errc::not_found) return whole.error();
      text = whole ? std::move(*whole) : std::string();
    }
    // A torn final line: only what follows the last newline, never a complete record.
    std::size_t torn = 0;
    if (!text->empty() && text->back() != '\n') {
      const auto nl = text->rfind('\n');
      torn = text->size() - (nl == std::string::npos ? 0 : nl + 1);
      text->resize(text->size() - torn);
    }
    auto scan = detail::verify_chain(std::string_view(*text).substr(skip), key, start, *expected);
    if (!scan) return scan.error();
    s.head = std::move(scan->head);
    s.size = base + text->size();
    if (s.head.records > start.records) s.last_start = base + skip + scan->last_start;

    s.fd = detail::unique_fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
    if (!s.fd) return detail::io_error("cannot open audit log", path);
    if (torn > 0) {
      if (::ftruncate(s.fd.get(), static_cast<off_t>(s.size)) != 0) return detail::io_error("cannot cut the torn line of", path);
      auto r = log.append({.actor = "intg", .action = "audit.repair", .target = "audit_log",
                           .outcome = audit_outcome::success,
                           .details = {{"reason", "torn final line (no end of line) cut at open"},
                                       {"cut_bytes", static_cast<std::int64_t>(torn)},
                                       {"offset", static_cast<std::int64_t>(s.size)}}});
      if (!r) return r.error();
    }
    // A long stretch verified here is not worth verifying again at the next start.
    if (s.opts.checkpoint_every > 0 && s.head.records >= s.checkpointed + s.opts.checkpoint_every) {
      std::lock_guard lock(s.mutex);
      if (auto r = log.checkpoint_locked(); !r) return r.error();
    }
    return log;
  }

  audit_log(audit_log&&) noexcept = default;
  audit_log& operator=(audit_log&&) noexcept = default;
  ~audit_log() {
    if (!state_) return;
    if (state_->unsynced > 0) (void)sync();
    std::lock_guard lock(state_->mutex);
    if (state_->opts.checkpoint_every > 0 && state_->head.records > state_->checkpointed && !state_->broken)
      (void)checkpoint_locked();
  }

  /// Appends one record; returns its sequence number. If the write fails part-way (a full disk,
  /// a file size limit), the file is cut back to the previous record.
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
    if (s.broken) return error{errc::integrity_violation, "audit log " + s.path.string() + " holds a partial record; reopen it to repair"};
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
    if (auto w = detail::write_all(s.fd.get(), body, s.path); !w) {  // one write: O_APPEND
      if (::ftruncate(s.fd.get(), static_cast<off_t>(s.size)) != 0) s.broken = true;  // back to the last record
      return w.error();
    }
    s.last_start = s.size;
    s.size += body.size();
    s.head.records = seq + 1;
    s.head.hash = hash;
    ++s.unsynced;
    if (s.opts.fsync == fsync_policy::every_record ||
        (s.opts.fsync == fsync_policy::every_n && s.unsynced >= std::max(1u, s.opts.fsync_every))) {
      if (auto r2 = sync_locked(); !r2) return r2.error();
    }
    return seq;
  }

  /// Flushes to disk (fsync, unless the policy is `never`) and updates the head file (and the
  /// checkpoint, every `checkpoint_every` records).
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
      if (auto r = detail::atomic_replace(detail::head_path(s.path), boost::json::serialize(h)); !r) return r;
    }
    if (s.opts.checkpoint_every > 0 && s.head.records >= s.checkpointed + s.opts.checkpoint_every) return checkpoint_locked();
    return {};
  }

  // Only records that reached the disk are checkpointed (fsync first, unless the policy says never).
  result<void> checkpoint_locked() {
    auto& s = *state_;
    if (s.head.records == 0) return {};
    if (s.opts.fsync != fsync_policy::never && ::fsync(s.fd.get()) != 0) return detail::io_error("cannot fsync", s.path);
    const detail::audit_checkpoint c{s.head.records, s.last_start, s.size, s.head.hash};
    if (auto r = detail::write_checkpoint(s.path, c, s.opts.chain_key.reveal()); !r) return r;
    s.checkpointed = s.head.records;
    return {};
  }

  struct state {
    std::filesystem::path path;
    audit_options opts;
    detail::unique_fd fd;
    audit_head head;
    std::uint64_t size = 0;          // bytes of complete records in the file
    std::uint64_t last_start = 0;    // offset of the last record
    std::uint64_t checkpointed = 0;  // records covered by the checkpoint file
    unsigned unsynced = 0;
    bool broken = false;  // a failed append could not be rolled back
    mutable std::mutex mutex;
  };
  std::unique_ptr<state> state_;
};

}  // namespace intg
