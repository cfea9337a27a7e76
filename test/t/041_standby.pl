# lsm tables on a streaming hot standby, and after its promotion.
#
# A primary and a streaming standby made from its base backup, both with
# lsm_am preloaded.  Rows written on the primary -- flushed to runs, still
# only in the memtable and the log, updated, deleted, of a prepared
# transaction, of a transaction still running -- are read on the standby
# after it caught up: full scans, point and range predicates, index scans
# through a secondary index, all equal to the primary's answers and to a
# heap table that gets the same changes.  A standby session catches up
# across further writes and flushes.  A cursor on the standby stays correct
# while the primary compacts the table again and again (hot_standby_feedback
# on); without feedback, a cursor whose runs the primary reused gets a
# recovery conflict error, never wrong rows.  Nothing can be written on the
# standby.  A second standby is made by pg_basebackup while the primary has
# unflushed rows.  Then the first standby is promoted: it has every committed
# row and none of the transaction that was running, and takes writes,
# flushes and compactions.  The primary runs with wal_consistency_checking
# = 'generic', so a standby whose redo of a log page or of the metapage
# differs from the primary's page stops; after replay and after promotion,
# redo_check finds every page the manifest names in the standby's files.
use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;
use LsmCrash qw(redo_check);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $conf = qq{
shared_preload_libraries = 'lsm_am'
lsm.memtable_size = 1MB
lsm.memtable_pool_size = 32MB
max_prepared_transactions = 5
autovacuum = off
wal_receiver_status_interval = 1s
wal_keep_size = 512MB
wal_consistency_checking = 'generic'
};

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', $conf);
$primary->start;
$primary->safe_psql('postgres', q{
	CREATE EXTENSION lsm_am;
	CREATE TABLE t (k int, id int, v text) USING lsm;
	CREATE UNIQUE INDEX t_id ON t (id);
	CREATE TABLE h (k int, id int, v text) USING heap;
	CREATE UNIQUE INDEX h_id ON h (id);
	INSERT INTO t SELECT g % 5000, g, 'first ' || g FROM generate_series(1, 20000) g;
	INSERT INTO h SELECT g % 5000, g, 'first ' || g FROM generate_series(1, 20000) g;
	SELECT lsm_flush('t');
});

$primary->backup('b1');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'b1', has_streaming => 1);
$standby->append_conf('postgresql.conf', "hot_standby_feedback = on\n");
$standby->start;

# Runs SQL on the primary for t and h alike (@T stands for the table).
sub both
{
	my ($sql) = @_;
	my $t = $sql =~ s/\@T/t/gr;
	my $h = $sql =~ s/\@T/h/gr;
	return $primary->safe_psql('postgres', "$t\n$h");
}

sub catch_up
{
	my ($node) = @_;
	$primary->wait_for_catchup($node, 'replay', $primary->lsn('insert'));
}

# Queries whose answers must be the same on every node; the last ones go
# through the secondary index.
my @queries = (
	'SELECT count(*), sum(k), sum(id), md5(string_agg(v, \',\' ORDER BY id)) FROM t',
	'SELECT * FROM t',
	'SELECT * FROM t WHERE k = 4242',
	'SELECT * FROM t WHERE k BETWEEN 1000 AND 1100',
	'SELECT * FROM t WHERE k >= 4990',
	'SELECT * FROM t WHERE id BETWEEN 500 AND 520 ORDER BY id',
	'SELECT * FROM t WHERE id IN (7, 77, 777, 7777, 17777, 20007) ORDER BY id',
);
my $index_settings = 'SET enable_seqscan = off; SET enable_bitmapscan = off;';

