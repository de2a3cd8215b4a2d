// RESP3, the Redis protocol (redis/redis-specifications, spec/protocol/RESP3.md): an incremental
// parser that turns bytes into a flat list of nodes (pre-order, each aggregate with its element
// count and the index past its subtree), and the value types to read what it produced. Every
// limit is checked before anything is allocated for it, so a hostile or broken peer cannot make
// the parser reserve the lengths and counts it announces; malformed input is an error, never UB.
#pragma once

#include <intg/core/result.hpp>
#include <intg/redis/error.hpp>

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace intg::redis::resp3 {

/// The RESP3 types, by their first byte.
enum class type : std::uint8_t {
  simple_string,    ///< `+`
  simple_error,     ///< `-`
  number,           ///< `:` a signed 64-bit integer
  bulk_string,      ///< `$`
  array,            ///< `*`
  null,             ///< `_` (and RESP2's `$-1` / `*-1`)
  boolean,          ///< `#t` / `#f`
  double_type,      ///< `,` (also inf, -inf, nan)
  big_number,       ///< `(`
  bulk_error,       ///< `!`
  verbatim_string,  ///< `=` a three-letter format, `:`, then the text
  map,              ///< `%` key/value pairs
  set,              ///< `~`
  attribute,        ///< `|` key/value pairs describing the value that follows
  push,             ///< `>` out-of-band data (pub/sub messages, invalidations)
};

constexpr bool is_aggregate(type t) noexcept {
  return t == type::array || t == type::map || t == type::set || t == type::attribute || t == type::push;
}

/// Bounds on what one reply may hold. The defaults are safe for a shared server; Redis itself
/// accepts bulk strings up to 512 MiB (proto-max-bulk-len).
struct limits {
  std::uint64_t max_bulk_length = 64ull << 20;     ///< bytes of one bulk string, bulk error or verbatim string
  std::uint64_t max_aggregate_size = 1u << 20;     ///< elements of one aggregate (a map's pairs count twice)
  std::size_t max_depth = 32;                      ///< nesting of aggregates (a flat array is depth 1)
  std::size_t max_line_length = 64 * 1024;         ///< a simple string, error, number or header line
  std::uint64_t max_reply_size = 256ull << 20;     ///< bytes one reply occupies once parsed (values + nodes)
};

/// One value in the flat list. Scalars keep their text in the response's data (a boolean is "t"
/// or "f"; a null is empty).
struct node {
  resp3::type type = type::null;
  std::uint32_t end = 0;     ///< index one past this node's subtree
  std::uint64_t size = 0;    ///< aggregates: elements announced (a map's pairs count twice); scalars: text length
  std::size_t offset = 0;    ///< scalars: where the text starts in the response's data
};

class response;

/// A read-only view of one value in a response (valid while the response lives and is not changed).
/// Attributes are skipped when walking children: they describe a value, they are not one.
class value_ref {
 public:
  value_ref(const response& r, std::uint32_t index) noexcept : r_(&r), i_(index) {}

  resp3::type type() const noexcept;
  bool is_null() const noexcept { return type() == type::null; }
  bool is_error() const noexcept { return type() == type::simple_error || type() == type::bulk_error; }
  bool is_aggregate() const noexcept { return resp3::is_aggregate(type()); }
  /// The text of a scalar (a verbatim string without its "txt:" prefix); empty for aggregates.
  std::string_view str() const noexcept;
  /// Number of child values (a map's keys and values both count); 0 for scalars.
  std::size_t size() const noexcept;
  /// Child `i` (0-based, keys and values alternating in maps). Linear in i; iterate for big aggregates.
  value_ref operator[](std::size_t i) const noexcept;

  class iterator {
   public:
    using value_type = value_ref;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    iterator(const response* r, std::uint32_t i, std::uint32_t end) noexcept : r_(r), i_(i), end_(end) {}
    value_ref operator*() const noexcept { return {*r_, i_}; }
    iterator& operator++() noexcept;
    iterator operator++(int) noexcept {
      auto t = *this;
      ++*this;
      return t;
    }
    friend bool operator==(const iterator& a, const iterator& b) noexcept { return a.i_ == b.i_; }

   private:
    const response* r_ = nullptr;
    std::uint32_t i_ = 0;
    std::uint32_t end_ = 0;  // the parent's end: attributes are skipped up to it, never past it
  };
  iterator begin() const noexcept;
  iterator end() const noexcept;

  // Typed reads: an error reply becomes redis::errc::server_error (its text as the message), a
  // value of another type errc::unexpected_type.
  result<void> check() const;
  result<std::string> as_string() const;                 ///< any string, number, double, big number
  result<std::optional<std::string>> as_optional_string() const;  ///< as above, null as nullopt
  result<std::int64_t> as_int() const;                   ///< a number, or a string holding one
  result<bool> as_bool() const;                          ///< a boolean, or the integers 0 / 1
  result<std::vector<std::string>> as_strings() const;   ///< an array, set or push of strings
  /// A map, or an array of even length read as key, value, key, value (RESP2 style).
  result<std::vector<std::pair<std::string, std::string>>> as_pairs() const;

  std::uint32_t index() const noexcept { return i_; }

 private:
  const node& n() const noexcept;
  result<void> expect(bool ok, const char* wanted) const;
  const response* r_;
  std::uint32_t i_;
};

/// Parsed values: one top-level value per command answered, in order.
class response {
 public:
  std::size_t size() const noexcept { return roots_.size(); }
  bool empty() const noexcept { return roots_.empty(); }
  value_ref operator[](std::size_t i) const noexcept { return {*this, roots_[i]}; }
  value_ref front() const noexcept { return (*this)[0]; }
  const std::vector<node>& nodes() const noexcept { return nodes_; }
  std::string_view data() const noexcept { return data_; }
  /// Empties it and keeps its capacity.
  void clear() noexcept {
    nodes_.clear();
    data_.clear();
    roots_.clear();
  }
  /// Moves the values of `o` to the end of this one (o is left empty).
  void append(response&& o) {
    if (empty()) {
      swap(o);
      return;
    }
    const auto base = static_cast<std::uint32_t>(nodes_.size());
    const std::size_t data_base = data_.size();
    for (node n : o.nodes_) {
      n.end += base;
      if (!is_aggregate(n.type)) n.offset += data_base;
      nodes_.push_back(n);
    }
    data_ += o.data_;
    for (auto r : o.roots_) roots_.push_back(r + base);
    o.clear();
  }
  void swap(response& o) noexcept {
    nodes_.swap(o.nodes_);
    data_.swap(o.data_);
    roots_.swap(o.roots_);
  }

 private:
  friend class parser;
  friend class value_ref;
  std::vector<node> nodes_;
  std::string data_;
  std::vector<std::uint32_t> roots_;
};

/// Incremental parser: feed it what arrived, it consumes whole elements and keeps its place
/// across calls, so a reply may arrive split at any byte. Not thread-safe; one per connection.
class parser {
 public:
  parser() = default;
  explicit parser(const limits& l) : limits_(l) {}

  const resp3::limits& limits() const noexcept { return limits_; }

  /// Parses `in` into `out` until one top-level value (attributes before it included) is
  /// complete or the input runs out. Returns the bytes consumed: the caller drops them and
  /// passes the rest, with what arrives next, to the following call (and the same `out`).
  /// done() tells whether a value completed; then `out` holds one more value and the parser is
  /// ready for the next. An error leaves the parser unusable until reset().
  result<std::size_t> parse(std::string_view in, response& out) {
    if (failed_) return make_error(errc::protocol_error, "the RESP3 parser failed earlier and was not reset");
    if (done_) {
      done_ = false;
      message_start_ = static_cast<std::uint32_t>(out.nodes_.size());
      message_bytes_ = 0;
    }
    std::size_t pos = 0;
    while (!done_) {
      auto r = parse_one(in, pos, out);
      if (!r) {
        failed_ = true;
        return r.error();
      }
      if (*r == step::more) break;
    }
    return pos;
  }

  bool done() const noexcept { return done_; }
  /// Whether a value is partly parsed (bytes consumed, value not complete).
  bool in_progress() const noexcept { return !done_ && (!stack_.empty() || started_); }
  /// Forgets any partial value (after reconnecting); `out` should be cleared by the caller.
  void reset() noexcept {
    stack_.clear();
    done_ = true;
    failed_ = false;
    started_ = false;
  }

 private:
  struct frame {
    std::uint64_t remaining;
    std::uint32_t index;
  };

  static error protocol(std::string what) { return make_error(errc::protocol_error, "RESP3 protocol error: " + what); }
  static error limit(std::string what) { return make_error(errc::limit_exceeded, "RESP3 reply refused: " + what); }

  // Length or count of a header: digits only; -1 (RESP2's null) when allowed.
  static bool parse_length(std::string_view s, std::int64_t& out, bool allow_null) noexcept {
    if (allow_null && s == "-1") {
      out = -1;
      return true;
    }
    if (s.empty() || s.size() > 19) return false;
    for (char c : s)
      if (c < '0' || c > '9') return false;
    std::uint64_t v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    if (v > static_cast<std::uint64_t>(INT64_MAX)) return false;
    out = static_cast<std::int64_t>(v);
    return true;
  }

  static bool valid_integer(std::string_view s) noexcept {
    if (!s.empty() && (s[0] == '+' || s[0] == '-')) s.remove_prefix(1);
    if (s.empty() || s.size() > 19) return false;
    for (char c : s)
      if (c < '0' || c > '9') return false;
    if (s.size() == 19 && s > "9223372036854775808") return false;
    return true;  // -9223372036854775808 is valid; +9223372036854775808 is caught when read
  }
  static bool valid_big_number(std::string_view s) noexcept {
    if (!s.empty() && (s[0] == '+' || s[0] == '-')) s.remove_prefix(1);
    if (s.empty()) return false;
    for (char c : s)
      if (c < '0' || c > '9') return false;
    return true;
  }
  static bool valid_double(std::string_view s) noexcept {
    if (s == "inf" || s == "-inf" || s == "nan" || s == "+inf" || s == "-nan") return true;
    if (!s.empty() && (s[0] == '+' || s[0] == '-')) s.remove_prefix(1);
    std::size_t i = 0, digits = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
    if (i < s.size() && s[i] == '.') {
      ++i;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
    }
    if (digits == 0) return false;
    if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
      ++i;
      if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
      std::size_t exp = 0;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++exp;
      if (exp == 0) return false;
    }
    return i == s.size();
  }

  static type type_of(char c) noexcept {
    switch (c) {
      case '+': return type::simple_string;
      case '-': return type::simple_error;
      case ':': return type::number;
      case '$': return type::bulk_string;
      case '*': return type::array;
      case '_': return type::null;
      case '#': return type::boolean;
      case ',': return type::double_type;
      case '(': return type::big_number;
      case '!': return type::bulk_error;
      case '=': return type::verbatim_string;
      case '%': return type::map;
      case '~': return type::set;
      case '|': return type::attribute;
      default: return type::push;  // '>' (callers check the byte first)
    }
  }

  result<void> account(std::uint64_t bytes) {
    message_bytes_ += bytes + sizeof(node);
    if (message_bytes_ > limits_.max_reply_size)
      return limit("the reply exceeds max_reply_size (" + std::to_string(limits_.max_reply_size) + " bytes)");
    if (message_bytes_ > UINT32_MAX * std::uint64_t{sizeof(node)}) return limit("too many nodes");
    return {};
  }

  result<void> add_scalar(response& out, type t, std::string_view text) {
    if (auto a = account(text.size()); !a) return a;
    node n;
    n.type = t;
    n.size = text.size();
    n.offset = out.data_.size();
    n.end = static_cast<std::uint32_t>(out.nodes_.size() + 1);
    out.data_.append(text);
    out.nodes_.push_back(n);
    return element_done(out, t);
  }

  // A value (scalar or aggregate) just completed: count it in its parent and close parents
  // that are now full. Attributes do not count as an element of their parent.
  result<void> element_done(response& out, type t) {
    for (;;) {
      if (t == type::attribute) return {};  // the value it describes follows
      if (stack_.empty()) {
        std::uint32_t root = message_start_;
        while (out.nodes_[root].type == type::attribute) root = out.nodes_[root].end;
        out.roots_.push_back(root);
        done_ = true;
        started_ = false;
        return {};
      }
      frame& f = stack_.back();
      if (--f.remaining != 0) return {};
      node& agg = out.nodes_[f.index];
      agg.end = static_cast<std::uint32_t>(out.nodes_.size());
      t = agg.type;
      stack_.pop_back();
    }
  }

  // Parses one element at in[pos...]; `more` when it is not all there yet (nothing consumed).
  // (Not result<bool>: boost::system::result<bool, E> cannot be built from an intg::error,
  // which converts to bool explicitly.)
  enum class step : unsigned char { more, advanced };
  result<step> parse_one(std::string_view in, std::size_t& pos, response& out) {
    const std::string_view rest = in.substr(pos);
    const std::size_t scan = std::min(rest.size(), limits_.max_line_length + 3);  // type byte + line + CRLF
    const void* nl = std::memchr(rest.data(), '\n', scan);
    if (!nl) {
      if (rest.size() > limits_.max_line_length + 2)
        return limit("a line exceeds max_line_length (" + std::to_string(limits_.max_line_length) + " bytes)");
      return step::more;
    }
    const std::size_t line_len = static_cast<std::size_t>(static_cast<const char*>(nl) - rest.data());  // up to '\n'
    if (line_len < 2 || rest[line_len - 1] != '\r') return protocol("a line does not end with CRLF");
    const char tb = rest[0];
    const std::string_view content = rest.substr(1, line_len - 2);
    if (content.find('\r') != std::string_view::npos) return protocol("a line holds a CR");
    const std::size_t header = line_len + 1;
    started_ = true;
    switch (tb) {
      case '+':
      case '-':
        break;
      case ':':
        if (!valid_integer(content)) return protocol("invalid integer");
        break;
      case ',':
        if (!valid_double(content)) return protocol("invalid double");
        break;
      case '(':
        if (!valid_big_number(content)) return protocol("invalid big number");
        break;
      case '#':
        if (content != "t" && content != "f") return protocol("invalid boolean");
        break;
      case '_':
        if (!content.empty()) return protocol("a null carries data");
        break;
      case '$':
      case '!':
      case '=': {
        std::int64_t len = 0;
        if (!parse_length(content, len, tb == '$')) return protocol("invalid bulk length");
        if (len < 0) {
          pos += header;
          if (auto a = add_scalar(out, type::null, {}); !a) return a.error();
          return step::advanced;
        }
        if (static_cast<std::uint64_t>(len) > limits_.max_bulk_length)
          return limit("a bulk length of " + std::to_string(len) + " bytes exceeds max_bulk_length (" +
                       std::to_string(limits_.max_bulk_length) + ")");
        const std::size_t n = static_cast<std::size_t>(len);
        if (rest.size() - header < n + 2) return step::more;  // wait for the payload; nothing is reserved for it
        if (rest[header + n] != '\r' || rest[header + n + 1] != '\n') return protocol("a bulk payload does not end with CRLF");
        const std::string_view payload = rest.substr(header, n);
        if (tb == '=' && (n < 4 || payload[3] != ':')) return protocol("a verbatim string has no format prefix");
        pos += header + n + 2;
        if (auto a = add_scalar(out, type_of(tb), payload); !a) return a.error();
        return step::advanced;
      }
      case '*':
      case '%':
      case '~':
      case '|':
      case '>': {
        std::int64_t count = 0;
        if (!parse_length(content, count, tb == '*')) return protocol("invalid aggregate size");
        pos += header;
        if (count < 0) {
          if (auto a = add_scalar(out, type::null, {}); !a) return a.error();
          return step::advanced;
        }
        std::uint64_t elements = static_cast<std::uint64_t>(count);
        if (tb == '%' || tb == '|') elements *= 2;  // count <= INT64_MAX: no overflow
        if (elements > limits_.max_aggregate_size)
          return limit("an aggregate of " + std::to_string(elements) + " elements exceeds max_aggregate_size (" +
                       std::to_string(limits_.max_aggregate_size) + ")");
        if (stack_.size() >= limits_.max_depth)
          return limit("nesting deeper than max_depth (" + std::to_string(limits_.max_depth) + ")");
        if (auto a = account(0); !a) return a.error();
        node nd;
        nd.type = type_of(tb);
        nd.size = elements;
        nd.offset = 0;
        nd.end = static_cast<std::uint32_t>(out.nodes_.size() + 1);
        out.nodes_.push_back(nd);
        if (elements == 0) {
          if (auto a = element_done(out, nd.type); !a) return a.error();
        } else {
          stack_.push_back({elements, static_cast<std::uint32_t>(out.nodes_.size() - 1)});
        }
        return step::advanced;
      }
      case '?':
      case ';':
      case '.':
        return protocol("streamed strings and aggregates are not supported");
      default:
        return protocol("unknown type byte " + std::to_string(static_cast<unsigned char>(tb)));
    }
    pos += header;
    if (auto a = add_scalar(out, type_of(tb), content); !a) return a.error();
    return step::advanced;
  }

  resp3::limits limits_{};
  std::vector<frame> stack_;
  std::uint32_t message_start_ = 0;
  std::uint64_t message_bytes_ = 0;
  bool done_ = true;  // true between values: the next parse() starts a new one
  bool failed_ = false;
  bool started_ = false;
};

