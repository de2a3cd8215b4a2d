// Forwarding header (INTG_FORWARDING_HEADER): <intg/attempt.hpp> moved to <intg/core/attempt.hpp> in intg 0.2
// and this path goes away in 0.3. Define INTG_NO_DEPRECATED_HEADER_NOTES to silence the note.
#pragma once
#ifndef INTG_NO_DEPRECATED_HEADER_NOTES
#pragma message("<intg/attempt.hpp> is deprecated: include <intg/core/attempt.hpp>")
#endif
#include <intg/core/attempt.hpp>
