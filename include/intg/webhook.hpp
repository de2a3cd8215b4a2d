// Forwarding header (INTG_FORWARDING_HEADER): <intg/webhook.hpp> moved to <intg/security/webhook.hpp> in intg 0.2
// and this path goes away in 0.3. Define INTG_NO_DEPRECATED_HEADER_NOTES to silence the note.
#pragma once
#ifndef INTG_NO_DEPRECATED_HEADER_NOTES
#pragma message("<intg/webhook.hpp> is deprecated: include <intg/security/webhook.hpp>")
#endif
#include <intg/security/webhook.hpp>
