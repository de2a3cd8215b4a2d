// Twilio as an intg integration: intg::twilio::client, its operations and models. Signed
// requests from Twilio (status callbacks, incoming messages): intg::webhook::verify_twilio
// (<intg/security/webhook.hpp>).
#pragma once

#include <intg/providers/twilio/api.hpp>
#include <intg/providers/twilio/model.hpp>
#include <intg/security/webhook.hpp>
