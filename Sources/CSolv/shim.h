#ifndef OVERLAY_CSOLV_SHIM_H
#define OVERLAY_CSOLV_SHIM_H
#include <solv/pool.h>
#include <solv/poolarch.h>
#include <solv/repo.h>
#include <solv/repo_rpmdb.h>
#include <solv/repo_rpmmd.h>
#include <solv/repo_repomdxml.h>
#include <solv/repo_solv.h>
#include <solv/repo_write.h>
#include <solv/solv_xfopen.h>
#include <solv/solver.h>
#include <solv/solverdebug.h>
#include <solv/selection.h>
#include <solv/transaction.h>
#include <solv/problems.h>
#include <solv/rules.h>
#include <solv/evr.h>
#include <solv/chksum.h>
#include <solv/bitmap.h>
#include <solv/testcase.h>

/* Function-like macros and inline helpers Swift cannot import. */
static inline int csolv_map_tst(Map *m, Id n) { return MAPTST(m, n); }
static inline Solvable *csolv_solvable(Pool *pool, Id p) { return pool->solvables + p; }
static inline Id csolv_nsolvables(Pool *pool) { return pool->nsolvables; }
static inline Repo *csolv_installed(Pool *pool) { return pool->installed; }
static inline const char *csolv_id2str(Pool *pool, Id id) { return pool_id2str(pool, id); }
static inline Id csolv_queue_get(Queue *q, int i) { return q->elements[i]; }
static inline int csolv_queue_count(Queue *q) { return q->count; }
static inline int csolv_is_reldep(Id id) { return ISRELDEP(id); }
#endif
