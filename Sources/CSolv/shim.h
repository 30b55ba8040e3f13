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
static inline Solvable *csolv_solvable(Pool *pool, Id p) { return pool->solvables + p; }
static inline int csolv_is_reldep(Id id) { return ISRELDEP(id); }

/* Every solvable that provides `dep` (libsolv's FOR_PROVIDES). */
static inline void csolv_whatprovides(Pool *pool, Id dep, Queue *out) {
    Id p, pp;
    FOR_PROVIDES(p, pp, dep) queue_push(out, p);
}
/* Every solvable of a repo (FOR_REPO_SOLVABLES). */
static inline void csolv_repo_solvables(Repo *repo, Queue *out) {
    Id p;
    Solvable *s;
    FOR_REPO_SOLVABLES(repo, p, s) queue_push(out, p);
}
static inline int csolv_is_installed(Pool *pool, Id p) {
    return pool->installed && pool->solvables[p].repo == pool->installed;
}
/* MAPSET/MAPCLR and a map with every bit set, for the pool's `considered` map. */
static inline void csolv_map_setall(Map *map) { map_setall(map); }
static inline void csolv_map_clr(Map *map, Id p) { MAPCLR(map, p); }
/* Whether a package is visible to the solver (in the pool's `considered` map, or there is no map). */
static inline int csolv_is_considered(Pool *pool, Id p) { return !pool->considered || MAPTST(pool->considered, p); }
static inline const char *csolv_repo_name(Pool *pool, Id p) { return pool->solvables[p].repo->name; }
static inline Id csolv_solvable_name(Pool *pool, Id p) { return pool->solvables[p].name; }
static inline Id csolv_solvable_arch(Pool *pool, Id p) { return pool->solvables[p].arch; }
#endif
