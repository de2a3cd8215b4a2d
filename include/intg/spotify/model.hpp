// Forwarding header (INTG_FORWARDING_HEADER): <intg/spotify/model.hpp> moved to <intg/providers/spotify/model.hpp> in intg 0.2
// and this path goes away in 0.3. Define INTG_NO_DEPRECATED_HEADER_NOTES to silence the note.
#pragma once
#ifndef INTG_NO_DEPRECATED_HEADER_NOTES
#pragma message("<intg/spotify/model.hpp> is deprecated: include <intg/providers/spotify/model.hpp>")
#endif
#include <intg/providers/spotify/model.hpp>
