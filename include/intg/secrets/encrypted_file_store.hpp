// Forwarding header (INTG_FORWARDING_HEADER): <intg/secrets/encrypted_file_store.hpp> moved to <intg/security/secrets/encrypted_file_store.hpp> in intg 0.2
// and this path goes away in 0.3. Define INTG_NO_DEPRECATED_HEADER_NOTES to silence the note.
#pragma once
#ifndef INTG_NO_DEPRECATED_HEADER_NOTES
#pragma message("<intg/secrets/encrypted_file_store.hpp> is deprecated: include <intg/security/secrets/encrypted_file_store.hpp>")
#endif
#include <intg/security/secrets/encrypted_file_store.hpp>
