/* host.c — alloc-check-host: CPython 3.11 (libpython3.11) embedded with its object allocator (the OBJ
 * domain; with ALLOC_CHECK_HOST_DOMAINS=obj,mem also MEM) served by the reference pymalloc of
 * liballoccheck-ref.so, or by CPython's own pymalloc behind a counting wrapper. Its arguments are
 * python3.11's (a script and its arguments, -m module, -c code); it is normally started by
 * `alloc-check host`, which sets the environment below and prints the report.
 *
 * Environment (read once, then removed, so child processes see none of it):
 *   ALLOC_CHECK_HOST_ALLOCATOR  reference (default) | cpython
 *   ALLOC_CHECK_HOST_DOMAINS    obj (default) | obj,mem
 *   ALLOC_CHECK_HOST_OPTIONS    acr_open options for the reference (checks=on,invariants=on,stats=on)
 *   ALLOC_CHECK_HOST_RECORD     record every call of the served domains to this text file
 *   ALLOC_CHECK_HOST_RECORD_BIN ... and its binary twin (optional)
 *   ALLOC_CHECK_HOST_RECORD_FROM, ALLOC_CHECK_HOST_RECORD_COUNT
 *                               record only calls FROM … FROM+COUNT-1 (call indices from 0; default all);
 *                               FROM=main: from the first call after interpreter start-up (Py_RunMain)
 *   ALLOC_CHECK_HOST_REPORT     write the key=value report here (default: stderr)
 *   ALLOC_CHECK_HOST_LIB        liballoccheck-ref.so (default: next to this executable)
 *   ALLOC_CHECK_HOST_PYTHON     sys.executable for the embedded interpreter (default /usr/bin/python3.11),
 *                               so subprocesses a script starts run the stock interpreter
 *
 * Exit status: the script's, or 70 when the oracle found a violation (the rule, call index and Python
 * stack go to stderr and to the report), or 71 when the host could not start.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloccheck_ref.h"

/* Exported by libpython3.11 (Include/internal/pycore_traceback.h): writes a thread's Python stack to a
 * file descriptor without allocating, as faulthandler does. */
extern void _Py_DumpTraceback(int fd, PyThreadState *tstate);

enum { EXIT_VIOLATION = 70, EXIT_HOST = 71 };

static struct {
  acr_open_fn open;
  acr_last_error_fn last_error;
  acr_set_violation_handler_fn set_handler;
  acr_malloc_fn malloc;
  acr_calloc_fn calloc;
  acr_realloc_fn realloc;
  acr_free_fn free;
  acr_finish_fn finish;
  acr_report_fn report;
  acr_record_open_fn record_open;
  acr_record_malloc_fn record_malloc;
  acr_record_calloc_fn record_calloc;
  acr_record_realloc_fn record_realloc;
  acr_record_free_fn record_free;
  acr_record_close_fn record_close;
  void (*arm_bugs)(void);
} ref;

/* What serves the domains, and the counters kept the same way for either allocator. */
static PyMemAllocatorEx inner;
static int use_reference = 1;
static int recording = 0;
static long long record_from = 0, record_until = -1; /* recorded: from <= call index < until (-1: no end) */
static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
  long long calls, mallocs, callocs, reallocs, frees, live, peak_live;
  long long arenas_allocated, arenas_freed, arenas_live, arenas_peak;
} counts;

static int finished = 0; /* the report was written (finish_run, or the violation handler) */
static char report_path[PATH_MAX];
static char record_path[PATH_MAX];
static char record_bin_path[PATH_MAX];
static char allocator_name[32] = "reference";
static char domains_name[32] = "obj";
static struct timespec started;

static double seconds_since(const struct timespec *t0) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Is the call just counted inside the recording window? */
static int in_window(void) {
  long long i = counts.calls - 1;
  return recording && i >= record_from && (record_until < 0 || i < record_until);
}

static void born(void) {
  counts.live++;
  if (counts.live > counts.peak_live) counts.peak_live = counts.live;
}

static void *wrap_malloc(void *ctx, size_t n) {
  (void)ctx;
  pthread_mutex_lock(&count_lock);
  void *p = inner.malloc(inner.ctx, n);
  counts.calls++;
  counts.mallocs++;
  if (p) born();
  if (in_window()) ref.record_malloc(n, p);
  pthread_mutex_unlock(&count_lock);
  return p;
}

static void *wrap_calloc(void *ctx, size_t count, size_t size) {
  (void)ctx;
  pthread_mutex_lock(&count_lock);
  void *p = inner.calloc(inner.ctx, count, size);
  counts.calls++;
  counts.callocs++;
  if (p) born();
  if (in_window()) ref.record_calloc(count, size, p);
  pthread_mutex_unlock(&count_lock);
  return p;
}

