// Forwarding header (INTG_FORWARDING_HEADER): <intg/spotify/client.hpp> moved to <intg/providers/spotify/client.hpp> in intg 0.2
// and this path goes away in 0.3. Define INTG_NO_DEPRECATED_HEADER_NOTES to silence the note.
#pragma once
#ifndef INTG_NO_DEPRECATED_HEADER_NOTES
#pragma message("<intg/spotify/client.hpp> is deprecated: include <intg/providers/spotify/client.hpp>")
#endif
#include <intg/providers/spotify/client.hpp>
