// Caches an expiring credential (an OAuth access token; AWS temporary credentials) and refreshes
// it a margin before it expires. Any number of concurrent callers share one in-flight refresh
// (single flight: no stampede on the token endpoint); an invalid_grant stops all further refreshes
// until reset(). Time comes from an intg clock, so tests drive expiry with intg::manual_clock.
#pragma once

#include <intg/security/auth/oauth2.hpp>
#include <intg/core/clock.hpp>
#include <intg/core/error.hpp>
#include <intg/core/result.hpp>
#include <intg/core/secret.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <concepts>
#include <cstdint>
#include <memory>
#include <optional>
#include <type_traits>

namespace intg::auth::oauth2 {

/// A credential the manager can cache: it says when it expires (`expires_at` on the manager's
/// clock, which the manager stamps from `expires_in` when the source leaves it empty).
template <class T>
concept expiring_credential = std::copy_constructible<T> && requires(T& t, const T& c, time_point now, duration margin) {
  { c.expires_within(now, margin) } -> std::same_as<bool>;
  { t.expires_at } -> std::convertible_to<std::optional<time_point>>;
  { t.expires_in } -> std::convertible_to<std::optional<std::chrono::seconds>>;
};

namespace detail {
template <class S>
struct credential_of {
  using type = token;
};
template <class S>
  requires requires { typename S::credential_type; }
struct credential_of<S> {
  using type = typename S::credential_type;
};
}  // namespace detail

/// What a source obtains: `S::credential_type` when it names one, else an OAuth token.
template <class S>
using credential_of_t = typename detail::credential_of<std::remove_cvref_t<S>>::type;

/// What the token manager calls to obtain a credential (the named requirement `TokenSource`):
/// `s()` or `s(const C* previous)` returning `asio::awaitable<result<C>>`, where C is
/// `credential_of_t<S>` (an OAuth token unless the source names another `credential_type`). The
/// second form receives the current credential (nullptr when there is none), e.g. for its
/// refresh_token.
template <class S, class C = credential_of_t<S>>
concept token_source = expiring_credential<C> &&
    (std::same_as<std::invoke_result_t<S&>, asio::awaitable<result<C>>> ||
     std::same_as<std::invoke_result_t<S&, const C*>, asio::awaitable<result<C>>>);

struct token_manager_options {
  /// Refresh this long before the token expires, so callers never get a token about to die.
  duration refresh_margin = std::chrono::seconds{60};
};

/// Caches the credential of a TokenSource (an OAuth token unless the source names another
/// `credential_type`). Not thread-safe: use one manager from one strand (or a single-threaded
/// io_context); share it between coroutines freely.
template <token_source TokenSource, clock Clock = steady_clock>
class token_manager {
 public:
  using credential_type = credential_of_t<TokenSource>;

  token_manager(asio::any_io_executor ex, TokenSource source, token_manager_options opts = {}, Clock clock = {})
      : ex_(std::move(ex)), source_(std::move(source)), opts_(opts), clock_(std::move(clock)) {}

  /// A valid token: the cached one, or a fresh one (fetched once however many callers wait).
  /// While a refresh fails transiently, a cached token that has not yet expired is still served.
  asio::awaitable<result<credential_type>> get() {
    for (;;) {
      if (dead_) co_return *dead_;
      const time_point now = clock_.now();
      if (cached_ && !cached_->expires_within(now, opts_.refresh_margin)) co_return *cached_;
      if (!refreshing_) break;
      // Someone else is fetching: wait for their result instead of fetching again.
      const std::uint64_t gen = generation_;
      auto event = event_;
      boost::system::error_code ec;
      co_await event->async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (generation_ == gen) co_return error{errc::cancelled};  // our own wait was cancelled
      if (dead_) co_return *dead_;
      if (cached_ && !cached_->expires_within(clock_.now())) co_return *cached_;
      if (last_error_) co_return *last_error_;
    }
    // This caller fetches; the others wait on event_. (Kept in this frame rather than a nested
    // coroutine: one frame fewer, and g++ 12 misreports a nested one under sanitizers.)
    const time_point started = clock_.now();
    refreshing_ = true;
    event_ = std::make_shared<asio::steady_timer>(ex_, std::chrono::steady_clock::time_point::max());
    ++fetches_;
    // Wakes the waiters however this frame ends: normally, by an exception from the source, or
    // destroyed mid-fetch when its io_context shuts down.
    struct finisher {
      token_manager* self;
      ~finisher() {
        if (self->refreshing_) self->finish();
      }
    } guard{this};
    result<credential_type> r = error{errc::unavailable};
    if constexpr (std::is_invocable_v<TokenSource&, const credential_type*>) {
      const credential_type* previous = cached_ ? &*cached_ : nullptr;
      r = co_await source_(previous);
    } else {
      r = co_await source_();
    }
    if (r) {
      // Stamp the expiry from when the request started: the conservative end of the window.
      if (!r->expires_at && r->expires_in) r->expires_at = started + *r->expires_in;
      cached_ = std::move(*r);
      last_error_.reset();
      finish();
      co_return *cached_;
    }
    error e = r.error();
    if (e == errc::invalid_grant) {
      dead_ = e;  // the grant is gone: retrying cannot help, and would hammer the endpoint
      cached_.reset();
    }
    last_error_ = e;
    finish();
    if (!dead_ && cached_ && !cached_->expires_within(clock_.now())) co_return *cached_;
    co_return e;
  }

  /// The Authorization header value, e.g. "Bearer <token>" (a secret).
  asio::awaitable<result<secret>> authorization()
    requires std::same_as<credential_type, token>
  {
    auto t = co_await get();
    if (!t) co_return t.error();
    co_return secret{t->token_type + " " + std::string(t->access_token.reveal())};
  }

  /// Forgets the cached token (e.g. the API answered 401): the next get() fetches a new one.
  void invalidate() noexcept { cached_.reset(); }
  /// Clears a stored invalid_grant (e.g. after new credentials were configured).
  void reset() noexcept {
    dead_.reset();
    last_error_.reset();
  }

  /// How many times the source was called.
  std::uint64_t fetches() const noexcept { return fetches_; }
  /// The cached token, if any (no fetch).
  const std::optional<credential_type>& cached() const noexcept { return cached_; }

 private:
  void finish() {
    refreshing_ = false;
    ++generation_;
    auto event = std::move(event_);
    event->cancel();  // wakes every waiter
  }

  asio::any_io_executor ex_;
  TokenSource source_;
  token_manager_options opts_;
  Clock clock_;
  std::optional<credential_type> cached_;
  std::optional<error> dead_;
  std::optional<error> last_error_;
  bool refreshing_ = false;
  std::uint64_t generation_ = 0;
  std::uint64_t fetches_ = 0;
  std::shared_ptr<asio::steady_timer> event_;
};

}  // namespace intg::auth::oauth2
