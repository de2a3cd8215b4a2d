// intg::secret: a string that never prints. Streams, formatting and events show it as "***";
// its memory is wiped when it goes away. Read it with reveal(), at the point of use only.
#pragma once

#include <cstddef>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace intg {

class secret {
 public:
  secret() = default;
  explicit secret(std::string value) : value_(std::move(value)) {}
  secret(const secret&) = default;
  // Moving copies then wipes: a moved-from short string would keep its bytes in its inline buffer.
  secret(secret&& o) : value_(o.value_) { o.wipe(); }
  secret& operator=(const secret& o) {
    if (this != &o) {
      wipe();
      value_ = o.value_;
    }
    return *this;
  }
  secret& operator=(secret&& o) {
    if (this != &o) {
      wipe();
      value_ = o.value_;
      o.wipe();
    }
    return *this;
  }
  ~secret() { wipe(); }

  /// The value itself. Never log it, put it in an error or a span.
  std::string_view reveal() const noexcept { return value_; }
  bool empty() const noexcept { return value_.empty(); }

  friend std::ostream& operator<<(std::ostream& os, const secret&) { return os << redacted; }
  friend bool operator==(const secret&, const secret&) = delete;  // compare with a constant-time function

  static constexpr std::string_view redacted = "***";

 private:
  void wipe() noexcept {
    volatile char* p = value_.data();
    for (std::size_t i = 0; i < value_.size(); ++i) p[i] = 0;
    value_.clear();
  }
  std::string value_;
};

}  // namespace intg