static void *wrap_realloc(void *ctx, void *old, size_t n) {
  (void)ctx;
  pthread_mutex_lock(&count_lock);
  void *p = inner.realloc(inner.ctx, old, n);
  counts.calls++;
  counts.reallocs++;
  if (!old && p) born();
  if (in_window()) ref.record_realloc(old, n, p);
  pthread_mutex_unlock(&count_lock);
  return p;
}

static void wrap_free(void *ctx, void *p) {
  (void)ctx;
  pthread_mutex_lock(&count_lock);
  inner.free(inner.ctx, p);
  counts.calls++;
  counts.frees++;
  if (p) counts.live--;
  if (in_window()) ref.record_free(p);
  pthread_mutex_unlock(&count_lock);
}

/* CPython's own arenas, counted (allocator=cpython). */
static PyObjectArenaAllocator inner_arenas;

static void *wrap_arena_alloc(void *ctx, size_t size) {
  (void)ctx;
  void *p = inner_arenas.alloc(inner_arenas.ctx, size);
  if (p) {
    counts.arenas_allocated++;
    counts.arenas_live++;
    if (counts.arenas_live > counts.arenas_peak) counts.arenas_peak = counts.arenas_live;
  }
  return p;
}

static void wrap_arena_free(void *ctx, void *p, size_t size) {
  (void)ctx;
  inner_arenas.free(inner_arenas.ctx, p, size);
  counts.arenas_freed++;
  counts.arenas_live--;
}

static void put(FILE *f, const char *key, long long v) { fprintf(f, "%s=%lld\n", key, v); }

/* The key=value report: the host's counters, then the reference's own lines (allocator=reference). */
static void write_report(int fd_extra_traceback, const char *violation_lines) {
  FILE *f = report_path[0] ? fopen(report_path, "w") : NULL;
  if (!f) f = stderr;
  fprintf(f, "host_allocator=%s\nhost_domains=%s\n", allocator_name, domains_name);
  fprintf(f, "host_wall_seconds=%.3f\n", seconds_since(&started));
  put(f, "host_calls", counts.calls);
  put(f, "host_mallocs", counts.mallocs);
  put(f, "host_callocs", counts.callocs);
  put(f, "host_reallocs", counts.reallocs);
  put(f, "host_frees", counts.frees);
  put(f, "host_live", counts.live);
  put(f, "host_peak_live", counts.peak_live);
  if (!use_reference) {
    put(f, "arenas_allocated", counts.arenas_allocated);
    put(f, "arenas_current", counts.arenas_live);
    put(f, "arenas_peak", counts.arenas_peak);
    put(f, "arenas_returned", counts.arenas_freed);
  }
  if (use_reference && ref.report) {
    char *r = ref.report();
    if (r) {
      fputs(r, f);
      free(r);
    }
  }
  if (recording) {
    recording = 0;
    char *r = ref.record_close(record_bin_path[0] ? record_bin_path : NULL);
    if (r) {
      fputs(r, f);
      free(r);
    }
  }
  if (violation_lines) fputs(violation_lines, f);
  fflush(f);
  if (fd_extra_traceback && f != stderr) {
    PyThreadState *ts = _PyThreadState_UncheckedGet();
    fputs("traceback<<\n", f);
    fflush(f);
    if (ts) _Py_DumpTraceback(fileno(f), ts);
    fputs(">>traceback\n", f);
    fflush(f);
  }
  if (f != stderr) fclose(f);
}

static void on_violation(const char *rule, long call_index, const char *detail) {
  fprintf(stderr, "alloc-check host: violation %s at call %ld: %s\n", rule, call_index, detail);
  PyThreadState *ts = _PyThreadState_UncheckedGet();
  if (ts) {
    fprintf(stderr, "alloc-check host: the Python code that made the call:\n");
    fflush(stderr);
    _Py_DumpTraceback(2, ts);
  } else {
    fprintf(stderr, "alloc-check host: no Python thread state (the call came from C, outside the interpreter)\n");
  }
  finished = 1;
  write_report(1, NULL);
  fflush(stderr);
  _exit(EXIT_VIOLATION);
}

/* The end of the run, however it ends: Py_RunMain returning, or a script's sys.exit(), which finalizes the
 * interpreter and calls exit() from inside (Py_Exit). Every walk over what the interpreter left, then the
 * report; a violation exits from the handler. */
static void finish_run(void) {
  if (finished) return;
  finished = 1;
  if (use_reference) ref.finish();
  write_report(0, NULL);
}

