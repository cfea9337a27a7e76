/*
 * lsm_customscan.c - the LsmScan custom scan: key ranges and key order.
 *
 * For an lsm table whose stored key order is the order of its first column
 * as queries see it (lsm_key_order_matches), a set_rel_pathlist hook offers
 * the planner paths that
 *   - read only the key ranges that restrictions on the key column allow
 *     (lsm_keyquals.h): =, <, <=, >, >=, BETWEEN, IN lists and = ANY, IS
 *     [NOT] NULL, with constants, $n parameters, or values from the outer
 *     side of a nested loop (parameterized paths);
 *   - return rows in key order (ASC NULLS LAST), as pathkeys, so ORDER BY
 *     key [LIMIT n] and merge joins need no sort;
 *   - or in reverse key order (DESC NULLS FIRST, as a btree read backward),
 *     reading the ranges from their ends (lsm_scan_set_backward), so ORDER
 *     BY key DESC [LIMIT n] needs no sort either.
 * The scan itself is lsm_scan.c's sequential scan made bounded
 * (lsm_scan_set_ranges): the same row building, MVCC checks and SSI
 * locking.  Every restriction stays in the plan's qual and is rechecked on
 * the rows the ranges yield; the ranges only have to hold them all.  Under
 * EvalPlanQual the substituted row is checked by that qual alone.
 *
 * Paths are never parallel-safe: a worker would need the plan's methods by
 * name and the scan has no parallel split (see lsm_tableam.c).  They move
 * backward for cursors (FETCH BACKWARD, PRIOR, ABSOLUTE) as sequential
 * scans of lsm tables do, from the rows returned so far.
 */
#include "postgres.h"

#include <math.h>

#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_class.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "nodes/extensible.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/restrictinfo.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/selfuncs.h"
#include "utils/typcache.h"

#include "lsm_customscan.h"
#include "lsm_keyquals.h"
#include "lsm_tableam.h"

#define LSM_SCAN_NAME "LsmScan"

static bool lsm_enable_lsmscan = true;

static set_rel_pathlist_hook_type prev_set_rel_pathlist_hook = NULL;

static Plan *lsm_plan_path(PlannerInfo *root, RelOptInfo *rel,
						   CustomPath *best_path, List *tlist, List *clauses,
						   List *custom_plans);
static Node *lsm_create_state(CustomScan *cscan);
static void lsm_begin(CustomScanState *node, EState *estate, int eflags);
static TupleTableSlot *lsm_exec(CustomScanState *node);
static void lsm_end(CustomScanState *node);
static void lsm_rescan(CustomScanState *node);
static void lsm_explain(CustomScanState *node, List *ancestors,
						ExplainState *es);

static const CustomPathMethods lsm_path_methods = {
	.CustomName = LSM_SCAN_NAME,
	.PlanCustomPath = lsm_plan_path,
};

static const CustomScanMethods lsm_scan_methods = {
	.CustomName = LSM_SCAN_NAME,
	.CreateCustomScanState = lsm_create_state,
};

static const CustomExecMethods lsm_exec_methods = {
	.CustomName = LSM_SCAN_NAME,
	.BeginCustomScan = lsm_begin,
	.ExecCustomScan = lsm_exec,
	.EndCustomScan = lsm_end,
	.ReScanCustomScan = lsm_rescan,
	.ExplainCustomScan = lsm_explain,
};

/* ----------------------------------------------------------------
 * Paths
 * ----------------------------------------------------------------
 */

/* What the planner needs to know about the table, gathered once. */
typedef struct LsmPlanInfo
{
	LsmKeyInfo	ki;				/* the stored key description */
	Oid			keytype;		/* the first column as it is now */
	int			nsources;		/* memtables, level-0 runs, deeper levels */
	int			nruns;
	List	   *pathkeys;		/* key order, if useful to the query */
	List	   *desc_pathkeys;	/* reverse key order, if useful */
} LsmPlanInfo;

/* A clause the scan can bound by, and what it is. */
typedef struct LsmBoundClause
{
	RestrictInfo *rinfo;
	LsmKeyQual	qual;
} LsmBoundClause;

