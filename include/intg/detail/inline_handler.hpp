// intg::detail::inline_handler: a move-only, type-erased completion handler of one signature that
// keeps a small handler (a coroutine's resumption, a lambda with a few captures) inside itself.
// asio::any_completion_handler puts every handler on the heap; an operation that holds thousands
// of handlers at once (a Kafka producer's in-flight messages) would pay an allocation and a free
// per operation, in scattered memory. A handler larger than the buffer, or one whose move may
// throw, is kept on the heap instead.
// What it keeps of the handler's associations: its cancellation slot. Its executor is the
// owner's business (the producer dispatches foreign ones itself); it never allocates through the
// handler's allocator. Invoking it consumes it: the handler is moved out and its storage released
// before the call, as Asio requires of operations.
#pragma once

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>

#include <cstddef>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

namespace intg::detail {

template <typename Signature, std::size_t InlineBytes = 48>
class inline_handler;

template <typename... Args, std::size_t InlineBytes>
class inline_handler<void(Args...), InlineBytes> {
 public:
  inline_handler() noexcept = default;

  template <typename H, typename Handler = std::decay_t<H>>
    requires(!std::is_same_v<Handler, inline_handler> && std::is_invocable_v<Handler&&, Args...>)
  explicit inline_handler(H&& h) : slot_(boost::asio::get_associated_cancellation_slot(h)) {
    if constexpr (fits_inside<Handler>) {
      ::new (static_cast<void*>(buf_)) Handler(std::forward<H>(h));
      ops_ = &inside<Handler>;
    } else {
      auto box = std::make_unique<Handler>(std::forward<H>(h));
      ::new (static_cast<void*>(buf_)) Handler*(box.release());
      ops_ = &boxed<Handler>;
    }
  }

  inline_handler(inline_handler&& o) noexcept : ops_(std::exchange(o.ops_, nullptr)), slot_(o.slot_) {
    if (ops_) ops_->relocate(o.buf_, buf_);
  }
  inline_handler& operator=(inline_handler&& o) noexcept {
    if (this != &o) {
      reset();
      ops_ = std::exchange(o.ops_, nullptr);
      slot_ = o.slot_;
      if (ops_) ops_->relocate(o.buf_, buf_);
    }
    return *this;
  }
  inline_handler(const inline_handler&) = delete;
  inline_handler& operator=(const inline_handler&) = delete;
  ~inline_handler() { reset(); }

  explicit operator bool() const noexcept { return ops_ != nullptr; }
  /// The wrapped handler's cancellation slot (unconnected when it had none).
  boost::asio::cancellation_slot get_cancellation_slot() const noexcept { return slot_; }

  /// Calls the handler once; afterwards this is empty. Calling an empty one is a programming error.
  void operator()(Args... args) {
    const ops* o = std::exchange(ops_, nullptr);
    o->invoke(buf_, std::forward<Args>(args)...);
  }

 private:
  struct ops {
    void (*invoke)(void* buf, Args&&... args);        // moves the handler out, releases, calls
    void (*relocate)(void* from, void* to) noexcept;  // moves into `to`, destroys `from`
    void (*destroy)(void* buf) noexcept;
  };

  template <typename Handler>
  static constexpr bool fits_inside = sizeof(Handler) <= InlineBytes && alignof(Handler) <= alignof(std::max_align_t) &&
                                      std::is_nothrow_move_constructible_v<Handler>;

  template <typename Handler>
  static Handler* held(void* buf) noexcept {
    return std::launder(static_cast<Handler*>(buf));
  }

  template <typename Handler>
  static constexpr ops inside{
      [](void* buf, Args&&... args) {
        Handler h(std::move(*held<Handler>(buf)));
        held<Handler>(buf)->~Handler();
        std::move(h)(std::forward<Args>(args)...);
      },
      [](void* from, void* to) noexcept {
        ::new (to) Handler(std::move(*held<Handler>(from)));
        held<Handler>(from)->~Handler();
      },
      [](void* buf) noexcept { held<Handler>(buf)->~Handler(); }};

  template <typename Handler>
  static constexpr ops boxed{
      [](void* buf, Args&&... args) {
        std::unique_ptr<Handler> box(*held<Handler*>(buf));
        Handler h(std::move(*box));
        box.reset();
        std::move(h)(std::forward<Args>(args)...);
      },
      [](void* from, void* to) noexcept { ::new (to) Handler*(*held<Handler*>(from)); },
      [](void* buf) noexcept { delete *held<Handler*>(buf); }};

  void reset() noexcept {
    if (ops_) std::exchange(ops_, nullptr)->destroy(buf_);
  }

  alignas(std::max_align_t) unsigned char buf_[InlineBytes];
  const ops* ops_ = nullptr;
  boost::asio::cancellation_slot slot_;
};

}  // namespace intg::detail
