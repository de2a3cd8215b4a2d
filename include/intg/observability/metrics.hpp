// Metrics: counters, gauges and histograms with labels, and their Prometheus text exposition
// (format 0.0.4). Updating a metric you hold is one atomic operation; finding a labelled child
// takes a lock, so look children up once and keep the reference (it stays valid as long as the
// registry).
#pragma once

#include <intg/core/error.hpp>

#include <algorithm>
#include <charconv>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace intg::observability {

/// A monotonically increasing value.
class counter {
 public:
  /// Adds `v` (must be >= 0; negative or NaN increments are ignored, as a counter never decreases).
  void inc(double v = 1.0) noexcept {
    if (!(v >= 0)) return;
    value_.fetch_add(v, std::memory_order_relaxed);
  }
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

/// A value that goes up and down.
class gauge {
 public:
  void set(double v) noexcept { value_.store(v, std::memory_order_relaxed); }
  void inc(double v = 1.0) noexcept { value_.fetch_add(v, std::memory_order_relaxed); }
  void dec(double v = 1.0) noexcept { value_.fetch_sub(v, std::memory_order_relaxed); }
  double value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

/// Observations counted into buckets with fixed upper bounds, plus their sum and count.
class histogram {
 public:
  /// `bounds` must be finite and strictly increasing; +Inf is implicit.
  explicit histogram(std::vector<double> bounds)
      : histogram(std::make_shared<const std::vector<double>>(std::move(bounds))) {}
  /// Shares `bounds` (a family's children all have the same ones: one copy per family).
  explicit histogram(std::shared_ptr<const std::vector<double>> bounds)
      : bounds_(std::move(bounds)), buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_->size() + 1)) {}

  void observe(double v) noexcept {
    const auto it = std::lower_bound(bounds_->begin(), bounds_->end(), v);  // first bound >= v ("le")
    buckets_[static_cast<std::size_t>(it - bounds_->begin())].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(v, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
  }

  const std::vector<double>& bounds() const noexcept { return *bounds_; }
  /// Observations in bucket i alone (not cumulative); i == bounds().size() is the +Inf bucket.
  std::uint64_t bucket(std::size_t i) const noexcept { return buckets_[i].load(std::memory_order_relaxed); }
  double sum() const noexcept { return sum_.load(std::memory_order_relaxed); }
  std::uint64_t count() const noexcept { return count_.load(std::memory_order_relaxed); }

  /// Latency buckets in seconds, from 1 ms to 10 s.
  static std::vector<double> default_seconds() { return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}; }

 private:
  std::shared_ptr<const std::vector<double>> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;
  std::atomic<double> sum_{0};
  std::atomic<std::uint64_t> count_{0};
};

enum class metric_type { counter, gauge, histogram };

namespace detail {

inline bool valid_metric_name(std::string_view n) noexcept {
  if (n.empty()) return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    const char c = n[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!(alpha || (i > 0 && c >= '0' && c <= '9'))) return false;
  }
  return true;
}

inline bool valid_label_name(std::string_view n) noexcept {
  if (n.empty() || n.starts_with("__") || n == "le") return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    const char c = n[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!(alpha || (i > 0 && c >= '0' && c <= '9'))) return false;
  }
  return true;
}

// Sample values: NaN, +Inf, -Inf, otherwise the shortest text that reads back as the same double.
inline void append_value(std::string& out, double v) {
  if (std::isnan(v)) out += "NaN";
  else if (std::isinf(v)) out += v > 0 ? "+Inf" : "-Inf";
  else {
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, ec == std::errc{} ? end : buf);
  }
}

inline void append_escaped(std::string& out, std::string_view s, bool quotes) {
  std::size_t plain = 0;  // start of the run of characters copied as they are
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c != '\\' && c != '\n' && !(quotes && c == '"')) continue;
    out.append(s, plain, i - plain);
    out += c == '\\' ? "\\\\" : c == '\n' ? "\\n" : "\\\"";
    plain = i + 1;
  }
  out.append(s, plain);
}

}  // namespace detail

/// A named metric with a fixed set of label names; one child per combination of label values.
template <class Metric>
class family {
 public:
  family(std::string name, std::string help, std::vector<std::string> label_names, std::vector<double> bounds = {})
      : name_(std::move(name)),
        help_(std::move(help)),
        labels_(std::move(label_names)),
        bounds_(std::make_shared<const std::vector<double>>(std::move(bounds))) {}

