// OAuth 2.0 over HTTP: posting token requests to a token endpoint with intg::http::client, token
// sources for the token manager (client credentials, refresh token, JWT bearer), and sending API
// requests with a managed bearer token (one refresh and one replay on a 401).
#pragma once

#include <intg/core/attempt.hpp>
#include <intg/security/auth/oauth2.hpp>
#include <intg/security/auth/token_manager.hpp>
#include <intg/core/error.hpp>
#include <intg/http/client.hpp>
#include <intg/core/result.hpp>
#include <intg/core/secret.hpp>

#include <chrono>
#include <functional>
#include <string>

namespace intg::auth::oauth2 {

/// POSTs `req` (form body, optional Basic credentials) to `endpoint` and parses the answer: a
/// token, or the endpoint's RFC 6749 error (`invalid_grant` is errc::invalid_grant, which retry
/// policies never retry). Pass the attempt when calling inside a pipeline.
inline asio::awaitable<result<token>> request_token(http::client& client, const http::url& endpoint,
                                                    const token_request& req, attempt* a = nullptr) {
  http::request r(http::verb::post, endpoint);
  r.body(std::string(req.body.reveal()), "application/x-www-form-urlencoded");
  r.set(http::field::accept, "application/json");
  if (!req.authorization.empty()) r.set(http::field::authorization, req.authorization.reveal());
  // (Not `a ? co_await ... : co_await ...`: g++ 12 destroys the result of such a conditional twice.)
  result<http::response> res = error{errc::unavailable};
  if (a) res = co_await client.send(r, *a);
  else res = co_await client.send(r);
  // The request held credentials: wipe our copy of the body and header before anything else.
  { secret wipe_body{std::move(r.message.body())}; }
  r.message.erase(http::field::authorization);
  if (!res) co_return res.error();
  const int status = static_cast<int>(res->result_int());
  if (status >= 500 || status == 429) {
    error e = http::status_error(*res);
    co_return e.with_message("token endpoint " + endpoint.origin() + " answered HTTP " + std::to_string(status));
  }
  co_return parse_token_response(res->body(), status);
}

/// TokenSource: the client-credentials grant (an application token).
struct client_credentials_source {
  http::client* http = nullptr;
  http::url endpoint;
  oauth2::client client;
  std::string scope;

  asio::awaitable<result<token>> operator()() const {
    co_return co_await request_token(*http, endpoint, client_credentials_request(client, scope));
  }
};

/// TokenSource: a user's tokens, renewed with the refresh-token grant. The first refresh uses
/// `refresh_token`; later ones the newest one the server sent (servers may rotate it, or omit it
/// to mean "keep the old one").
struct refresh_token_source {
  http::client* http = nullptr;
  http::url endpoint;
  oauth2::client client;
  secret refresh_token;
  std::string scope;

  asio::awaitable<result<token>> operator()(const token* previous) {
    const secret& current = previous && !previous->refresh_token.empty() ? previous->refresh_token : refresh_token;
    if (current.empty()) co_return error{errc::invalid_grant, "no refresh token: the user must authorize again"};
    auto t = co_await request_token(*http, endpoint, refresh_token_request(client, current, scope));
    if (t && t->refresh_token.empty()) t->refresh_token = current;
    if (t) refresh_token = t->refresh_token;
    co_return t;
  }
};

/// TokenSource: the JWT-bearer grant (RFC 7523) with a service account's signed assertion, as
/// Google's OAuth 2.0 server expects; a fresh assertion for every fetch.
struct service_account_source {
  http::client* http = nullptr;
  service_account account;
  std::string scope;

  asio::awaitable<result<token>> operator()() const {
    auto assertion = jwt_bearer_assertion(account, scope, std::chrono::system_clock::now());
    if (!assertion) co_return assertion.error();
    auto endpoint = http::url::parse(account.token_uri);
    if (!endpoint) co_return error{errc::config_error, "service account token_uri is not a valid URL"};
    co_return co_await request_token(*http, *endpoint, jwt_bearer_request(*assertion));
  }
};

/// Sends `req` with `Authorization: <token type> <token>` from `tokens`. When the API answers 401
/// (an expired or revoked token), the cached token is dropped, a new one fetched, and the request
/// sent once more. Returns the response whatever its status, like http::client::send.
template <class TokenManager>
asio::awaitable<result<http::response>> send_authorized(http::client& client, TokenManager& tokens, http::request& req,
                                                        attempt* a = nullptr) {
  for (int round = 0;; ++round) {
    auto auth = co_await tokens.authorization();
    if (!auth) co_return auth.error();
    req.set(http::field::authorization, auth->reveal());
    result<http::response> res = error{errc::unavailable};
    if (a) res = co_await client.send(req, *a);
    else res = co_await client.send(req);
    req.message.erase(http::field::authorization);
    if (!res || res->result_int() != 401 || round == 1) co_return res;
    tokens.invalidate();
  }
}

}  // namespace intg::auth::oauth2