sub compare
{
	my ($node, $what) = @_;
	for my $i (0 .. $#queries)
	{
		my $q = $queries[$i];
		my $set = $i >= 5 ? $index_settings : '';
		is($node->safe_psql('postgres', "$set $q"), $primary->safe_psql('postgres', "$set $q"),
			"$what: $q");
	}
	like($node->safe_psql('postgres', "$index_settings EXPLAIN (COSTS OFF) $queries[5]"),
		qr/Index Scan using t_id/, "$what: the secondary index is used");
	is($node->safe_psql('postgres', q{
		SELECT (SELECT count(*) FROM (TABLE t EXCEPT ALL TABLE h) a) + (SELECT count(*) FROM (TABLE h EXCEPT ALL TABLE t) b)}),
		'0', "$what: t holds exactly the heap table's rows");
}

# Rows only in the memtable, updates and deletes of flushed and unflushed
# rows, a prepared transaction, an aborted one.
both(q{
	INSERT INTO @T SELECT g % 5000, g, 'second ' || g FROM generate_series(20001, 25000) g;
	UPDATE @T SET v = v || ' updated' WHERE k % 7 = 0;
	UPDATE @T SET k = k + 10000 WHERE id % 11 = 0;
	DELETE FROM @T WHERE k % 13 = 0;
	BEGIN;
	INSERT INTO @T VALUES (-1, -1, 'prepared');
	DELETE FROM @T WHERE id = 3;
	PREPARE TRANSACTION 'p_@T';
});
$primary->safe_psql('postgres', q{
	BEGIN;
	INSERT INTO t SELECT g, -g, 'aborted' FROM generate_series(100, 5000) g;
	DELETE FROM t WHERE k < 100 AND id <> 3;	-- id 3: the prepared one's
	ROLLBACK;
});
is($primary->safe_psql('postgres', "SELECT sum(entries) > 0 FROM lsm_memtables('t')"), 't',
	'the primary has rows only in its memtable');
catch_up($standby);
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'the standby is in recovery');
compare($standby, 'standby');
is($standby->safe_psql('postgres', "SELECT count(*) FROM t WHERE v = 'prepared' OR v = 'aborted'"), '0',
	'standby: no row of the prepared or the aborted transaction');

# A standby session that stays: it catches up with later writes and flushes.
my $session = $standby->background_psql('postgres');
my $sig = 'SELECT count(*) || \' \' || sum(k) || \' \' || md5(string_agg(v, \',\')) FROM t';
is($session->query_safe($sig), $primary->safe_psql('postgres', $sig), 'standby session: first read');
for my $round (1 .. 4)
{
	both(qq{
		INSERT INTO \@T SELECT g % 5000, 30000 + $round * 1000 + g, 'round $round' FROM generate_series(1, 500) g;
		UPDATE \@T SET v = 'round $round' WHERE id % 97 = $round;
		DELETE FROM \@T WHERE id % 101 = $round;
	});
	$primary->safe_psql('postgres', "COMMIT PREPARED 'p_t'; COMMIT PREPARED 'p_h';") if $round == 2;
	$primary->safe_psql('postgres', "SELECT lsm_flush('t')") if $round == 3;
	catch_up($standby);
	is($session->query_safe($sig), $primary->safe_psql('postgres', $sig), "standby session: after round $round");
}
$session->quit;
compare($standby, 'standby after more writes');
is($standby->safe_psql('postgres', "SELECT count(*) FROM t WHERE v = 'prepared'"), '1',
	'standby: the committed prepared transaction');

# Nothing is written on the standby.
my ($ret, $out, $err) = $standby->psql('postgres', "SELECT lsm_flush('t')");
like($err, qr/cannot change lsm table "t" during recovery/, 'standby: lsm_flush is refused');
($ret, $out, $err) = $standby->psql('postgres', "SELECT lsm_compact('t')");
isnt($ret, 0, 'standby: lsm_compact is refused');
($ret, $out, $err) = $standby->psql('postgres', "INSERT INTO t VALUES (1, 1, 'x')");
like($err, qr/read-only transaction/, 'standby: INSERT is refused');

# A cursor on the standby across compactions on the primary, with
# hot_standby_feedback: its runs are kept for it.
sub open_cursor
{
	my ($node, $table) = @_;
	my $reader = $node->background_psql('postgres', on_error_stop => 0);
	$reader->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
	my $expect = $reader->query_safe("SELECT count(*) || ' ' || sum(k) FROM $table");
	my $first = $reader->query_safe("SELECT count(*) || ' ' || sum(k) FROM (SELECT k FROM $table LIMIT 100) f");
	$reader->query_safe("DECLARE c CURSOR FOR SELECT k, v FROM $table");
	$reader->query_safe('FETCH 100 FROM c');
	my $xmin = $reader->query_safe('SELECT txid_snapshot_xmin(txid_current_snapshot())');
	return ($reader, $expect, $first, $xmin);
}