static void die(const char *what) {
  fprintf(stderr, "alloc-check-host: %s\n", what);
  exit(EXIT_HOST);
}

static const char *take_env(const char *name, const char *fallback, char *into, size_t cap) {
  const char *v = getenv(name);
  if (!v || !*v) v = fallback;
  if (into) {
    snprintf(into, cap, "%s", v ? v : "");
    unsetenv(name);
    return into;
  }
  unsetenv(name);
  return v;
}

#define SYM(field, name)                                                          \
  do {                                                                            \
    *(void **)(&ref.field) = dlsym(lib, name);                                    \
    if (!ref.field) {                                                             \
      fprintf(stderr, "alloc-check-host: %s has no %s\n", lib_path, name);        \
      exit(EXIT_HOST);                                                            \
    }                                                                             \
  } while (0)

static void load_reference(const char *lib_path) {
  void *lib = dlopen(lib_path, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    fprintf(stderr, "alloc-check-host: cannot load %s: %s\n  build it: swift build -c release --product alloccheck-ref\n",
            lib_path, dlerror());
    exit(EXIT_HOST);
  }
  SYM(open, "acr_open");
  SYM(last_error, "acr_last_error");
  SYM(set_handler, "acr_set_violation_handler");
  SYM(malloc, "acr_malloc");
  SYM(calloc, "acr_calloc");
  SYM(realloc, "acr_realloc");
  SYM(free, "acr_free");
  SYM(finish, "acr_finish");
  SYM(report, "acr_report");
  SYM(record_open, "acr_record_open");
  SYM(record_malloc, "acr_record_malloc");
  SYM(record_calloc, "acr_record_calloc");
  SYM(record_realloc, "acr_record_realloc");
  SYM(record_free, "acr_record_free");
  SYM(record_close, "acr_record_close");
  SYM(arm_bugs, "acr_arm_bugs");
}

