// Forwarding header (INTG_FORWARDING_HEADER): <intg/probe.hpp> moved to <intg/core/probe.hpp> in intg 0.2
// and this path goes away in 0.3. Define INTG_NO_DEPRECATED_HEADER_NOTES to silence the note.
#pragma once
#ifndef INTG_NO_DEPRECATED_HEADER_NOTES
#pragma message("<intg/probe.hpp> is deprecated: include <intg/core/probe.hpp>")
#endif
#include <intg/core/probe.hpp>
