// Registering a type that is not an integration (no health_check) must fail with a concept error.
#include <intg/core/registry.hpp>
struct not_integration {
  explicit not_integration(intg::integration_config) {}
  std::string_view name() const { return "x"; }
};
void f(intg::registry& r) { r.register_integration<not_integration>({}, "t"); }
