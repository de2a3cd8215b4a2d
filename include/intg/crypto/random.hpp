// Forwarding header (INTG_FORWARDING_HEADER): <intg/crypto/random.hpp> moved to <intg/security/crypto/random.hpp> in intg 0.2
// and this path goes away in 0.3. Define INTG_NO_DEPRECATED_HEADER_NOTES to silence the note.
#pragma once
#ifndef INTG_NO_DEPRECATED_HEADER_NOTES
#pragma message("<intg/crypto/random.hpp> is deprecated: include <intg/security/crypto/random.hpp>")
#endif
#include <intg/security/crypto/random.hpp>
