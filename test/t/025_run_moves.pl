# Ascending keys (an events table keyed by time or a sequence).  Each
# level-0 run holds the newest row-map entries (family 1) and the newest
# data keys (family 2), so its key range spans everything in between; the
# picker judges such runs family by family (their split keys), so a
# level-0 compaction takes no level-1 run, and level-1 runs, which overlap
# nothing in level 2, move down as they are, one manifest change each.
# Compaction then writes about what flushes wrote, where one range per
# run made each level-0 compaction rewrite all of level 1's data.  The
# table reads the same afterwards (point lookups, ordered key ranges across
# moved runs), across a crash, and lsm_verify finds nothing wrong.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('run_moves');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'lsm_am'
lsm.memtable_size = 1MB
lsm.memtable_pool_size = 32MB
lsm.compaction_target_run_size = 256kB
lsm.l0_compaction_trigger = 4
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION lsm_am;
	CREATE TABLE ev (id bigint, payload text) USING lsm;
});

# 40 MB of rows in ascending key order, a memtable or two per batch.
my $rows = 0;
for my $batch (1 .. 60)
{
	my $lo = $rows + 1;
	$rows += 5000;
	$node->safe_psql('postgres', qq{
		INSERT INTO ev SELECT g, repeat(md5(g::text), 3)
		FROM generate_series($lo, $rows) g;
	});
}

# Waits until the worker has done what the manifest asks for.
sub settle
{
	for (1 .. 600)
	{
		return 1 if $node->safe_psql('postgres', q{
			SELECT NOT compaction_requested AND compacting_pid IS NULL
			  AND (SELECT coalesce(max(runs), 0) FROM lsm_levels('ev')
				   WHERE level = 0) < 4
			FROM lsm_stats('ev')}) eq 't';
		usleep(100_000);
	}
	return 0;
}
ok(settle(), 'background compaction settles');

my ($moved, $merges, $flushed, $written, $deepest) = split /\|/,
  $node->safe_psql('postgres', q{
	SELECT runs_moved, compactions - runs_moved, bytes_flushed,
		   bytes_compacted_written,
		   (SELECT max(level) FROM lsm_levels('ev') WHERE runs > 0)
	FROM lsm_stats('ev')});
note "runs moved $moved, merges $merges, bytes flushed $flushed, "
  . "compacted $written, deepest level $deepest";
note $node->safe_psql('postgres', "SELECT * FROM lsm_levels('ev')");
cmp_ok($moved, '>', 0, 'runs moved down without a merge');
cmp_ok($deepest, '>=', 2, 'data reached level 2');
cmp_ok($written, '<', 1.5 * $flushed,
	'compaction wrote less than 1.5 times what flushes wrote');

my $expect = "$rows|" . ($rows * ($rows + 1) / 2) . "|$rows";
sub contents
{
	return $node->safe_psql('postgres', q{
		SELECT count(*), sum(id), count(DISTINCT payload) FROM ev});
}
is(contents(), $expect, 'every row there once');
is($node->safe_psql('postgres', q{
	SELECT payload = repeat(md5('123457'), 3) FROM ev WHERE id = 123457}),
	't', 'a point lookup finds its row');
is($node->safe_psql('postgres', q{
	SELECT string_agg(id::text, ',') FROM
	  (SELECT id FROM ev WHERE id > 150000 ORDER BY id LIMIT 3) s}),
	'150001,150002,150003', 'a key range reads in order across moved runs');
is($node->safe_psql('postgres', "SELECT count(*) FROM lsm_verify('ev')"),
	'0', 'lsm_verify: no problem');

# Moves are manifest changes like any other: a crash keeps them.
$node->stop('immediate');
$node->start;
is(contents(), $expect, 'after a crash every row is there once');
is($node->safe_psql('postgres', "SELECT count(*) FROM lsm_verify('ev')"),
	'0', 'lsm_verify after the crash: no problem');

$node->stop;
done_testing();