// ---- value_ref ----

inline const node& value_ref::n() const noexcept { return r_->nodes_[i_]; }
inline resp3::type value_ref::type() const noexcept { return n().type; }
inline std::string_view value_ref::str() const noexcept {
  const node& x = n();
  if (resp3::is_aggregate(x.type)) return {};
  std::string_view s(r_->data_.data() + x.offset, static_cast<std::size_t>(x.size));
  if (x.type == type::verbatim_string) s.remove_prefix(4);
  return s;
}
inline std::size_t value_ref::size() const noexcept {
  std::size_t k = 0;
  for (auto it = begin(); it != end(); ++it) ++k;
  return k;
}
inline value_ref::iterator& value_ref::iterator::operator++() noexcept {
  i_ = r_->nodes_[i_].end;
  while (i_ < end_ && r_->nodes_[i_].type == type::attribute) i_ = r_->nodes_[i_].end;
  return *this;
}
inline value_ref::iterator value_ref::begin() const noexcept {
  if (!is_aggregate() || n().end == i_ + 1) return end();
  std::uint32_t c = i_ + 1;
  while (r_->nodes_[c].type == type::attribute) c = r_->nodes_[c].end;
  return {r_, c, n().end};
}
inline value_ref::iterator value_ref::end() const noexcept { return {r_, n().end, n().end}; }
inline value_ref value_ref::operator[](std::size_t i) const noexcept {
  auto it = begin();
  while (i-- > 0) ++it;
  return *it;
}