/* Appends to bounds the clauses of rinfos that the scan can bound by. */
static List *
match_clauses(PlannerInfo *root, RelOptInfo *rel, const LsmPlanInfo *pi,
			  List *rinfos, List *bounds)
{
	ListCell   *lc;

	foreach(lc, rinfos)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
		LsmBoundClause *bc;
		LsmKeyQual	q;

		/* as an index would: no leaky operator ahead of security quals */
		if (rinfo->pseudoconstant ||
			!restriction_is_securely_promotable(rinfo, rel) ||
			!lsm_keyqual_match(root, rinfo->clause, rel->relid, &pi->ki,
							   pi->keytype, &q))
			continue;
		bc = palloc(sizeof(LsmBoundClause));
		bc->rinfo = rinfo;
		bc->qual = q;
		bounds = lappend(bounds, bc);
	}
	return bounds;
}

/*
 * Costs a path reading the ranges the bound clauses give.  Each range
 * costs a seek in every source (a random page read per run that its key
 * range or bloom filter does not rule out; for a point, about one run holds
 * it), then the pages and rows the clauses select, read in key order and
 * merged.  An unbounded path costs a sequential scan's pages and rows plus
 * the merge, so it is only chosen for its order.
 */
static void
cost_path(PlannerInfo *root, RelOptInfo *rel, const LsmPlanInfo *pi,
		  CustomPath *cpath, List *bounds)
{
	List	   *clauses = NIL;
	double		sel = 1.0;
	double		nranges = 1.0;
	bool		points = false;
	double		tuples = Max(rel->tuples, 1.0);
	double		fetched;
	double		pages;
	double		seek_cost;
	double		row_cost;
	QualCost	qcost;
	ListCell   *lc;

	foreach(lc, bounds)
	{
		LsmBoundClause *bc = lfirst(lc);

		clauses = lappend(clauses, bc->rinfo);
		if (bc->qual.kind == LSM_KQ_IN)
		{
			nranges = estimate_array_length((Node *)
											lsm_keyqual_value(bc->rinfo->clause,
															  &bc->qual));
			points = true;
		}
		else if (bc->qual.kind == LSM_KQ_OP &&
				 bc->qual.strategy == BTEqualStrategyNumber)
			points = true;
	}
	if (clauses != NIL)
		sel = clauselist_selectivity(root, clauses, rel->relid, JOIN_INNER,
									 NULL);
	fetched = clamp_row_est(sel * tuples);
	pages = ceil(sel * rel->pages);

	/* a seek: a page per run read, a search per memtable and level-0 run */
	if (bounds == NIL)
		seek_cost = 0;
	else if (points)
		seek_cost = random_page_cost + cpu_operator_cost * pi->nsources * 4;
	else
		seek_cost = random_page_cost * Max(pi->nsources, 1);

	/* per row: the scan's tuple cost, its quals, the merge's comparisons */
	cost_qual_eval(&qcost, cpath->path.param_info ?
				   list_concat_copy(rel->baserestrictinfo,
									cpath->path.param_info->ppi_clauses) :
				   rel->baserestrictinfo, root);
	row_cost = cpu_tuple_cost + qcost.per_tuple +
		cpu_operator_cost * (log2(pi->nsources + 1.0) + 1.0);

	cpath->path.startup_cost = qcost.startup + seek_cost;
	cpath->path.total_cost = qcost.startup + seek_cost * Max(nranges, 1.0) +
		pages * seq_page_cost + fetched * row_cost;
}

/*
 * Adds a path bounded by bounds (none: the whole table in key order), in
 * reverse key order if backward.
 */
