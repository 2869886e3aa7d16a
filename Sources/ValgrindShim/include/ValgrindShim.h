// ValgrindShim.h — the Valgrind client requests the reference allocators make, as plain C functions
// (the requests are C macros Swift cannot call). Memcheck: memory pools for pymalloc arenas and mimalloc
// pages, blocks handed out and freed inside them, allocator-private words opened and closed around each
// access. Helgrind and DRD: happens-before edges for synchronisation they cannot see (Swift's
// `Synchronization` atomics and futex-based `Mutex`).
//
// Compiled to nothing when <valgrind/memcheck.h> is absent (AC_HAVE_VALGRIND is 0): every function is then
// an empty call. When present but the program does not run under Valgrind, each request is a few register
// moves (the "magic sequence"), so the annotations stay on in every build.
#ifndef ALLOC_CHECK_VALGRIND_SHIM_H
#define ALLOC_CHECK_VALGRIND_SHIM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// 1 if the shim was compiled with Valgrind's headers.
int ac_vg_compiled_in(void);
/// Non-zero when running under Valgrind (any tool).
int ac_vg_running(void);

// Memcheck: pools and blocks.
void ac_mc_create_pool(const void *pool);
void ac_mc_destroy_pool(const void *pool);
void ac_mc_pool_alloc(const void *pool, const void *block, size_t size);
void ac_mc_pool_free(const void *pool, const void *block);
// Memcheck: accessibility of a range.
void ac_mc_make_noaccess(const void *address, size_t size);
void ac_mc_make_undefined(const void *address, size_t size);
void ac_mc_make_defined(const void *address, size_t size);
/// Errors memcheck has reported so far (0 outside memcheck).
unsigned long ac_mc_count_errors(void);

// Helgrind and DRD: a happens-before edge keyed by an arbitrary address. The tool in use is taken from
// the environment variable AC_VALGRIND_TOOL (helgrind or drd; unset: no request is made).
void ac_hb_before(const void *key);
void ac_hb_after(const void *key);

#ifdef __cplusplus
}
#endif

#endif
