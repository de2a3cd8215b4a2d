// Apple Music as an intg integration: intg::apple_music::client, its operations and models.
#pragma once

#include <intg/providers/apple_music/api.hpp>
#include <intg/providers/apple_music/model.hpp>