# The rest of the cursor: (its count and sum plus the first 100's, error).
sub finish_cursor
{
	my ($reader, $first) = @_;
	my ($out, $ret) = $reader->query(q{
		\\pset format unaligned
		\\pset tuples_only on
		FETCH ALL FROM c;
	});
	my $err = $reader->{stderr} // '';
	$reader->quit;
	my ($n, $sum) = split / /, $first;
	for my $line (split /\n/, $out // '')
	{
		next unless $line =~ /^(-?\d+)\|/;
		$n++;
		$sum += $1;
	}
	return ("$n $sum", $err);
}

# Rounds of writes, each followed by a flush and a full compaction, which
# replace every run.
my $compaction_round = 0;

sub compaction_rounds
{
	my ($rounds) = @_;
	for (1 .. $rounds)
	{
		my $r = ++$compaction_round;
		both(qq{
			INSERT INTO \@T SELECT g % 5000, 100000 + $r * 1000 + g, repeat(md5(g::text), 3)
				FROM generate_series(1, 1000) g;
			UPDATE \@T SET v = 'compaction round $r' WHERE id % 53 = $r;
		});
		$primary->safe_psql('postgres', "SELECT lsm_flush('t'); SELECT lsm_compact('t');");
	}
}

my ($reader, $expect, $first, $xmin) = open_cursor($standby, 't');
$primary->poll_query_until('postgres',
	"SELECT backend_xmin IS NOT NULL AND backend_xmin::text::bigint <= $xmin FROM pg_stat_replication")
  or die 'the primary did not get the standby cursor\'s xmin';
compaction_rounds(8);
catch_up($standby);
my ($got, $cerr) = finish_cursor($reader, $first);
is($cerr, '', 'feedback on: the standby cursor read without error');
is($got, $expect, 'feedback on: the standby cursor saw exactly its snapshot\'s rows');
compare($standby, 'standby after compactions');

# Without feedback the primary reuses the pages a standby cursor still
# reads.  Table u's rounds of inserts, flushes and compactions go on until
# every page that held a run when the cursor began has been rewritten (the
# standby sees the pages' LSNs), then the cursor reads on.  Only u changes
# meanwhile: pruning of the heap table on the primary would cancel the
# cursor with PostgreSQL's own recovery conflict.
$standby->append_conf('postgresql.conf', "hot_standby_feedback = off\n");
$standby->reload;
$primary->poll_query_until('postgres', 'SELECT backend_xmin IS NULL FROM pg_stat_replication')
  or die 'the standby still sends feedback';
$primary->safe_psql('postgres', q{
	CREATE EXTENSION pageinspect;
	CREATE TABLE u (k int, v text) USING lsm;
	INSERT INTO u SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, 10000) g;
	SELECT lsm_flush('u');
	SELECT lsm_compact('u');
});
catch_up($standby);
# Pages whose special space says "run page" (lsm_type 3), with their LSNs.
my $run_pages_sql = q{
	SELECT string_agg(b || ':' || (page_header(get_raw_page('u', b::int))).lsn, ' ' ORDER BY b)
	FROM generate_series(1, pg_relation_size('u') / 8192 - 1) b
	WHERE get_byte(get_raw_page('u', b::int), 8188) = 3};
