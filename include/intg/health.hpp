// Forwarding header (INTG_FORWARDING_HEADER): <intg/health.hpp> moved to <intg/core/health.hpp> in intg 0.2
// and this path goes away in 0.3. Define INTG_NO_DEPRECATED_HEADER_NOTES to silence the note.
#pragma once
#ifndef INTG_NO_DEPRECATED_HEADER_NOTES
#pragma message("<intg/health.hpp> is deprecated: include <intg/core/health.hpp>")
#endif
#include <intg/core/health.hpp>
