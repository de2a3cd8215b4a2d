// intg shared policy state: policies whose state is shared by the replicas of a service through
// Redis (an optional part: <intg/intg.hpp> does not include it). See docs/shared_state.md.
#pragma once

#include <intg/shared/breaker_script.hpp>
#include <intg/shared/circuit_breaker.hpp>
#include <intg/shared/gcra.hpp>
#include <intg/shared/quota.hpp>
#include <intg/shared/quota_script.hpp>
#include <intg/shared/rate_limiter.hpp>
#include <intg/shared/redis_link.hpp>
#include <intg/shared/token_cache.hpp>
#include <intg/shared/token_script.hpp>
