// Forwarding header (INTG_FORWARDING_HEADER): <intg/auth/pkce.hpp> moved to <intg/security/auth/pkce.hpp> in intg 0.2
// and this path goes away in 0.3. Define INTG_NO_DEPRECATED_HEADER_NOTES to silence the note.
#pragma once
#ifndef INTG_NO_DEPRECATED_HEADER_NOTES
#pragma message("<intg/auth/pkce.hpp> is deprecated: include <intg/security/auth/pkce.hpp>")
#endif
#include <intg/security/auth/pkce.hpp>
