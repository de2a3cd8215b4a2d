// Last.fm API 2.0 on the provider kit. Every call goes to one endpoint, the method named by the
// `method` parameter; the API key travels as a parameter; auth and write methods are signed with
// `api_sig` = MD5 hex of every parameter but `format` and `callback`, sorted by name, each name
// then value, followed by the shared secret (Last.fm's authentication spec); write methods carry
// the user's session key `sk` and are POSTed with every parameter in the body. Errors are
// {"error": 29, "message": "..."} whatever the HTTP status, 200 included; 29 is the rate limit,
// 9 an invalid session key, 11 and 16 "try again later". Lists page by number, ending at
// "@attr/totalPages"; a list of one may come as a lone object (XML converted to JSON).
#pragma once

#include <intg/providers/lastfm/model.hpp>
#include <intg/rest.hpp>
#include <intg/security/crypto/encoding.hpp>
#include <intg/security/crypto/hash.hpp>

#include <algorithm>

namespace intg::lastfm {

INTG_REST_MODELS();

/// What a call carries: the API key alone (reads), a signature (auth.getToken, auth.getSession),
/// or a signature and the session key (writes).
enum class signing { key_only, app, session };

/// `api_sig` for `params` (decoded names and values) and the shared secret: exposed so that a
/// test or a fake can check signatures.
inline std::string api_signature(std::vector<std::pair<std::string, std::string>> params, std::string_view shared_secret) {
  std::stable_sort(params.begin(), params.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string text;
  for (const auto& [k, v] : params)
    if (k != "format" && k != "callback" && k != "api_sig") text += k + v;
  text += shared_secret;
  return crypto::to_hex(crypto::md5(text));
}

/// The auth scheme (a rest::signed_by signer): adds api_key, sk and api_sig as `S` says, and
/// format=json. It rebuilds the parameters on every attempt, so a retry signs afresh.
/// Settings: api_key; shared_secret (signed calls) and session_key (writes), checked when a call needs them.
template <signing S>
struct signer {
  secret api_key, shared_secret, session_key;
  result<void> configure(rest::auth_context& c) {
    auto key = c.secret_setting("api_key");
    if (!key) return key.error();
    auto secret_ = c.secret_setting("shared_secret", false);
    if (!secret_) return secret_.error();
    auto sk = c.secret_setting("session_key", false);
    if (!sk) return sk.error();
    api_key = std::move(*key), shared_secret = std::move(*secret_), session_key = std::move(*sk);
    return {};
  }
  result<void> sign(http::request& r) const {
    // Checked here, not at configure(): a client that only reads needs neither.
    if (S != signing::key_only && shared_secret.reveal().empty())
      return error(errc::unauthorized, "lastfm: this method is signed with the shared secret (settings.shared_secret is not set)");
    if (S == signing::session && session_key.reveal().empty())
      return error(errc::unauthorized, "lastfm: this method needs the user's session key (settings.session_key is not set)");
    const bool post = r.method() == http::verb::post;
    auto params = http::query::parse(r.target.query_string());
    if (!params) return params.error();
    if (post) {
      auto body = http::query::parse(r.message.body());
      if (!body) return body.error();
      params->insert(params->end(), body->begin(), body->end());
    }
    std::erase_if(*params, [](const auto& p) { return p.first == "api_key" || p.first == "sk" || p.first == "api_sig" || p.first == "format"; });
    params->emplace_back("api_key", api_key.reveal());
    if (S == signing::session) params->emplace_back("sk", session_key.reveal());
    http::query q;
    for (const auto& [k, v] : *params) q.add(k, v);
    if (S != signing::key_only) q.add("api_sig", api_signature(std::move(*params), shared_secret.reveal()));
    q.add("format", "json");
    const std::string path(r.target.path());
    auto u = http::url::parse(r.target.origin() + path + (post ? "" : "?" + q.str()));
    if (!u) return u.error();
    r.target = std::move(*u);
    r.message.target(r.target.target());
    if (post) r.form(q);
    return {};
  }
};

struct provider {
  static constexpr std::string_view name = "lastfm";
  static constexpr std::string_view category = "music";
  static constexpr std::string_view default_base_url = "https://ws.audioscrobbler.com/2.0";
  static constexpr std::string_view allowed_hosts[] = {"ws.audioscrobbler.com"};
  static constexpr std::string_view user_agent = "intg-lastfm/0.2";
  using auth = rest::auth_set<rest::signed_by<signer<signing::key_only>>, rest::signed_by<signer<signing::app>>,
                              rest::signed_by<signer<signing::session>>>;
  using pagination = rest::page_number<"page", 1>;
  static constexpr bool lone_item_as_object = true;
  static constexpr rest::error_body errors{.code = "/error", .message = "/message", .rate_limited_code = "29",
                                           .unauthorized_code = "9", .error_if_present = "/error", .retry_codes = {"11", "16"}};
  static constexpr rest::rate_limit_headers rate_limits{.windows = {}};  // Last.fm announces none
  static constexpr rest::call health{http::verb::get, "/?method=chart.getTopArtists&limit=1"};
};

using client = rest::client<provider>;
using http::verb;
constexpr std::uint8_t app_signed = static_cast<std::uint8_t>(signing::app);
constexpr std::uint8_t session_signed = static_cast<std::uint8_t>(signing::session);

inline constexpr rest::list_operation<track_match, track_search_params, 0, rest::page_number<"page", 1, "/results/trackmatches/track">>
    search_tracks{verb::get, "/?method=track.search", "track.search"};
inline constexpr rest::list_operation<artist_match, artist_search_params, 0, rest::page_number<"page", 1, "/results/artistmatches/artist">>
    search_artists{verb::get, "/?method=artist.search", "artist.search"};
inline constexpr rest::list_operation<top_track, top_tracks_params, 0,
                                      rest::page_number<"page", 1, "/toptracks/track", "/toptracks/@attr/totalPages">>
    top_tracks{verb::get, "/?method=artist.getTopTracks", "artist.getTopTracks"};

/// The desktop flow: get_token, send the user to authorization_url(api_key, token), then
/// get_session with the token; the web flow skips get_token (Last.fm calls the callback with it).
inline constexpr rest::operation<token_answer> get_token{.method = verb::get, .path = "/?method=auth.getToken",
                                                         .name = "auth.getToken", .credential = app_signed};
inline constexpr rest::operation<session_answer, session_params> get_session{
    .method = verb::get, .path = "/?method=auth.getSession", .name = "auth.getSession", .credential = app_signed};
/// Not idempotent and without an idempotency key: never resent once it may have reached Last.fm.
inline constexpr rest::operation<boost::json::value, scrobble_batch> scrobble_tracks{
    .method = verb::post, .path = "/?method=track.scrobble", .name = "track.scrobble", .body = rest::body::form, .credential = session_signed};

/// Where the user authorises the application: with the token of get_token (desktop), or with
/// the URL Last.fm sends them back to with a token (web).
inline std::string authorization_url(std::string_view api_key, std::string_view token_or_callback, bool web = false) {
  http::query q;
  q.add("api_key", api_key);
  q.add(web ? "cb" : "token", token_or_callback);
  return "https://www.last.fm/api/auth/?" + q.str();
}

/// The accepted and ignored counts of a track.scrobble answer.
inline result<scrobble_counts> counts_of(const boost::json::value& answer) {
  auto n = [&](std::string_view ptr) -> std::optional<std::int64_t> {
    boost::system::error_code ec;
    const auto* v = answer.find_pointer(ptr, ec);
    if (!v) return std::nullopt;
    const long long x = v->is_int64() ? v->get_int64() : v->is_string() ? rest::detail::number_or(std::string_view(v->get_string()), -1) : -1;
    return x >= 0 ? std::optional<std::int64_t>(x) : std::nullopt;
  };
  auto accepted = n("/scrobbles/@attr/accepted"), ignored = n("/scrobbles/@attr/ignored");
  if (!accepted || !ignored) return error(errc::invalid_response, "lastfm: track.scrobble answer without @attr accepted/ignored counts");
  return scrobble_counts{*accepted, *ignored};
}

}  // namespace intg::lastfm
