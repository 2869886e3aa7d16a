// shim.c — see include/ValgrindShim.h. Each function is one client request; nothing else.
#include "ValgrindShim.h"

#include <stdlib.h>
#include <string.h>

// AC_NO_VALGRIND forces the empty variant (a build check of it: clang -fsyntax-only -DAC_NO_VALGRIND).
#if defined(__has_include) && !defined(AC_NO_VALGRIND)
#if __has_include(<valgrind/memcheck.h>) && __has_include(<valgrind/helgrind.h>) && __has_include(<valgrind/drd.h>)
#define AC_HAVE_VALGRIND 1
#endif
#endif
#ifndef AC_HAVE_VALGRIND
#define AC_HAVE_VALGRIND 0
#endif

#if AC_HAVE_VALGRIND
#include <valgrind/memcheck.h>
#include <valgrind/helgrind.h>
// drd.h redefines the ANNOTATE_* macros when helgrind.h came first; only its request codes are used here.
#include <valgrind/drd.h>
#endif

int ac_vg_compiled_in(void) { return AC_HAVE_VALGRIND; }

#if AC_HAVE_VALGRIND

int ac_vg_running(void) { return RUNNING_ON_VALGRIND ? 1 : 0; }

void ac_mc_create_pool(const void *pool) { VALGRIND_CREATE_MEMPOOL(pool, 0, 0); }
void ac_mc_destroy_pool(const void *pool) { VALGRIND_DESTROY_MEMPOOL(pool); }
void ac_mc_pool_alloc(const void *pool, const void *block, size_t size) {
  VALGRIND_MEMPOOL_ALLOC(pool, block, size);
}
void ac_mc_pool_free(const void *pool, const void *block) { VALGRIND_MEMPOOL_FREE(pool, block); }
void ac_mc_make_noaccess(const void *address, size_t size) { (void)VALGRIND_MAKE_MEM_NOACCESS(address, size); }
void ac_mc_make_undefined(const void *address, size_t size) { (void)VALGRIND_MAKE_MEM_UNDEFINED(address, size); }
void ac_mc_make_defined(const void *address, size_t size) { (void)VALGRIND_MAKE_MEM_DEFINED(address, size); }
unsigned long ac_mc_count_errors(void) { return (unsigned long)VALGRIND_COUNT_ERRORS; }

// 0 = no race tool, 1 = helgrind, 2 = drd; set once at load time, before any thread exists, so the
// helgrind and DRD runs do not see the shim itself racing on it.
static int race_tool = 0;

__attribute__((constructor)) static void ac_read_race_tool(void) {
  const char *name = getenv("AC_VALGRIND_TOOL");
  race_tool = name == NULL ? 0 : strcmp(name, "helgrind") == 0 ? 1 : strcmp(name, "drd") == 0 ? 2 : 0;
}

static int tool(void) { return race_tool; }

void ac_hb_before(const void *key) {
  switch (tool()) {
  case 1: VALGRIND_DO_CLIENT_REQUEST_STMT(_VG_USERREQ__HG_USERSO_SEND_PRE, key, 0, 0, 0, 0); break;
  case 2: VALGRIND_DO_CLIENT_REQUEST_STMT(VG_USERREQ__DRD_ANNOTATE_HAPPENS_BEFORE, key, 0, 0, 0, 0); break;
  default: break;
  }
}

void ac_hb_after(const void *key) {
  switch (tool()) {
  case 1: VALGRIND_DO_CLIENT_REQUEST_STMT(_VG_USERREQ__HG_USERSO_RECV_POST, key, 0, 0, 0, 0); break;
  case 2: VALGRIND_DO_CLIENT_REQUEST_STMT(VG_USERREQ__DRD_ANNOTATE_HAPPENS_AFTER, key, 0, 0, 0, 0); break;
  default: break;
  }
}

#else

int ac_vg_running(void) { return 0; }
void ac_mc_create_pool(const void *pool) { (void)pool; }
void ac_mc_destroy_pool(const void *pool) { (void)pool; }
void ac_mc_pool_alloc(const void *pool, const void *block, size_t size) { (void)pool; (void)block; (void)size; }
void ac_mc_pool_free(const void *pool, const void *block) { (void)pool; (void)block; }
void ac_mc_make_noaccess(const void *address, size_t size) { (void)address; (void)size; }
void ac_mc_make_undefined(const void *address, size_t size) { (void)address; (void)size; }
void ac_mc_make_defined(const void *address, size_t size) { (void)address; (void)size; }
unsigned long ac_mc_count_errors(void) { return 0; }
void ac_hb_before(const void *key) { (void)key; }
void ac_hb_after(const void *key) { (void)key; }

#endif
