// Forwarding header (INTG_FORWARDING_HEADER): <intg/secret.hpp> moved to <intg/core/secret.hpp> in intg 0.2
// and this path goes away in 0.3. Define INTG_NO_DEPRECATED_HEADER_NOTES to silence the note.
#pragma once
#ifndef INTG_NO_DEPRECATED_HEADER_NOTES
#pragma message("<intg/secret.hpp> is deprecated: include <intg/core/secret.hpp>")
#endif
#include <intg/core/secret.hpp>