int main(int argc, char **argv) {
  clock_gettime(CLOCK_MONOTONIC, &started);
  char options[512], lib_path[PATH_MAX], python[PATH_MAX], default_lib[PATH_MAX];
  take_env("ALLOC_CHECK_HOST_ALLOCATOR", "reference", allocator_name, sizeof allocator_name);
  take_env("ALLOC_CHECK_HOST_DOMAINS", "obj", domains_name, sizeof domains_name);
  take_env("ALLOC_CHECK_HOST_OPTIONS", "", options, sizeof options);
  take_env("ALLOC_CHECK_HOST_RECORD", "", record_path, sizeof record_path);
  take_env("ALLOC_CHECK_HOST_RECORD_BIN", "", record_bin_path, sizeof record_bin_path);
  take_env("ALLOC_CHECK_HOST_REPORT", "", report_path, sizeof report_path);
  char window[64];
  take_env("ALLOC_CHECK_HOST_RECORD_FROM", "0", window, sizeof window);
  int from_main = strcmp(window, "main") == 0;
  record_from = from_main ? LLONG_MAX : atoll(window);
  char count_text[64];
  take_env("ALLOC_CHECK_HOST_RECORD_COUNT", "", count_text, sizeof count_text);
  long long record_count = count_text[0] ? atoll(count_text) : -1;
  if (record_count >= 0 && !from_main) record_until = record_from + record_count;
  take_env("ALLOC_CHECK_HOST_PYTHON", "/usr/bin/python3.11", python, sizeof python);
  /* Default library: next to this executable. */
  ssize_t n = readlink("/proc/self/exe", default_lib, sizeof default_lib - 32);
  if (n <= 0) die("cannot read /proc/self/exe");
  default_lib[n] = 0;
  char *slash = strrchr(default_lib, '/');
  strcpy(slash ? slash + 1 : default_lib, "liballoccheck-ref.so");
  take_env("ALLOC_CHECK_HOST_LIB", default_lib, lib_path, sizeof lib_path);

  if (strcmp(allocator_name, "reference") == 0) {
    use_reference = 1;
  } else if (strcmp(allocator_name, "cpython") == 0) {
    use_reference = 0;
  } else {
    die("ALLOC_CHECK_HOST_ALLOCATOR must be reference or cpython");
  }
  int with_mem = 0;
  if (strcmp(domains_name, "obj,mem") == 0 || strcmp(domains_name, "mem,obj") == 0) {
    with_mem = 1;
    strcpy(domains_name, "obj,mem");
  } else if (strcmp(domains_name, "obj") != 0) {
    die("ALLOC_CHECK_HOST_DOMAINS must be obj or obj,mem");
  }
  /* PYTHONMALLOC would install CPython's own allocators over ours; anything else that does is caught after
   * start-up (the OBJ allocator must still be our wrapper). */
  if (getenv("PYTHONMALLOC")) {
    fprintf(stderr, "alloc-check-host: PYTHONMALLOC=%s is set; it would replace the allocator under test: unset it\n",
            getenv("PYTHONMALLOC"));
    exit(EXIT_HOST);
  }

  if (use_reference || record_path[0]) load_reference(lib_path);
  if (use_reference) {
    char spec[600];
    snprintf(spec, sizeof spec, "allocator=pymalloc%s%s", options[0] ? "," : "", options);
    if (ref.open(spec) != 0) {
      char *why = ref.last_error();
      fprintf(stderr, "alloc-check-host: acr_open(%s): %s\n", spec, why ? why : "?");
      exit(EXIT_HOST);
    }
    ref.set_handler(on_violation);
    inner.ctx = NULL;
    inner.malloc = ref.malloc;
    inner.calloc = ref.calloc;
    inner.realloc = ref.realloc;
    inner.free = ref.free;
  } else {
    PyMem_GetAllocator(PYMEM_DOMAIN_OBJ, &inner);
    PyObject_GetArenaAllocator(&inner_arenas);
    PyObjectArenaAllocator counted = {NULL, wrap_arena_alloc, wrap_arena_free};
    PyObject_SetArenaAllocator(&counted);
  }
  if (record_path[0]) {
    char comment[PATH_MAX + 200];
    if (from_main)
      snprintf(comment, sizeof comment, "recorded by alloc-check host (allocator %s, domains %s), %s%s calls from the end of start-up",
               allocator_name, domains_name, record_count >= 0 ? "the first " : "all", record_count >= 0 ? count_text : "");
    else if (record_until >= 0)
      snprintf(comment, sizeof comment, "recorded by alloc-check host (allocator %s, domains %s), calls %lld to %lld", allocator_name,
               domains_name, record_from, record_until - 1);
    else
      snprintf(comment, sizeof comment, "recorded by alloc-check host (allocator %s, domains %s)", allocator_name, domains_name);
    if (ref.record_open(record_path, record_bin_path[0] ? record_bin_path : NULL, comment) != 0) {
      char *why = ref.last_error();
      fprintf(stderr, "alloc-check-host: recording: %s\n", why ? why : "?");
      exit(EXIT_HOST);
    }
    recording = 1;
  }
  PyMemAllocatorEx wrapped = {NULL, wrap_malloc, wrap_calloc, wrap_realloc, wrap_free};
  PyMem_SetAllocator(PYMEM_DOMAIN_OBJ, &wrapped);
  if (with_mem) {
    if (!use_reference) {
      /* CPython's MEM and OBJ are the same pymalloc; the wrapper forwards MEM calls to it too. */
      PyMemAllocatorEx mem;
      PyMem_GetAllocator(PYMEM_DOMAIN_MEM, &mem);
      if (mem.malloc != inner.malloc) die("CPython's MEM domain is not its OBJ allocator; use domains=obj");
    }
    PyMem_SetAllocator(PYMEM_DOMAIN_MEM, &wrapped);
  }

  PyConfig config;
  PyConfig_InitPythonConfig(&config);
  PyStatus status = PyConfig_SetBytesString(&config, &config.program_name, python);
  if (PyStatus_Exception(status)) goto failed;
  argv[0] = python;
  status = PyConfig_SetBytesArgv(&config, argc, argv);
  if (PyStatus_Exception(status)) goto failed;
  status = Py_InitializeFromConfig(&config);
  if (PyStatus_Exception(status)) goto failed;
  PyConfig_Clear(&config);
  PyMemAllocatorEx now;
  PyMem_GetAllocator(PYMEM_DOMAIN_OBJ, &now);
  if (now.malloc != wrap_malloc) {
    fprintf(stderr, "alloc-check-host: the OBJ allocator was replaced during start-up (-X tracemalloc?): "
                    "nothing would be tested\n");
    exit(EXIT_HOST);
  }

  atexit(finish_run);
  if (use_reference) ref.arm_bugs(); /* bug-from=main: the seeded bugs strike in the script, not in start-up */
  if (from_main) {
    pthread_mutex_lock(&count_lock);
    record_from = counts.calls;
    if (record_count >= 0) record_until = record_from + record_count;
    pthread_mutex_unlock(&count_lock);
  }
  int code = Py_RunMain();
  finish_run();
  return code;

failed:
  PyConfig_Clear(&config);
  if (PyStatus_IsExit(status)) return status.exitcode;
  Py_ExitStatusException(status);
  return EXIT_HOST;
}
