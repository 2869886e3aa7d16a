/* alloccheck_ref.h — the C ABI of liballoccheck-ref.so, the reference allocators of alloc-check
 * (Sources/RefABI/RefABI.swift). Every function is safe to call from any thread: one recursive lock
 * serializes them. Strings returned as `char *` are malloc'ed: free them with free(3).
 *
 * Use: acr_open("allocator=pymalloc"), then hand acr_malloc/acr_calloc/acr_realloc/acr_free to
 * PyMem_SetAllocator as a PyMemAllocatorEx (ctx is ignored), or call them directly. With checks on (the
 * default) the oracle checks every call against its model of the live blocks (Sources/Harness/Host/
 * CallOracle.swift says which rules); the first violation goes to the handler set with
 * acr_set_violation_handler, and checking stops there. acr_finish runs every whole-allocator walk;
 * acr_report says what happened.
 */
#ifndef ALLOCCHECK_REF_H
#define ALLOCCHECK_REF_H

#include <stddef.h>

/* options: comma-separated key=value: allocator=pymalloc|mimalloc, checks=on|off, invariants=on|off,
 * stats=on|off. Returns 0, or -1 (acr_last_error says why). */
typedef int (*acr_open_fn)(const char *options);
typedef char *(*acr_last_error_fn)(void);
/* rule ("O2", "PM5", "C1" for a call the caller must not make), call index (from 0), detail */
typedef void (*acr_violation_handler)(const char *rule, long call_index, const char *detail);
typedef void (*acr_set_violation_handler_fn)(acr_violation_handler handler);

/* PyMemAllocatorEx shapes. */
typedef void *(*acr_malloc_fn)(void *ctx, size_t size);
typedef void *(*acr_calloc_fn)(void *ctx, size_t count, size_t size);
typedef void *(*acr_realloc_fn)(void *ctx, void *ptr, size_t size);
typedef void (*acr_free_fn)(void *ctx, void *ptr);
typedef size_t (*acr_usable_size_fn)(void *ptr);

/* allocator=mimalloc only: first-class heaps (handles 1, 2, …; 0 = failed). */
typedef long (*acr_heap_new_fn)(void);
typedef void *(*acr_heap_malloc_fn)(long heap, size_t size);
typedef void (*acr_heap_destroy_fn)(long heap);
typedef void (*acr_heap_delete_fn)(long heap);

/* With the option bug-from=main+K: the seeded bugs strike K calls from now. */
typedef void (*acr_arm_bugs_fn)(void);

/* Every walk now; 0 when no violation was ever found. */
typedef int (*acr_finish_fn)(void);
/* key=value lines: calls, live, peak_live, arenas_*, walks, verdict (and rule, op, detail). */
typedef char *(*acr_report_fn)(void);

/* Recording any allocator's calls as a pymalloc-family program (text, and binary unless NULL). The
 * caller reports each call with its result. acr_record_close returns key=value lines. */
typedef int (*acr_record_open_fn)(const char *text_path, const char *binary_path, const char *comment);
typedef void (*acr_record_malloc_fn)(size_t size, void *result);
typedef void (*acr_record_calloc_fn)(size_t count, size_t size, void *result);
typedef void (*acr_record_realloc_fn)(void *old, size_t size, void *result);
typedef void (*acr_record_free_fn)(void *ptr);
typedef char *(*acr_record_close_fn)(const char *binary_path);

#endif
