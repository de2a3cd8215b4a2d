// intg::rest::xml: a small reader of XML answers (S3, Azure Storage) on expat, with the limits a
// client needs against a hostile or broken server: a document type declaration is refused (so no
// entity is ever declared, expanded or fetched), and the size, the nesting depth and the number of
// elements are bounded. The answer becomes a tree of elements (local name, namespace, text,
// children); attributes, comments and processing instructions are dropped. escape() writes text
// into XML request bodies.
//
// Not part of <intg/rest.hpp>: link expat (`-lexpat`, Debian's libexpat1-dev; the CMake target
// intg::cloud does) only where it is used.
#pragma once

#include <intg/core/error.hpp>
#include <intg/core/result.hpp>

#include <expat.h>

#include <climits>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace intg::rest::xml {

/// Bounds on a document. The defaults fit every S3 answer (a ListObjectsV2 page of 1,000 keys of
/// 1,024 bytes is under 2 MiB and 10,000 elements).
struct limits {
  std::size_t max_bytes = 8u << 20;     ///< the document's size
  std::size_t max_depth = 32;           ///< nesting; the root element is depth 1
  std::size_t max_elements = 200'000;   ///< elements in the whole document
};

/// An element: its local name and namespace URI, the character data directly inside it
/// (concatenated, untrimmed: an S3 key may end with a space), and its child elements in order.
struct element {
  std::string name{};
  std::string ns{};
  std::string text{};
  std::vector<element> children{};

  /// The first child named `n`, or nullptr.
  const element* child(std::string_view n) const noexcept {
    for (const auto& c : children)
      if (c.name == n) return &c;
    return nullptr;
  }
  /// The text of the first child named `n`; empty when there is none.
  std::string_view child_text(std::string_view n) const noexcept {
    const element* c = child(n);
    return c ? std::string_view(c->text) : std::string_view{};
  }
  /// Every child named `n`, in document order.
  std::vector<const element*> all(std::string_view n) const {
    std::vector<const element*> out;
    for (const auto& c : children)
      if (c.name == n) out.push_back(&c);
    return out;
  }
};

namespace detail {

// expat reports namespaced names as "URI<sep>local"; the separator cannot occur in either.
inline constexpr char ns_separator = '\x01';

struct parse_state {
  XML_Parser parser = nullptr;
  const limits* bounds = nullptr;
  element root{};
  std::vector<element*> open{};  // the chain of open elements, root first
  std::size_t elements = 0;
  std::string refusal{};         // set when a handler stopped the parser

  void refuse(std::string why) {
    if (refusal.empty()) refusal = std::move(why);
    XML_StopParser(parser, XML_FALSE);
  }
};

inline void XMLCALL on_start(void* data, const XML_Char* qname, const XML_Char**) {
  auto& s = *static_cast<parse_state*>(data);
  if (!s.refusal.empty()) return;
  if (s.open.size() + 1 > s.bounds->max_depth) {
    s.refuse("elements nested deeper than " + std::to_string(s.bounds->max_depth) + " levels");
    return;
  }
  if (++s.elements > s.bounds->max_elements) {
    s.refuse("more than " + std::to_string(s.bounds->max_elements) + " elements");
    return;
  }
  element* e = nullptr;
  if (s.open.empty()) {
    e = &s.root;
  } else {
    // Only the innermost open element gains children, so the pointers to its ancestors stay valid.
    e = &s.open.back()->children.emplace_back();
  }
  const std::string_view q(qname);
  const auto sep = q.find(ns_separator);
  if (sep == std::string_view::npos) {
    e->name.assign(q);
  } else {
    e->ns.assign(q.substr(0, sep));
    e->name.assign(q.substr(sep + 1));
  }
  s.open.push_back(e);
}

inline void XMLCALL on_end(void* data, const XML_Char*) {
  auto& s = *static_cast<parse_state*>(data);
  if (!s.open.empty()) s.open.pop_back();
}

inline void XMLCALL on_text(void* data, const XML_Char* text, int len) {
  auto& s = *static_cast<parse_state*>(data);
  // Character data outside the root is whitespace (expat refuses anything else there).
  if (s.refusal.empty() && !s.open.empty() && len > 0) s.open.back()->text.append(text, static_cast<std::size_t>(len));
}

inline void XMLCALL on_doctype(void* data, const XML_Char*, const XML_Char*, const XML_Char*, int) {
  static_cast<parse_state*>(data)->refuse("a document type declaration (DOCTYPE) is refused: no entity is ever declared or expanded");
}

inline void XMLCALL on_entity(void* data, const XML_Char*, int, const XML_Char*, int, const XML_Char*, const XML_Char*,
                              const XML_Char*, const XML_Char*) {
  static_cast<parse_state*>(data)->refuse("an entity declaration is refused");
}

struct parser_deleter {
  void operator()(XML_ParserStruct* p) const noexcept { XML_ParserFree(p); }
};

}  // namespace detail

/// Parses `document` into its root element. A document over the limits, with a DOCTYPE or an
/// entity declaration, or not well-formed is errc::invalid_response with a message that says why
/// (and where, for a syntax error); nothing of the document's content is quoted.
inline result<element> parse(std::string_view document, const limits& bounds = {}) {
  auto fail = [](std::string why) { return error(errc::invalid_response, "XML answer refused: " + why); };
  if (document.size() > bounds.max_bytes)
    return fail("larger than " + std::to_string(bounds.max_bytes) + " bytes (" + std::to_string(document.size()) + ")");
  if (document.size() > static_cast<std::size_t>(INT_MAX)) return fail("too large");
  // UTF-8 whatever the document declares: the answers we read are UTF-8, and a declared UTF-16 or
  // Latin-1 would change what the bytes mean after our size check.
  const XML_Char sep[] = {detail::ns_separator, 0};
  std::unique_ptr<XML_ParserStruct, detail::parser_deleter> p(XML_ParserCreateNS("UTF-8", sep[0]));
  if (!p) return error(errc::invalid_response, "XML answer refused: expat could not allocate a parser");
  detail::parse_state s;
  s.parser = p.get();
  s.bounds = &bounds;
  XML_SetUserData(p.get(), &s);
  XML_SetElementHandler(p.get(), detail::on_start, detail::on_end);
  XML_SetCharacterDataHandler(p.get(), detail::on_text);
  XML_SetStartDoctypeDeclHandler(p.get(), detail::on_doctype);
  XML_SetEntityDeclHandler(p.get(), detail::on_entity);
  // Parameter entities and external subsets are never read (expat's default, stated here).
  XML_SetParamEntityParsing(p.get(), XML_PARAM_ENTITY_PARSING_NEVER);
  const auto status = XML_Parse(p.get(), document.data(), static_cast<int>(document.size()), XML_TRUE);
  if (!s.refusal.empty()) return fail(s.refusal);
  if (status != XML_STATUS_OK) {
    const auto code = XML_GetErrorCode(p.get());
    return fail(std::string(XML_ErrorString(code)) + " at line " + std::to_string(XML_GetCurrentLineNumber(p.get())) +
                ", column " + std::to_string(XML_GetCurrentColumnNumber(p.get()) + 1));
  }
  return std::move(s.root);
}

/// `text` escaped for XML character data or an attribute value (& < > " ' and CR). XML 1.0 has no
/// way to write other control characters: text holding them cannot go into an XML body.
inline std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      case '\r': out += "&#13;"; break;  // a parser would read a raw CR as LF
      default: out += c;
    }
  }
  return out;
}

}  // namespace intg::rest::xml