static void
add_lsm_path(PlannerInfo *root, RelOptInfo *rel, const LsmPlanInfo *pi,
			 ParamPathInfo *ppi, List *bounds, bool backward)
{
	CustomPath *cpath = makeNode(CustomPath);
	List	   *clauses = NIL;
	List	   *kinds = NIL;
	List	   *strategies = NIL;
	List	   *valargs = NIL;
	List	   *valtypes = NIL;
	ListCell   *lc;

	cpath->path.pathtype = T_CustomScan;
	cpath->path.parent = rel;
	cpath->path.pathtarget = rel->reltarget;
	cpath->path.param_info = ppi;
	cpath->path.parallel_aware = false;
	cpath->path.parallel_safe = false;
	cpath->path.parallel_workers = 0;
	cpath->path.rows = ppi ? ppi->ppi_rows : rel->rows;
	cpath->path.pathkeys = backward ? pi->desc_pathkeys : pi->pathkeys;
	cpath->flags = CUSTOMPATH_SUPPORT_PROJECTION |
		CUSTOMPATH_SUPPORT_BACKWARD_SCAN;
	cpath->methods = &lsm_path_methods;

	foreach(lc, bounds)
	{
		LsmBoundClause *bc = lfirst(lc);

		clauses = lappend(clauses, bc->rinfo->clause);
		kinds = lappend_int(kinds, bc->qual.kind);
		strategies = lappend_int(strategies, bc->qual.strategy);
		valargs = lappend_int(valargs, bc->qual.valarg);
		valtypes = lappend_oid(valtypes, bc->qual.valtype);
	}
	cpath->custom_private = list_make5(clauses, kinds, strategies, valargs,
									   valtypes);
	cpath->custom_private = lappend(cpath->custom_private,
									makeInteger(pi->ki.encoder));
	cpath->custom_private = lappend(cpath->custom_private,
									makeInteger(backward ? 1 : 0));

	cost_path(root, rel, pi, cpath, bounds);
	add_path(rel, &cpath->path);
}

/* Whether a required-outer set is in the list already. */
static bool
relids_listed(List *list, Relids relids)
{
	ListCell   *lc;

	foreach(lc, list)
		if (bms_equal((Relids) lfirst(lc), relids))
			return true;
	return false;
}

/* generate_implied_equalities_for_column's test: the member is the key. */
static bool
ec_member_is_key(PlannerInfo *root, RelOptInfo *rel, EquivalenceClass *ec,
				 EquivalenceMember *em, void *arg)
{
	Node	   *e = (Node *) em->em_expr;

	while (e && IsA(e, RelabelType))
		e = (Node *) ((RelabelType *) e)->arg;
	return e && IsA(e, Var) && ((Var *) e)->varno == (int) rel->relid &&
		((Var *) e)->varattno == 1 && ((Var *) e)->varlevelsup == 0;
}

/*
 * Paths parameterized by other relations, for the inner side of a nested
 * loop: one per set of outer relations that join clauses (written or
 * implied by equivalence classes) on the key refer to.
 */
static void
add_parameterized_paths(PlannerInfo *root, RelOptInfo *rel,
						const LsmPlanInfo *pi, List *base_bounds)
{
	List	   *candidates;
	List	   *outers = NIL;
	ListCell   *lc;

	candidates = generate_implied_equalities_for_column(root, rel,
														ec_member_is_key, NULL,
														rel->lateral_referencers);
	candidates = list_concat(candidates, list_copy(rel->joininfo));

	foreach(lc, candidates)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
		Relids		outer;
		LsmKeyQual	q;

		if (!join_clause_is_movable_to(rinfo, rel) ||
			!lsm_keyqual_match(root, rinfo->clause, rel->relid, &pi->ki,
							   pi->keytype, &q))
			continue;
		outer = bms_difference(rinfo->clause_relids, rel->relids);
		if (bms_is_empty(outer) || bms_overlap(outer, rel->lateral_referencers))
			continue;
		outer = bms_union(outer, rel->lateral_relids);
		if (!relids_listed(outers, outer))
			outers = lappend(outers, outer);
	}

	foreach(lc, outers)
	{
		ParamPathInfo *ppi = get_baserel_parampathinfo(root, rel,
													   (Relids) lfirst(lc));
		List	   *bounds = match_clauses(root, rel, pi, ppi->ppi_clauses,
										   list_copy(base_bounds));

		if (list_length(bounds) > list_length(base_bounds))
			add_lsm_path(root, rel, pi, ppi, bounds, false);
	}
}

/*
 * The key order as pathkeys (ASC NULLS LAST under the column's default
 * btree order and collation; with desc, DESC NULLS FIRST, the order read
 * backward), if the query has a use for it.
 */
