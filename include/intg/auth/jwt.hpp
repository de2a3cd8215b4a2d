// Forwarding header (INTG_FORWARDING_HEADER): <intg/auth/jwt.hpp> moved to <intg/security/auth/jwt.hpp> in intg 0.2
// and this path goes away in 0.3. Define INTG_NO_DEPRECATED_HEADER_NOTES to silence the note.
#pragma once
#ifndef INTG_NO_DEPRECATED_HEADER_NOTES
#pragma message("<intg/auth/jwt.hpp> is deprecated: include <intg/security/auth/jwt.hpp>")
#endif
#include <intg/security/auth/jwt.hpp>
