// intg::rest, the provider kit: a provider is a traits struct, described models and one line per
// operation; rest::client<Provider> does the rest. See docs/rest_kit.md.
#pragma once

#include <intg/rest/auth.hpp>
#include <intg/rest/client.hpp>
#include <intg/rest/errors.hpp>
#include <intg/rest/idempotency.hpp>
#include <intg/rest/operation.hpp>
#include <intg/rest/pagination.hpp>
#include <intg/rest/provider.hpp>
#include <intg/rest/rate_limit.hpp>
