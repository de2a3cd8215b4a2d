// Last.fm as an intg integration: intg::lastfm::client, its operations and models.
#pragma once

#include <intg/providers/lastfm/api.hpp>
#include <intg/providers/lastfm/model.hpp>
