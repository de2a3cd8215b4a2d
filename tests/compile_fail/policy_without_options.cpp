// A policy must have a nested `options` aggregate: this one does not, so the pipeline rejects it.
#include <intg/core/pipeline.hpp>
struct bad_policy {
  intg::gate admit(intg::attempt&, intg::no_ticket&) { return intg::gate::proceed(); }
};
intg::pipeline<bad_policy> p;
