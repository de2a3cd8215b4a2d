// Forwarding header (INTG_FORWARDING_HEADER): <intg/secrets/env_provider.hpp> moved to <intg/security/secrets/env_provider.hpp> in intg 0.2
// and this path goes away in 0.3. Define INTG_NO_DEPRECATED_HEADER_NOTES to silence the note.
#pragma once
#ifndef INTG_NO_DEPRECATED_HEADER_NOTES
#pragma message("<intg/secrets/env_provider.hpp> is deprecated: include <intg/security/secrets/env_provider.hpp>")
#endif
#include <intg/security/secrets/env_provider.hpp>