static List *
key_pathkeys(PlannerInfo *root, RelOptInfo *rel, Form_pg_attribute att,
			 bool desc)
{
	TypeCacheEntry *tce = lookup_type_cache(att->atttypid,
											TYPECACHE_LT_OPR | TYPECACHE_GT_OPR);
	Oid			opr = desc ? tce->gt_opr : tce->lt_opr;
	Var		   *keyvar;
	List	   *pathkeys;

	if (!OidIsValid(opr))
		return NIL;
	keyvar = makeVar(rel->relid, 1, att->atttypid, att->atttypmod,
					 att->attcollation, 0);
	pathkeys = build_expression_pathkey(root, (Expr *) keyvar, NULL,
										opr, rel->relids, false);
	return truncate_useless_pathkeys(root, rel, pathkeys);
}

static void
lsm_set_rel_pathlist(PlannerInfo *root, RelOptInfo *rel, Index rti,
					 RangeTblEntry *rte)
{
	Relation	relation;
	LsmPlanInfo pi;
	List	   *bounds;
	bool		usable;

	if (prev_set_rel_pathlist_hook)
		prev_set_rel_pathlist_hook(root, rel, rti, rte);

	if (!lsm_enable_lsmscan || rte->rtekind != RTE_RELATION ||
		rte->relkind != RELKIND_RELATION || rte->inh ||
		rel->reloptkind == RELOPT_DEADREL || IS_DUMMY_REL(rel))
		return;

	/* The planner holds a lock on the relation already. */
	relation = table_open(rte->relid, NoLock);
	usable = lsm_is_lsm_relation(relation) &&
		RelationGetDescr(relation)->natts >= 1 &&
		!TupleDescAttr(RelationGetDescr(relation), 0)->attisdropped;
	if (usable)
	{
		Form_pg_attribute att = TupleDescAttr(RelationGetDescr(relation), 0);

		pi.ki = *lsm_key_info(relation, lsm_tree_open(relation));
		pi.keytype = att->atttypid;
		usable = lsm_key_order_matches(&pi.ki, att->atttypid,
									   att->attcollation);
		if (usable)
		{
			lsm_tree_shape(relation, &pi.nsources, &pi.nruns);
			pi.pathkeys = key_pathkeys(root, rel, att, false);
			pi.desc_pathkeys = key_pathkeys(root, rel, att, true);
		}
	}
	table_close(relation, NoLock);
	if (!usable)
		return;

	bounds = match_clauses(root, rel, &pi, rel->baserestrictinfo, NIL);
	if (bounds != NIL || pi.pathkeys != NIL)
		add_lsm_path(root, rel, &pi,
					 get_baserel_parampathinfo(root, rel, rel->lateral_relids),
					 bounds, false);
	if (pi.desc_pathkeys != NIL)
		add_lsm_path(root, rel, &pi,
					 get_baserel_parampathinfo(root, rel, rel->lateral_relids),
					 bounds, true);
	add_parameterized_paths(root, rel, &pi, bounds);
}

/* ----------------------------------------------------------------
 * Plan
 * ----------------------------------------------------------------
 */

/*
 * custom_exprs holds the bound clauses (so that setrefs and nestloop
 * parameters apply to them), custom_private what each is: lists of kinds,
 * strategies, value argument numbers and value types, and the key encoder
 * the plan was made for.
 */
static Plan *
lsm_plan_path(PlannerInfo *root, RelOptInfo *rel, CustomPath *best_path,
			  List *tlist, List *clauses, List *custom_plans)
{
	CustomScan *cscan = makeNode(CustomScan);

	cscan->scan.plan.targetlist = tlist;
	cscan->scan.plan.qual = extract_actual_clauses(clauses, false);
	cscan->scan.scanrelid = rel->relid;
	cscan->flags = best_path->flags;
	cscan->custom_exprs = copyObject(linitial(best_path->custom_private));
	cscan->custom_private = list_copy_tail(best_path->custom_private, 1);
	cscan->methods = &lsm_scan_methods;
	return &cscan->scan.plan;
}

/* ----------------------------------------------------------------
 * Execution
 * ----------------------------------------------------------------
 */

