// Slack as an intg integration: intg::slack::client, its methods and models. Signed requests
// from Slack: intg::webhook::verify_slack (<intg/security/webhook.hpp>).
#pragma once

#include <intg/providers/slack/api.hpp>
#include <intg/providers/slack/model.hpp>
#include <intg/security/webhook.hpp>