  /// The child for these label values (one per label name, in order). Throws intg::exception
  /// (invalid_argument) on a wrong number of values. The reference stays valid.
  Metric& with(std::initializer_list<std::string_view> values) {
    if (values.size() != labels_.size())
      throw exception(error{errc::invalid_argument, "metric " + name_ + " takes " + std::to_string(labels_.size()) +
                                                        " label values, got " + std::to_string(values.size())});
    std::lock_guard lock(mutex_);
    auto it = children_.lower_bound(values);  // compares the views with the stored values: no allocation
    if (it != children_.end() && !key_less{}(values, it->first)) return it->second;
    key k;
    k.reserve(values.size());
    for (std::string_view v : values) k.push_back(intern(v));
    if constexpr (std::is_same_v<Metric, histogram>)
      return children_.emplace_hint(it, std::piecewise_construct, std::forward_as_tuple(std::move(k)), std::forward_as_tuple(bounds_))->second;
    else
      return children_.emplace_hint(it, std::piecewise_construct, std::forward_as_tuple(std::move(k)), std::forward_as_tuple())->second;
  }
  /// The child of a family without labels.
  Metric& get() { return with({}); }

  const std::string& name() const noexcept { return name_; }
  const std::string& help() const noexcept { return help_; }
  const std::vector<std::string>& label_names() const noexcept { return labels_; }

  /// Calls f(label_values, metric) for every child, in label order.
  template <class F>
  void for_each(F&& f) const {
    std::vector<std::string> values;
    for_each_child([&](const key& k, const Metric& m) {
      values.resize(k.size());
      for (std::size_t i = 0; i < k.size(); ++i) values[i] = *k[i];
      f(std::as_const(values), m);
    });
  }

 private:
  friend class metrics_registry;

  // A child's label values, in label order, each pointing into `values_`: a family holds every
  // distinct value once (an integration's name appears in all its children, a tenant in all of
  // its integrations'), and a child costs one map node and one small array.
  using key = std::vector<const std::string*>;
  struct key_less {
    using is_transparent = void;
    static std::string_view view(const std::string* s) noexcept { return *s; }
    static std::string_view view(std::string_view s) noexcept { return s; }
    template <class A, class B>
    bool operator()(const A& a, const B& b) const noexcept {
      return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                          [](const auto& x, const auto& y) { return view(x) < view(y); });
    }
  };

  const std::string* intern(std::string_view v) {
    auto it = values_.find(v);
    if (it == values_.end()) it = values_.emplace(v).first;
    return &*it;
  }

  template <class F>
  void for_each_child(F&& f) const {
    std::lock_guard lock(mutex_);
    for (const auto& [k, m] : children_) f(k, m);
  }

  std::string name_, help_;
  std::vector<std::string> labels_;
  std::shared_ptr<const std::vector<double>> bounds_;  // histograms: shared by the children
  mutable std::mutex mutex_;
  std::set<std::string, std::less<>> values_;    // the label values in use, each once; stable addresses
  std::map<key, Metric, key_less> children_;     // map nodes: stable addresses for the references handed out
};

