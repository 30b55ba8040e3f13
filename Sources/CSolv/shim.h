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
static inline Queue *csolv_transaction_steps(Transaction *trans) { return &trans->steps; }
static inline const char *csolv_repo_name(Pool *pool, Id p) { return pool->solvables[p].repo->name; }
static inline Repo *csolv_solvable_repo(Pool *pool, Id p) { return pool->solvables[p].repo; }
static inline Id csolv_solvable_name(Pool *pool, Id p) { return pool->solvables[p].name; }
static inline Id csolv_solvable_evr(Pool *pool, Id p) { return pool->solvables[p].evr; }
static inline Id csolv_solvable_arch(Pool *pool, Id p) { return pool->solvables[p].arch; }
static inline int csolv_nrepos(Pool *pool) { return pool->nrepos; }
/* The sha256 of a byte buffer as lowercase hex into out (65 bytes). */
static inline void csolv_sha256_hex(const unsigned char *data, int len, char *out) {
    Chksum *c = solv_chksum_create(REPOKEY_TYPE_SHA256);
    int l = 0;
    const unsigned char *d;
    int i;
    static const char hex[] = "0123456789abcdef";
    solv_chksum_add(c, data, len);
    d = solv_chksum_get(c, &l);
    for (i = 0; i < l && i < 32; i++) { out[2*i] = hex[d[i] >> 4]; out[2*i+1] = hex[d[i] & 15]; }
    out[2*i] = 0;
    solv_chksum_free(c, 0);
}
#endif
