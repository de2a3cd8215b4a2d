// INTG_ALWAYS_INLINE: for the small synchronous helpers a pipeline's coroutine calls on every
// call. Inlined into the coroutine with their bounds known, they fold to a few instructions per
// layer; left to the compiler's heuristics, the (large) coroutine body keeps them as calls.
#pragma once

#if defined(__GNUC__) || defined(__clang__)
#define INTG_ALWAYS_INLINE [[gnu::always_inline]] inline
#else
#define INTG_ALWAYS_INLINE inline
#endif