/// Owns metric families and renders them in the Prometheus text format.
class metrics_registry {
 public:
  family<counter>& add_counter(std::string name, std::string help, std::vector<std::string> labels = {}) {
    return add<counter>(metric_type::counter, std::move(name), std::move(help), std::move(labels), {});
  }
  family<gauge>& add_gauge(std::string name, std::string help, std::vector<std::string> labels = {}) {
    return add<gauge>(metric_type::gauge, std::move(name), std::move(help), std::move(labels), {});
  }
  family<histogram>& add_histogram(std::string name, std::string help, std::vector<std::string> labels = {},
                                   std::vector<double> bounds = histogram::default_seconds()) {
    for (std::size_t i = 0; i < bounds.size(); ++i)
      if (!std::isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1])))
        throw exception(error{errc::invalid_argument, "histogram " + name + ": bucket bounds must be finite and increasing"});
    return add<histogram>(metric_type::histogram, std::move(name), std::move(help), std::move(labels), std::move(bounds));
  }

  /// Prometheus text exposition format 0.0.4 (content type `text/plain; version=0.0.4; charset=utf-8`).
  std::string render_prometheus() const {
    std::string out;
    std::lock_guard lock(mutex_);
    out.reserve(last_render_size_);  // a scrape is about as large as the previous one
    std::string labels;  // one child's label="value" pairs, written once for all its lines
    for (const auto& e : entries_) {
      out += "# HELP " + e.name + ' ';
      detail::append_escaped(out, e.help, false);
      out += "\n# TYPE " + e.name + ' ';
      out += e.type == metric_type::counter ? "counter" : e.type == metric_type::gauge ? "gauge" : "histogram";
      out += '\n';
      switch (e.type) {
        case metric_type::counter:
          static_cast<const family<counter>*>(e.ptr)->for_each_child([&](const auto& values, const counter& c) {
            label_pairs(labels, e.labels, values);
            sample(out, e.name, labels, {}, c.value());
          });
          break;
        case metric_type::gauge:
          static_cast<const family<gauge>*>(e.ptr)->for_each_child([&](const auto& values, const gauge& g) {
            label_pairs(labels, e.labels, values);
            sample(out, e.name, labels, {}, g.value());
          });
          break;
        case metric_type::histogram: {
          const auto& f = *static_cast<const family<histogram>*>(e.ptr);
          const std::string bucket = e.name + "_bucket", sum = e.name + "_sum", count = e.name + "_count";
          std::vector<std::string> le;  // the bounds as text, the same for every child
          for (double b : *f.bounds_) detail::append_value(le.emplace_back(), b);
          f.for_each_child([&](const auto& values, const histogram& h) {
            label_pairs(labels, e.labels, values);
            // Read the buckets first: the count written is their total, so the exposition stays
            // consistent (+Inf == _count) even while observations keep arriving.
            std::uint64_t cumulative = 0;
            for (std::size_t i = 0; i < le.size(); ++i) {
              cumulative += h.bucket(i);
              sample(out, bucket, labels, le[i], static_cast<double>(cumulative));
            }
            cumulative += h.bucket(le.size());
            sample(out, bucket, labels, "+Inf", static_cast<double>(cumulative));
            sample(out, sum, labels, {}, h.sum());
            sample(out, count, labels, {}, static_cast<double>(cumulative));
          });
          break;
        }
      }
    }
    last_render_size_ = out.size();
    return out;
  }

 private:
  struct entry {
    std::string name;
    std::string help;
    metric_type type;
    std::vector<std::string> labels;
    const void* ptr;
  };

  template <class Metric>
  family<Metric>& add(metric_type type, std::string name, std::string help, std::vector<std::string> labels,
                      std::vector<double> bounds) {
    if (!detail::valid_metric_name(name)) throw exception(error{errc::invalid_argument, "invalid metric name '" + name + "'"});
    for (std::size_t i = 0; i < labels.size(); ++i) {
      if (!detail::valid_label_name(labels[i]))
        throw exception(error{errc::invalid_argument, "invalid label name '" + labels[i] + "' for metric " + name});
      for (std::size_t j = 0; j < i; ++j)
        if (labels[i] == labels[j]) throw exception(error{errc::invalid_argument, "duplicate label '" + labels[i] + "' for metric " + name});
    }
    std::lock_guard lock(mutex_);
    for (const auto& e : entries_)
      if (e.name == name) throw exception(error{errc::invalid_argument, "metric '" + name + "' is already registered"});
    auto f = std::make_unique<family<Metric>>(name, std::move(help), labels, std::move(bounds));
    family<Metric>& ref = *f;
    entries_.push_back(entry{std::move(name), ref.help(), type, std::move(labels), f.get()});
    owned_.push_back(std::shared_ptr<void>(f.release(), [](void* p) { delete static_cast<family<Metric>*>(p); }));
    return ref;
  }

  // label="value",... for one child (empty for a family without labels).
  static void label_pairs(std::string& out, const std::vector<std::string>& labels, const std::vector<const std::string*>& values) {
    out.clear();
    for (std::size_t i = 0; i < labels.size(); ++i) {
      if (i) out += ',';
      out += labels[i];
      out += "=\"";
      detail::append_escaped(out, *values[i], true);
      out += '"';
    }
  }

  // name{labels[,le="..."]} value
  static void sample(std::string& out, std::string_view name, std::string_view labels, std::string_view le, double v) {
    out += name;
    if (!labels.empty() || !le.empty()) {
      out += '{';
      out += labels;
      if (!le.empty()) {
        if (!labels.empty()) out += ',';
        out += "le=\"";
        out += le;
        out += '"';
      }
      out += '}';
    }
    out += ' ';
    detail::append_value(out, v);
    out += '\n';
  }

  mutable std::mutex mutex_;
  mutable std::size_t last_render_size_ = 0;  // guarded by mutex_
  std::vector<entry> entries_;
  std::vector<std::shared_ptr<void>> owned_;
};

}  // namespace intg::observability
