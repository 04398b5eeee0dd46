// The thread pool: in the threaded build (LM_THREADS=1, shared memory) the calling thread posts a job
// in linear memory, wakes the workers parked in lm_worker, runs its own share and waits for theirs.
// Workers are started by the host (worker_threads / Web Workers), each running lm_worker forever.

#include "lm.h"

#if LM_THREADS

static volatile int32_t job_gen;     // bumped once per job; workers wait on it
static volatile int32_t job_pending; // workers still running the current job
static task_fn job_fn;
static const void *job_ctx;
static int job_n, job_align, job_stop;
static int threads = 1;

// Spins before sleeping: a job lasts tens of microseconds, a futex round trip about as long.
#define SPIN_LIMIT 20000

EXPORT(lm_set_threads) void lm_set_threads(int n) { threads = n < 1 ? 1 : n; }
int pool_threads(void) { return threads; }

static void run_share(int id) {
  int n = job_n, a = job_align, t = threads;
  int start = (int)(((int64_t)n * id / t) / a * a);
  int end = id == t - 1 ? n : (int)(((int64_t)n * (id + 1) / t) / a * a);
  if (end > start) job_fn(job_ctx, start, end, id);
}

void parallel_for(task_fn fn, const void *ctx, int n, int align) {
  if (threads == 1 || n < 2 * align) {
    fn(ctx, 0, n, 0);
    return;
  }
  job_fn = fn;
  job_ctx = ctx;
  job_n = n;
  job_align = align;
  __atomic_store_n(&job_pending, threads - 1, __ATOMIC_SEQ_CST);
  __atomic_fetch_add(&job_gen, 1, __ATOMIC_SEQ_CST);
  __builtin_wasm_memory_atomic_notify((int32_t *)&job_gen, (uint32_t)(threads - 1));
  run_share(0);
  for (int spins = 0;; spins++) {
    int32_t left = __atomic_load_n(&job_pending, __ATOMIC_SEQ_CST);
    if (left == 0) break;
    if (spins > SPIN_LIMIT) __builtin_wasm_memory_atomic_wait32((int32_t *)&job_pending, left, 1000000);
  }
}

// A worker's whole life: wait for a job, run its share, report; returns when lm_stop_workers is called.
EXPORT(lm_worker) void lm_worker(int id) {
  int32_t seen = 0; // jobs start at generation 1, so a worker that starts late still sees the first
  for (;;) {
    int32_t gen;
    for (int spins = 0;; spins++) {
      gen = __atomic_load_n(&job_gen, __ATOMIC_SEQ_CST);
      if (gen != seen) break;
      if (spins > SPIN_LIMIT) __builtin_wasm_memory_atomic_wait32((int32_t *)&job_gen, seen, -1);
    }
    seen = gen;
    if (job_stop) return;
    run_share(id);
    if (__atomic_sub_fetch(&job_pending, 1, __ATOMIC_SEQ_CST) == 0)
      __builtin_wasm_memory_atomic_notify((int32_t *)&job_pending, 1);
  }
}

EXPORT(lm_stop_workers) void lm_stop_workers(void) {
  job_stop = 1;
  __atomic_fetch_add(&job_gen, 1, __ATOMIC_SEQ_CST);
  __builtin_wasm_memory_atomic_notify((int32_t *)&job_gen, 0xFFFFFFFFu);
}

#else

EXPORT(lm_set_threads) void lm_set_threads(int n) { (void)n; }
int pool_threads(void) { return 1; }
void parallel_for(task_fn fn, const void *ctx, int n, int align) {
  (void)align;
  fn(ctx, 0, n, 0);
}

#endif
