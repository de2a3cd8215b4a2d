// The Spotify Web API as an intg integration: intg::spotify::client and its models.
#pragma once

#include <intg/providers/spotify/model.hpp>
#include <intg/providers/spotify/client.hpp>
