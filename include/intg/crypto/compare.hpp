// Forwarding header (INTG_FORWARDING_HEADER): <intg/crypto/compare.hpp> moved to <intg/security/crypto/compare.hpp> in intg 0.2
// and this path goes away in 0.3. Define INTG_NO_DEPRECATED_HEADER_NOTES to silence the note.
#pragma once
#ifndef INTG_NO_DEPRECATED_HEADER_NOTES
#pragma message("<intg/crypto/compare.hpp> is deprecated: include <intg/security/crypto/compare.hpp>")
#endif
#include <intg/security/crypto/compare.hpp>
