// Forwarding header (INTG_FORWARDING_HEADER): <intg/health_server.hpp> moved to <intg/observability/health_server.hpp> in intg 0.2
// and this path goes away in 0.3. Define INTG_NO_DEPRECATED_HEADER_NOTES to silence the note.
#pragma once
#ifndef INTG_NO_DEPRECATED_HEADER_NOTES
#pragma message("<intg/health_server.hpp> is deprecated: include <intg/observability/health_server.hpp>")
#endif
#include <intg/observability/health_server.hpp>