typedef struct LsmScanState
{
	CustomScanState css;
	int			nquals;
	LsmKeyQualValue *quals;		/* the bound clauses; values per (re)scan */
	ExprState **values;			/* their value expressions */
	const LsmKeyInfo *ki;
	TableScanDesc scan;			/* NULL until the first row is asked for */
	bool		backward;		/* reverse key order: ranges read from their ends */
	bool		started;		/* ranges set since the last rescan */
	uint64		nranges;		/* ranges read, over all (re)scans */
	MemoryContext rangecxt;		/* the ranges of the last (re)scan */
} LsmScanState;

static Node *
lsm_create_state(CustomScan *cscan)
{
	LsmScanState *st = (LsmScanState *) newNode(sizeof(LsmScanState),
												T_CustomScanState);

	st->css.methods = &lsm_exec_methods;
	return (Node *) st;
}

static void
lsm_begin(CustomScanState *node, EState *estate, int eflags)
{
	LsmScanState *st = (LsmScanState *) node;
	CustomScan *cscan = (CustomScan *) node->ss.ps.plan;
	Relation	rel = node->ss.ss_currentRelation;
	List	   *kinds = linitial(cscan->custom_private);
	List	   *strategies = lsecond(cscan->custom_private);
	List	   *valargs = lthird(cscan->custom_private);
	List	   *valtypes = lfourth(cscan->custom_private);
	int			encoder = intVal(list_nth(cscan->custom_private, 4));
	bool		backward = intVal(list_nth(cscan->custom_private, 5)) != 0;
	int			i = 0;
	ListCell   *lc;

	/*
	 * The core gives custom scans a virtual scan slot; rows come as heap
	 * tuples, with system columns (ctid for UPDATE and DELETE), as a
	 * sequential scan's do.  Replace the slot, and build the projection and
	 * qual again for it.
	 */
	ExecInitScanTupleSlot(estate, &node->ss, RelationGetDescr(rel),
						  table_slot_callbacks(rel));
	ExecAssignScanProjectionInfoWithVarno(&node->ss, cscan->scan.scanrelid);
	node->ss.ps.qual = ExecInitQual(cscan->scan.plan.qual, &node->ss.ps);

	st->ki = lsm_key_info(rel, lsm_tree_open(rel));
	st->backward = backward;
	if ((int) st->ki->encoder != encoder)
		elog(ERROR, "key encoding of lsm table \"%s\" changed since the plan was made",
			 RelationGetRelationName(rel));

	st->nquals = list_length(cscan->custom_exprs);
	st->quals = palloc0(sizeof(LsmKeyQualValue) * Max(st->nquals, 1));
	st->values = palloc0(sizeof(ExprState *) * Max(st->nquals, 1));
	foreach(lc, cscan->custom_exprs)
	{
		LsmKeyQual *q = &st->quals[i].qual;

		q->kind = (LsmKeyQualKind) list_nth_int(kinds, i);
		q->strategy = list_nth_int(strategies, i);
		q->valarg = list_nth_int(valargs, i);
		q->valtype = list_nth_oid(valtypes, i);
		st->values[i] = ExecInitExpr(lsm_keyqual_value(lfirst(lc), q),
									 &node->ss.ps);
		i++;
	}
	st->rangecxt = AllocSetContextCreate(CurrentMemoryContext, "lsm scan ranges",
										 ALLOCSET_SMALL_SIZES);
}