($reader, $expect, $first, $xmin) = open_cursor($standby, 'u');
my %run_pages = split /[: ]/, $standby->safe_psql('postgres', $run_pages_sql);
my $rewritten = 0;
my $rounds = 0;
while ($rewritten < keys %run_pages && $rounds < 40)
{
	$rounds++;
	$primary->safe_psql('postgres', qq{
		INSERT INTO u SELECT g, repeat(md5(g::text), 3) FROM generate_series($rounds * 10000 + 1, $rounds * 10000 + 5000) g;
		SELECT lsm_flush('u');
		SELECT lsm_compact('u');
	});
	catch_up($standby);
	my $values = join ', ', map { "($_, '$run_pages{$_}')" } keys %run_pages;
	$rewritten = $standby->safe_psql('postgres', qq{
		SELECT count(*) FROM (VALUES $values) p(b, lsn)
		WHERE (page_header(get_raw_page('u', b))).lsn <> lsn::pg_lsn});
}
note "$rewritten of the cursor's " . scalar(keys %run_pages) . " run pages rewritten after $rounds rounds";
cmp_ok($rewritten, '>', 0, 'feedback off: the primary reused pages of the standby cursor\'s run');
($got, $cerr) = finish_cursor($reader, $first);
like($cerr, qr/ERROR:  canceling statement due to conflict with recovery/,
	'feedback off: the cursor whose run was reused gets a recovery conflict')
  or diag("cursor read $got, its snapshot has $expect");
like($cerr, qr/DETAIL:  The primary server reused block \d+ of lsm table "u"/,
	'feedback off: the error says which table');
like($cerr, qr/HINT:  Turn on hot_standby_feedback/, 'feedback off: the hint names hot_standby_feedback');
is($standby->safe_psql('postgres', 'SELECT count(*), sum(k) FROM u'),
	$primary->safe_psql('postgres', 'SELECT count(*), sum(k) FROM u'),
	'feedback off: a new query on the standby reads u as the primary does');
compare($standby, 'standby without feedback');
# Without feedback, compaction on the primary garbage-collects row versions
# a standby snapshot still sees; its redo cancels that snapshot's
# transaction (a recovery conflict, as heap's pruning causes), so the old
# snapshot never sees the rows missing.
$standby->append_conf('postgresql.conf', "max_standby_streaming_delay = 1s\n");
$standby->reload;
$primary->safe_psql('postgres', q{
	CREATE TABLE g (k int, v text) USING lsm;
	INSERT INTO g SELECT g, 'gc ' || g FROM generate_series(1, 1000) g;
	SELECT lsm_flush('g');
});
catch_up($standby);
my $conflicts_before = $standby->safe_psql('postgres',
	"SELECT confl_snapshot FROM pg_stat_database_conflicts WHERE datname = 'postgres'");
my $old = $standby->background_psql('postgres', on_error_stop => 0);
$old->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
is($old->query_safe('SELECT count(*) FROM g'), '1000', 'gc: the old standby snapshot sees 1000 rows');
$primary->safe_psql('postgres', "DELETE FROM g WHERE k <= 500");
$primary->safe_psql('postgres', "SELECT lsm_flush('g'); SELECT lsm_compact('g');");
is($primary->safe_psql('postgres', 'SELECT count(*) FROM g'), '500', 'gc: 500 rows left on the primary');
catch_up($standby);
my $seen = eval { $old->query('SELECT count(*) FROM g') } // '';
$seen =~ s/\s+$//;
isnt($seen, '500', 'gc: the old standby snapshot never sees the removed rows gone');
is($standby->safe_psql('postgres',
	"SELECT confl_snapshot > $conflicts_before FROM pg_stat_database_conflicts WHERE datname = 'postgres'"),
	't', 'gc: the compaction\'s removal caused a snapshot conflict on the standby');
eval { $old->quit };
is($standby->safe_psql('postgres', 'SELECT count(*) FROM g'), '500', 'gc: a new standby query sees 500 rows');

$standby->append_conf('postgresql.conf', "hot_standby_feedback = on\nmax_standby_streaming_delay = 30s\n");
$standby->reload;

# A second standby from a base backup taken with rows only in the memtable.
both(q{
	INSERT INTO @T SELECT g % 5000, 200000 + g, 'before the second backup' FROM generate_series(1, 3000) g;
	DELETE FROM @T WHERE id % 31 = 0;
});
is($primary->safe_psql('postgres', "SELECT sum(entries) > 0 FROM lsm_memtables('t')"), 't',
	'the primary has rows only in its memtable at the second backup');
