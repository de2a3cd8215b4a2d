// intg::tracing: a span per call and, when it sits outside intg::retry, a span per attempt, with
// W3C trace-context ids (the attempt's trace() is what an HTTP request sends as `traceparent`).
// Finished spans go to an optional span_observer, where metrics and exporters plug in; without one
// the policy only maintains ids. Nothing here allocates per call.
#pragma once

#include <intg/observability/trace_context.hpp>
#include <intg/policy/layer.hpp>
#include <intg/core/random.hpp>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace intg {

enum class span_kind : std::uint8_t { call, attempt };

/// A finished span, valid only during span_observer::on_span_end.
struct span_record {
  std::string_view name;
  span_kind kind = span_kind::call;
  trace_context context;                      ///< this span's trace id and span id
  std::array<std::uint8_t, 8> parent_span_id{};  ///< all zero for a root span
  time_point start{};
  time_point end{};
  int attempt = 0;                            ///< attempt number for attempt spans, else attempts made
  const error* outcome = nullptr;             ///< nullptr on success
  std::string_view partition_key;

  bool ok() const noexcept { return outcome == nullptr; }
  duration elapsed() const noexcept { return end - start; }
};

/// Receives finished spans. Implementations must be thread-safe when the pipeline is shared.
class span_observer {
 public:
  virtual ~span_observer() = default;
  virtual void on_span_end(const span_record& span) noexcept = 0;
};

template <random_source Random = thread_random>
class tracing {
 public:
  struct options {
    std::string name = "intg.call";          ///< span name unless call_options::operation is set
    std::shared_ptr<span_observer> observer{};  ///< where finished spans go (may be null)
    bool sampled = true;                     ///< the sampled flag of new traces
    Random random{};
  };

  // The call span's id and its parent's; the trace id and flags live in attempt::trace().
  struct ticket {
    std::array<std::uint8_t, 8> call{};
    std::array<std::uint8_t, 8> parent{};
  };

  tracing() : tracing(options{}) {}
  explicit tracing(options o) : s_(std::make_shared<state>(std::move(o))) {}

  const options& get_options() const noexcept { return s_->opts; }

  gate admit(attempt& a, ticket& t) noexcept {
    const trace_context* parent = a.options().parent;
    if (!s_->opts.observer) {
      // Nobody sees spans: only the ids the operation reads matter, drawn when it reads them.
      if (a.number() > 1 && a.has_trace()) {
        a.defer_span_id();  // inside a retry layer: later attempts stay in the call's trace
      } else if (parent && parent->valid()) {
        a.trace().trace_id = parent->trace_id;
        a.trace().flags = parent->flags & 1;
        a.defer_trace_ids(&next_random, &s_->random, false);
      } else {
        a.trace().flags = s_->opts.sampled ? 1 : 0;
        a.defer_trace_ids(&next_random, &s_->random, true);
      }
      return gate::proceed();
    }
    trace_context& tc = a.trace();
    if (a.number() > 1 && tc.valid()) {
      // Inside a retry layer admit() runs per attempt: later attempts stay in the call's trace.
      trace_context::fill(s_->random, t.call.data(), t.call.size());
      tc.span_id = t.call;
      if (s_->opts.observer) (void)a.started();
      return gate::proceed();
    }
    if (parent && parent->valid()) {
      tc.trace_id = parent->trace_id;
      t.parent = parent->span_id;
      tc.flags = parent->flags & 1;
    } else {
      trace_context::fill(s_->random, tc.trace_id.data(), tc.trace_id.size());
      t.parent = {};
      tc.flags = s_->opts.sampled ? 1 : 0;
    }
    trace_context::fill(s_->random, t.call.data(), t.call.size());
    tc.span_id = t.call;
    if (s_->opts.observer) (void)a.call_started();  // spans need the true start time
    return gate::proceed();
  }

  void complete(attempt& a, ticket& t, const error* e) noexcept {
    if (!s_->opts.observer) return;
    trace_context call = a.trace();
    call.span_id = t.call;
    span_record s{name(a), span_kind::call, call, t.parent, a.call_started(), a.ended(), a.number(), e,
                  a.partition_key()};
    s_->opts.observer->on_span_end(s);
  }

  void on_attempt_start(attempt& a, ticket&) noexcept {
    if (!s_->opts.observer) {
      a.defer_span_id();
      return;
    }
    trace_context::fill(s_->random, a.trace().span_id.data(), a.trace().span_id.size());
    (void)a.started();
  }

  void on_attempt_end(attempt& a, ticket& t, const error* e) noexcept {
    if (!s_->opts.observer) return;
    span_record s{name(a), span_kind::attempt, a.trace(), t.call, a.started(), a.ended(),
                  a.number(), e, a.partition_key()};
    s_->opts.observer->on_span_end(s);
  }

 private:
  static std::uint64_t next_random(void* r) noexcept { return (*static_cast<Random*>(r))(); }

  std::string_view name(const attempt& a) const noexcept {
    return a.options().operation.empty() ? std::string_view(s_->opts.name) : a.options().operation;
  }
  struct state {
    explicit state(options o) : opts(std::move(o)), random(opts.random) {}
    options opts;
    Random random;
  };
  std::shared_ptr<state> s_;
};

}  // namespace intg
