# Crash during VACUUM of an lsm table.
#
# The table (with two btree indexes) gets a few hundred thousand rows, then
# updates and deletes that leave most of them dead, and aborted inserts.
# VACUUM (which flushes, compacts with garbage collection, deletes index
# entries and rewrites the row map) runs while two sessions keep inserting
# and updating (each transaction acknowledged after its COMMIT, mirrored
# into a heap table), and every server process is killed with SIGKILL
# partway through.  After recovery every committed row is there, nothing
# else, the lsm table equals the heap table through sequential and index
# scans, the indexes pass amcheck, and VACUUM runs to the end: dead rows,
# their row-map and index entries are gone.  Three rounds, killing at
# different moments of the VACUUM.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use LsmCrash qw(acknowledged crash_problems redo_check run_script crash_during
  found_transactions);
use Time::HiRes qw(usleep time);

# LSM_TEST_AM=heap runs the same test on heap tables (to test the test).
my $am = $ENV{LSM_TEST_AM} || 'lsm';
my $is_lsm = $am eq 'lsm';

my $node = PostgreSQL::Test::Cluster->new('crash_vacuum');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'lsm_am'
max_connections = 30
autovacuum = off
lsm.memtable_size = 8MB
});
$node->start;
$node->safe_psql('postgres', qq{
	CREATE EXTENSION lsm_am;
	CREATE EXTENSION amcheck;
	CREATE TABLE t (k bigint, round int, session int, txn int, pad text) USING $am;
	CREATE TABLE h (k bigint, round int, session int, txn int, pad text) USING heap;
	CREATE INDEX t_k ON t (k);
	CREATE INDEX t_st ON t (session, txn);
});

# The lsm table equals the heap table, read by a sequential scan and through
# each index.
sub same_as_heap
{
	my ($what) = @_;
	is($node->safe_psql('postgres', qq{
		SELECT (SELECT count(*) FROM t) = (SELECT count(*) FROM h)
		   AND NOT EXISTS (TABLE t EXCEPT ALL TABLE h)
		   AND NOT EXISTS (TABLE h EXCEPT ALL TABLE t)}), 't',
		"$what: the lsm table holds exactly the heap table's rows");
	is($node->safe_psql('postgres', qq{
		SET enable_seqscan = off; SET enable_bitmapscan = off;
		SELECT (SELECT count(*) || ' ' || sum(k) FROM t WHERE k > -9223372036854775807)
		     = (SELECT count(*) || ' ' || sum(k) FROM h),
		       (SELECT count(*) || ' ' || sum(txn) FROM t WHERE session >= -1)
		     = (SELECT count(*) || ' ' || sum(txn) FROM h)}), 't|t',
		"$what: index scans find the same rows");
	return;
}

sub rows_of
{
	my ($round, $s, $j) = @_;
	return 1 + ($j * 3 + $s) % 4;
}

# Transactions of 1 to 4 rows that also update the previous transaction's
# rows, every 5th rolled back, acknowledged after COMMIT.
sub start_session
{
	my ($round, $s) = @_;
	my $file = $node->basedir . "/load_${round}_$s.sql";
	open(my $fh, '>', $file) or die "cannot write $file: $!";
	for my $j (1 .. 30000)
	{
		my @vals;
		for my $r (1 .. rows_of($round, $s, $j))
		{
			my $id = (($round * 16 + $s) * 1_000_000 + $j) * 8 + $r;
			my $k = (($id * 2654435761) % 4294967291) * 1_000_000_000 + $id % 1_000_000_000;
			push @vals, "($k, $round, $s, $j, md5('$id'))";
		}
		my $values = join(', ', @vals);
		my $prev = $j - 1;
		my $upd = "SET pad = md5(pad) WHERE round = $round AND session = $s AND txn = $prev";
		my $end = ($j % 5 == 0) ? 'ROLLBACK' : 'COMMIT';
		print $fh "BEGIN;\nINSERT INTO t VALUES $values;\nINSERT INTO h VALUES $values;\n"
		  . "UPDATE t $upd;\nUPDATE h $upd;\n$end;\n\\echo $end $s $j\n";
	}
	close($fh);
	return run_script($node, $file, $s);
}

my @delays = (0, 0.3, 1.0);
for my $round (1 .. 3)
{
	# Garbage: most of the round's rows dead by updates and deletes, plus
	# aborted inserts.
	$node->safe_psql('postgres', qq{
		INSERT INTO t SELECT (hashint8(g)::bigint << 23) + g, $round, 0, g, md5(g::text)
			FROM generate_series($round * 1000000, $round * 1000000 + 59999) g;
		INSERT INTO h SELECT * FROM t WHERE round = $round AND session = 0;
		UPDATE t SET pad = 'u' || pad WHERE round = $round AND session = 0 AND txn % 2 = 0;
		UPDATE h SET pad = 'u' || pad WHERE round = $round AND session = 0 AND txn % 2 = 0;
		DELETE FROM t WHERE round = $round AND session = 0 AND txn % 3 = 0;
		DELETE FROM h WHERE round = $round AND session = 0 AND txn % 3 = 0;
	});
	$node->safe_psql('postgres', qq{
		BEGIN;
		INSERT INTO t SELECT -g, $round, -2, g, 'aborted' FROM generate_series(1, 20000) g;
		ROLLBACK;
	});

	my @load = map { start_session($round, $_) } (1, 2);
	usleep(200_000);

	my $t0 = time;
	if (crash_during($node, 'VACUUM (VERBOSE) t', 'VACUUM%', $delays[ $round - 1 ]))
	{
		note sprintf('round %d: VACUUM finished before the crash (%.2fs)', $round, time - $t0);
	}
	else
	{
		note sprintf('round %d: crashed %.2fs into VACUUM', $round, time - $t0);
	}

	my ($committed, $last) = acknowledged(@load);
	cmp_ok(scalar(keys %$committed), '>', 0,
		"round $round: " . scalar(keys %$committed) . " transactions committed during VACUUM");

	$node->start;
	is(redo_check($node), '', 'after crash recovery: every named page exists');

	my %found = found_transactions($node, "round = $round AND session > 0");
	# every 5th transaction rolls back
	my @bad = crash_problems(\%found, $committed, $last,
		sub { rows_of($round, @_) }, sub { $_[1] % 5 != 0 });
	is(scalar(@bad), 0, "round $round: every committed transaction is there, and nothing else")
	  or diag(join(', ', @bad[0 .. ($#bad < 9 ? $#bad : 9)]));
	same_as_heap("round $round, after the crash");
	is($node->safe_psql('postgres', "SELECT bt_index_check('t_k'), bt_index_check('t_st')"),
		'|', "round $round: the indexes pass amcheck");

	# VACUUM runs to the end and leaves no dead row behind.
	$node->safe_psql('postgres', 'VACUUM t');
	same_as_heap("round $round, after VACUUM");
	if ($is_lsm)
	{
		is($node->safe_psql('postgres', qq{
			SELECT sum(entries) = 2 * (SELECT count(*) FROM t) FROM lsm_levels('t')}), 't',
			"round $round: after VACUUM one VALUE and one row-map entry per row remain");
	}
	is($node->safe_psql('postgres', "SELECT bt_index_check('t_k'), bt_index_check('t_st')"),
		'|', "round $round: the indexes pass amcheck after VACUUM");
	$node->restart;
	same_as_heap("round $round, after a clean restart");
}

$node->stop;
done_testing();
