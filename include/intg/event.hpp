// Forwarding header (INTG_FORWARDING_HEADER): <intg/event.hpp> moved to <intg/core/event.hpp> in intg 0.2
// and this path goes away in 0.3. Define INTG_NO_DEPRECATED_HEADER_NOTES to silence the note.
#pragma once
#ifndef INTG_NO_DEPRECATED_HEADER_NOTES
#pragma message("<intg/event.hpp> is deprecated: include <intg/core/event.hpp>")
#endif
#include <intg/core/event.hpp>
