// Library version, for feature checks and diagnostics.
#pragma once

#define INTG_VERSION_MAJOR 0
#define INTG_VERSION_MINOR 2
#define INTG_VERSION_PATCH 0
#define INTG_VERSION_STRING "0.2.0"

namespace intg {
inline constexpr int version_major = INTG_VERSION_MAJOR;
inline constexpr int version_minor = INTG_VERSION_MINOR;
inline constexpr int version_patch = INTG_VERSION_PATCH;
}  // namespace intg
