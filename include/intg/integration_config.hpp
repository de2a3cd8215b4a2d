// Forwarding header (INTG_FORWARDING_HEADER): <intg/integration_config.hpp> moved to <intg/core/integration_config.hpp> in intg 0.2
// and this path goes away in 0.3. Define INTG_NO_DEPRECATED_HEADER_NOTES to silence the note.
#pragma once
#ifndef INTG_NO_DEPRECATED_HEADER_NOTES
#pragma message("<intg/integration_config.hpp> is deprecated: include <intg/core/integration_config.hpp>")
#endif
#include <intg/core/integration_config.hpp>