/* Evaluates the bound values and starts (or restarts) the scan on their ranges. */
static void
lsm_start(LsmScanState *st)
{
	EState	   *estate = st->css.ss.ps.state;
	ExprContext *econtext = st->css.ss.ps.ps_ExprContext;
	MemoryContext oldcxt;
	LsmKeyRange *ranges = NULL;
	int			n;

	if (st->scan == NULL)
	{
		oldcxt = MemoryContextSwitchTo(estate->es_query_cxt);
		st->scan = table_beginscan(st->css.ss.ss_currentRelation,
								   estate->es_snapshot, 0, NULL);
		MemoryContextSwitchTo(oldcxt);
	}
	else
		table_rescan(st->scan, NULL);

	if (st->nquals == 0)
	{
		/* the whole table, in key order: one range, so that runs are counted */
		LsmKeyRange all = {0};

		lsm_scan_set_ranges(st->scan, &all, 1);
	}
	else
	{
		MemoryContextReset(st->rangecxt);
		oldcxt = MemoryContextSwitchTo(st->rangecxt);
		for (int i = 0; i < st->nquals; i++)
		{
			if (st->values[i] != NULL)
				st->quals[i].value = ExecEvalExpr(st->values[i], econtext,
												  &st->quals[i].isnull);
		}
		n = lsm_key_ranges(st->ki, st->quals, st->nquals, &ranges);
		lsm_scan_set_ranges(st->scan, ranges, n);
		st->nranges += n;
		MemoryContextSwitchTo(oldcxt);
	}
	lsm_scan_set_backward(st->scan, st->backward);
	st->started = true;
}

static TupleTableSlot *
lsm_next(ScanState *ss)
{
	LsmScanState *st = (LsmScanState *) ss;
	TupleTableSlot *slot = ss->ss_ScanTupleSlot;

	if (!st->started)
		lsm_start(st);

	/*
	 * The executor's direction is relative to the scan's own order: a
	 * cursor moving backward over a DESC plan goes up the keys.  The lsm
	 * scan serves backward moves from the rows it returned (lsm_scan.c).
	 */
	if (table_scan_getnextslot(st->scan, ss->ps.state->es_direction, slot))
		return slot;
	return NULL;
}

/*
 * The row EvalPlanQual substitutes needs no check beyond the plan's qual,
 * which holds every bound clause and which ExecScan applies to it.
 */
static bool
lsm_recheck(ScanState *ss, TupleTableSlot *slot)
{
	return true;
}

static TupleTableSlot *
lsm_exec(CustomScanState *node)
{
	return ExecScan(&node->ss, lsm_next, lsm_recheck);
}

static void
lsm_rescan(CustomScanState *node)
{
	LsmScanState *st = (LsmScanState *) node;

	/* parameters may have changed: ranges are evaluated again */
	st->started = false;
	ExecScanReScan(&node->ss);
}

static void
lsm_end(CustomScanState *node)
{
	LsmScanState *st = (LsmScanState *) node;

	if (st->scan != NULL)
		table_endscan(st->scan);
	st->scan = NULL;
}

static void
lsm_explain(CustomScanState *node, List *ancestors, ExplainState *es)
{
	LsmScanState *st = (LsmScanState *) node;
	CustomScan *cscan = (CustomScan *) node->ss.ps.plan;

	if (cscan->custom_exprs != NIL)
	{
		List	   *context;
		char	   *str;

		context = set_deparse_context_plan(es->deparse_cxt, &cscan->scan.plan,
										   ancestors);
		str = deparse_expression((Node *) make_ands_explicit(cscan->custom_exprs),
								 context, es->verbose, false);
		ExplainPropertyText("Key Cond", str, es);
	}
	if (st->backward)
		ExplainPropertyText("Scan Direction", "Backward", es);

	if (es->analyze && st->scan != NULL)
	{
		const LsmTreeIterCounts *c = lsm_scan_counts(st->scan);

		if (cscan->custom_exprs != NIL)
			ExplainPropertyInteger("Key Ranges", NULL, st->nranges, es);
		ExplainPropertyInteger("Runs Read", NULL, c->runs_read, es);
		ExplainPropertyInteger("Runs Skipped", NULL, c->runs_skipped, es);
		ExplainPropertyInteger("Bloom Skips", NULL, c->bloom_skips, es);
	}
}

/* ----------------------------------------------------------------
 * Setup
 * ----------------------------------------------------------------
 */

void
lsm_customscan_init(void)
{
	DefineCustomBoolVariable("lsm.enable_lsmscan",
							 "Lets the planner use LsmScan, the key-range and key-order scan of lsm tables.",
							 NULL,
							 &lsm_enable_lsmscan,
							 true,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
	RegisterCustomScanMethods(&lsm_scan_methods);
	prev_set_rel_pathlist_hook = set_rel_pathlist_hook;
	set_rel_pathlist_hook = lsm_set_rel_pathlist;
}
