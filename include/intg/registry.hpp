// Forwarding header (INTG_FORWARDING_HEADER): <intg/registry.hpp> moved to <intg/core/registry.hpp> in intg 0.2
// and this path goes away in 0.3. Define INTG_NO_DEPRECATED_HEADER_NOTES to silence the note.
#pragma once
#ifndef INTG_NO_DEPRECATED_HEADER_NOTES
#pragma message("<intg/registry.hpp> is deprecated: include <intg/core/registry.hpp>")
#endif
#include <intg/core/registry.hpp>
