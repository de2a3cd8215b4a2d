// Forwarding header (INTG_FORWARDING_HEADER): <intg/dashboard.hpp> moved to <intg/observability/dashboard.hpp> in intg 0.2
// and this path goes away in 0.3. Define INTG_NO_DEPRECATED_HEADER_NOTES to silence the note.
#pragma once
#ifndef INTG_NO_DEPRECATED_HEADER_NOTES
#pragma message("<intg/dashboard.hpp> is deprecated: include <intg/observability/dashboard.hpp>")
#endif
#include <intg/observability/dashboard.hpp>
