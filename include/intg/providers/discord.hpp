// Discord as an intg integration: intg::discord::client, its operations and models.
#pragma once

#include <intg/providers/discord/api.hpp>
#include <intg/providers/discord/model.hpp>
