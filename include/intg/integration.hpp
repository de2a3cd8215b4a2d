// Forwarding header (INTG_FORWARDING_HEADER): <intg/integration.hpp> moved to <intg/core/integration.hpp> in intg 0.2
// and this path goes away in 0.3. Define INTG_NO_DEPRECATED_HEADER_NOTES to silence the note.
#pragma once
#ifndef INTG_NO_DEPRECATED_HEADER_NOTES
#pragma message("<intg/integration.hpp> is deprecated: include <intg/core/integration.hpp>")
#endif
#include <intg/core/integration.hpp>
