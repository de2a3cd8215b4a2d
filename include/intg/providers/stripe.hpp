// Stripe as an intg integration: intg::stripe::client, its operations and models. Webhook
// signatures: intg::webhook::verify_stripe (<intg/security/webhook.hpp>).
#pragma once

#include <intg/providers/stripe/api.hpp>
#include <intg/providers/stripe/model.hpp>
#include <intg/security/webhook.hpp>
