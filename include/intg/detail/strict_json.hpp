// Parsing JSON that must not be ambiguous: Boost.JSON keeps the last of duplicate member names
// silently, so {"alg":"RS256","alg":"none"} would mean different things to different parsers.
// strict_parse_object runs a validating pass (boost::json::basic_parser) that refuses duplicate
// names at any depth, then parses for real.
#pragma once

#include <intg/core/error.hpp>
#include <intg/core/result.hpp>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace intg::detail {

class duplicate_key_checker {
 public:
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);

  bool duplicate = false;

  bool on_document_begin(boost::json::error_code&) { return true; }
  bool on_document_end(boost::json::error_code&) { return true; }
  bool on_array_begin(boost::json::error_code&) { return true; }
  bool on_array_end(std::size_t, boost::json::error_code&) { return true; }
  bool on_object_begin(boost::json::error_code&) {
    keys_.emplace_back();
    return true;
  }
  bool on_object_end(std::size_t, boost::json::error_code&) {
    keys_.pop_back();
    return true;
  }
  bool on_string_part(boost::json::string_view, std::size_t, boost::json::error_code&) { return true; }
  bool on_string(boost::json::string_view, std::size_t, boost::json::error_code&) { return true; }
  bool on_key_part(boost::json::string_view s, std::size_t, boost::json::error_code&) {
    key_.append(s.data(), s.size());
    return true;
  }
  bool on_key(boost::json::string_view s, std::size_t, boost::json::error_code& ec) {
    key_.append(s.data(), s.size());
    const bool fresh = keys_.back().insert(std::move(key_)).second;
    key_.clear();
    if (!fresh) {
      duplicate = true;
      ec = boost::json::make_error_code(boost::json::error::syntax);  // stops the parser
      return false;
    }
    return true;
  }
  bool on_number_part(boost::json::string_view, boost::json::error_code&) { return true; }
  bool on_int64(std::int64_t, boost::json::string_view, boost::json::error_code&) { return true; }
  bool on_uint64(std::uint64_t, boost::json::string_view, boost::json::error_code&) { return true; }
  bool on_double(double, boost::json::string_view, boost::json::error_code&) { return true; }
  bool on_bool(bool, boost::json::error_code&) { return true; }
  bool on_null(boost::json::error_code&) { return true; }
  bool on_comment_part(boost::json::string_view, boost::json::error_code&) { return true; }
  bool on_comment(boost::json::string_view, boost::json::error_code&) { return true; }

 private:
  std::vector<std::unordered_set<std::string>> keys_;
  std::string key_;
};

/// Parses `text` as one JSON object, refusing duplicate member names (at any depth), comments,
/// trailing commas and invalid UTF-8. `what` names the document in error messages.
inline result<boost::json::object> strict_parse_object(std::string_view text, errc code, std::string_view what) {
  boost::json::parse_options opts;  // strict by default: no comments, no trailing commas
  opts.max_depth = 32;
  boost::json::basic_parser<duplicate_key_checker> checker(opts);
  boost::json::error_code ec;
  const std::size_t n = checker.write_some(false, text.data(), text.size(), ec);
  if (checker.handler().duplicate) return error{code, std::string(what) + ": duplicate member name"};
  if (ec || n != text.size()) return error{code, std::string(what) + ": not valid JSON"};
  boost::json::value v = boost::json::parse(boost::json::string_view(text.data(), text.size()), ec, {}, opts);
  if (ec) return error{code, std::string(what) + ": not valid JSON"};
  if (!v.is_object()) return error{code, std::string(what) + ": not a JSON object"};
  return std::move(v.get_object());
}

}  // namespace intg::detail
