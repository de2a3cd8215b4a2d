// Forwarding header (INTG_FORWARDING_HEADER): <intg/crypto/encoding.hpp> moved to <intg/security/crypto/encoding.hpp> in intg 0.2
// and this path goes away in 0.3. Define INTG_NO_DEPRECATED_HEADER_NOTES to silence the note.
#pragma once
#ifndef INTG_NO_DEPRECATED_HEADER_NOTES
#pragma message("<intg/crypto/encoding.hpp> is deprecated: include <intg/security/crypto/encoding.hpp>")
#endif
#include <intg/security/crypto/encoding.hpp>
