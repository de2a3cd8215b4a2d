// The whole of intg in one include. Link with -lboost_json -lssl -lcrypto -pthread.
#pragma once

#include <intg/version.hpp>
#include <intg/error.hpp>
#include <intg/result.hpp>
#include <intg/clock.hpp>
#include <intg/random.hpp>
#include <intg/observability/trace_context.hpp>
#include <intg/attempt.hpp>
#include <intg/policy/layer.hpp>
#include <intg/policy/backoff.hpp>
#include <intg/policy/retry.hpp>
#include <intg/policy/circuit_breaker.hpp>
#include <intg/policy/rate_limiter.hpp>
#include <intg/policy/timeout.hpp>
#include <intg/policy/bulkhead.hpp>
#include <intg/policy/tracing.hpp>
#include <intg/policy/fallback.hpp>
#include <intg/pipeline.hpp>
#include <intg/secret.hpp>
#include <intg/event.hpp>
#include <intg/health.hpp>
#include <intg/integration_config.hpp>
#include <intg/integration.hpp>
#include <intg/config.hpp>
#include <intg/registry.hpp>
#include <intg/dashboard.hpp>