inline result<void> value_ref::check() const {
  if (is_error()) return server_error(str());
  return {};
}
inline result<void> value_ref::expect(bool ok, const char* wanted) const {
  if (auto c = check(); !c) return c;
  if (ok) return {};
  static constexpr const char* names[] = {"simple string", "simple error", "number", "bulk string", "array",
                                          "null", "boolean", "double", "big number", "bulk error",
                                          "verbatim string", "map", "set", "attribute", "push"};
  return make_error(errc::unexpected_type,
                    std::string("expected ") + wanted + ", got " + names[static_cast<int>(type())]);
}
inline result<std::string> value_ref::as_string() const {
  const auto t = type();
  const bool ok = t == type::simple_string || t == type::bulk_string || t == type::verbatim_string ||
                  t == type::number || t == type::double_type || t == type::big_number;
  if (auto e = expect(ok, "a string"); !e) return e.error();
  return std::string(str());
}
inline result<std::optional<std::string>> value_ref::as_optional_string() const {
  if (is_null()) return std::optional<std::string>{};
  auto s = as_string();
  if (!s) return s.error();
  return std::optional<std::string>(std::move(*s));
}
inline result<std::int64_t> value_ref::as_int() const {
  const auto t = type();
  const bool ok = t == type::number || t == type::bulk_string || t == type::simple_string;
  if (auto e = expect(ok, "an integer"); !e) return e.error();
  const std::string_view s = str();
  const char* b = s.data() + (!s.empty() && s[0] == '+' ? 1 : 0);
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(b, s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size() || b == p)
    return make_error(errc::unexpected_type, "expected an integer, got a string that is not one");
  return v;
}
inline result<bool> value_ref::as_bool() const {
  if (type() == type::boolean) return str() == "t";
  auto i = as_int();
  if (!i) return result<bool>(boost::system::in_place_error, i.error());  // bool is constructible from an error
  return *i != 0;
}
inline result<std::vector<std::string>> value_ref::as_strings() const {
  const auto t = type();
  if (auto e = expect(t == type::array || t == type::set || t == type::push, "an array"); !e) return e.error();
  std::vector<std::string> v;
  for (auto c : *this) {
    auto s = c.as_string();
    if (!s) return s.error();
    v.push_back(std::move(*s));
  }
  return v;
}
inline result<std::vector<std::pair<std::string, std::string>>> value_ref::as_pairs() const {
  const auto t = type();
  if (auto e = expect(t == type::map || (t == type::array && n().size % 2 == 0), "a map"); !e) return e.error();
  std::vector<std::pair<std::string, std::string>> v;
  for (auto it = begin(); it != end();) {
    auto k = (*it++).as_string();
    if (!k) return k.error();
    auto val = (*it++).as_string();
    if (!val) return val.error();
    v.emplace_back(std::move(*k), std::move(*val));
  }
  return v;
}

}  // namespace intg::redis::resp3