$primary->backup('b2');
my $standby2 = PostgreSQL::Test::Cluster->new('standby2');
$standby2->init_from_backup($primary, 'b2', has_streaming => 1);
$standby2->start;
both(q{ UPDATE @T SET v = 'after the second backup' WHERE id % 29 = 0; });
catch_up($standby2);
compare($standby2, 'second standby');

# Promotion, with a transaction running on the primary whose records are in
# the log (it wrote more than its pending buffer holds).
my $open = $primary->background_psql('postgres');
$open->query_safe(q{
	BEGIN;
	INSERT INTO t SELECT g, -100000 - g, repeat('never committed', 20) FROM generate_series(1, 5000) g;
	DELETE FROM t WHERE k < 50;
});
both(q{
	BEGIN;
	INSERT INTO @T VALUES (-2, -2, 'prepared before promotion');
	PREPARE TRANSACTION 'q_@T';
});
both(q{ INSERT INTO @T VALUES (-3, -3, 'last before promotion'); });
catch_up($standby);
is(redo_check($standby), '', 'the standby: every named page exists');
is(redo_check($standby2), '', 'the second standby: every named page exists');
my $final = $primary->safe_psql('postgres', $sig);
$standby->promote;
$open->quit;
$primary->stop('immediate');

is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 'f', 'the standby was promoted');
is(redo_check($standby), '', 'promoted: every named page exists');
is($standby->safe_psql('postgres', $sig), $final, 'promoted: every committed row, in order');
is($standby->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM (TABLE t EXCEPT ALL TABLE h) a) + (SELECT count(*) FROM (TABLE h EXCEPT ALL TABLE t) b)}),
	'0', 'promoted: t holds exactly the heap table\'s rows');
is($standby->safe_psql('postgres', "SELECT count(*) FROM t WHERE v LIKE 'never committed%' OR id = -2"), '0',
	'promoted: nothing of the running or the prepared transaction');
$standby->safe_psql('postgres', "COMMIT PREPARED 'q_t'; COMMIT PREPARED 'q_h';");
is($standby->safe_psql('postgres', "SELECT v FROM t WHERE id = -2"), 'prepared before promotion',
	'promoted: the prepared transaction commits');

# The new primary takes writes, flushes and compactions.
my $node = $standby;
sub both_new
{
	my ($sql) = @_;
	my $t = $sql =~ s/\@T/t/gr;
	my $h = $sql =~ s/\@T/h/gr;
	return $node->safe_psql('postgres', "$t\n$h");
}
both_new(q{
	INSERT INTO @T SELECT g % 5000, 300000 + g, 'after promotion' FROM generate_series(1, 5000) g;
	UPDATE @T SET v = 'updated after promotion' WHERE id % 37 = 0;
	DELETE FROM @T WHERE id % 41 = 0;
});
$node->safe_psql('postgres', "SELECT lsm_flush('t')");
both_new(q{ INSERT INTO @T SELECT g, 400000 + g, 'unflushed after promotion' FROM generate_series(1, 1000) g; });
$node->safe_psql('postgres', "SELECT lsm_compact('t')");
is($node->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM (TABLE t EXCEPT ALL TABLE h) a) + (SELECT count(*) FROM (TABLE h EXCEPT ALL TABLE t) b)}),
	'0', 'promoted: after writes, a flush and a compaction, t holds the heap table\'s rows');
is($node->safe_psql('postgres', "$index_settings SELECT count(*) FROM t WHERE id BETWEEN 300000 AND 400500"),
	$node->safe_psql('postgres', "SELECT count(*) FROM h WHERE id BETWEEN 300000 AND 400500"),
	'promoted: the index finds the new rows');
($ret, $out, $err) = $node->psql('postgres', "INSERT INTO t VALUES (0, 300001, 'duplicate')");
like($err, qr/duplicate key value violates unique constraint "t_id"/, 'promoted: the unique index holds');
$node->restart;
is($node->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM (TABLE t EXCEPT ALL TABLE h) a) + (SELECT count(*) FROM (TABLE h EXCEPT ALL TABLE t) b)}),
	'0', 'promoted: the same after a restart');

$standby2->stop;
$node->stop;
done_testing();
