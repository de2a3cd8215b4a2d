// Forwarding header (INTG_FORWARDING_HEADER): <intg/crypto/aead.hpp> moved to <intg/security/crypto/aead.hpp> in intg 0.2
// and this path goes away in 0.3. Define INTG_NO_DEPRECATED_HEADER_NOTES to silence the note.
#pragma once
#ifndef INTG_NO_DEPRECATED_HEADER_NOTES
#pragma message("<intg/crypto/aead.hpp> is deprecated: include <intg/security/crypto/aead.hpp>")
#endif
#include <intg/security/crypto/aead.hpp>
