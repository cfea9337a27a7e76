# Crash safety of batched log writes.  An lsm table's log records stay in the
# writing backend and reach the log pages in batches, at the latest before the
# transaction's commit or prepare record (lsm_storage.h), so every committed
# transaction must survive a crash whether or not its records were written
# long before its COMMIT, and nothing of the others may come back.
#
# Four psql sessions run transactions of several statements each, most of
# them big enough to leave records pending between statements and to write
# some before their COMMIT; some write two lsm tables, some roll back to a
# savepoint, some update their earlier rows, every sixth rolls back.  Every
# change is mirrored into a heap twin in the same transaction, and each
# session prints an acknowledgement after each COMMIT returns.  All server
# processes are killed with SIGKILL at a random moment; after recovery:
#   - every transaction whose COMMIT had returned is there, in both tables;
#   - none that rolled back, or had not reached its COMMIT, is there;
#   - a transaction whose COMMIT was in flight is there entirely or not at all;
#   - each lsm table holds exactly its heap twin's rows.
# Three rounds, each followed by a second crash right after recovery; the
# restart after the first uses a memtable smaller than the log it replays, so
# replay goes in sequence order over records that reached the log out of
# order, flushing memtables in place.  Then prepared transactions (their records and a row
# lock must outlive a crash until COMMIT PREPARED or ROLLBACK PREPARED), a
# table whose shared state was evicted and reloaded between a write and its
# commit, and DDL on tables with pending records (DROP and TRUNCATE rolled
# back to a savepoint, TRUNCATE in the creating transaction, a table created
# in a rolled-back savepoint, SET TABLESPACE), each followed by a crash.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib $FindBin::RealBin;
use LsmCrash qw(kill9_all redo_check run_script);
use Time::HiRes qw(usleep);

# LSM_TEST_AM=heap runs the same test on heap tables (to test the test).
my $am = $ENV{LSM_TEST_AM} || 'lsm';
my $is_lsm = $am eq 'lsm';

my $sessions = 4;
my $txns_per_session = 5000;    # more than a round gets through

my $node = PostgreSQL::Test::Cluster->new('batched_log');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'lsm_am'
max_connections = 30
max_prepared_transactions = 5
lsm.memtable_size = 4MB
# few directory entries, so that idle tables are evicted (see below)
lsm.max_tables = 8
});
$node->start;
$node->safe_psql('postgres', qq{
	CREATE EXTENSION lsm_am;
	CREATE TABLE t1 (k bigint, round int, session int, txn int, g int, pad text) USING $am;
	CREATE TABLE t2 (k bigint, round int, session int, txn int, g int, pad text) USING $am;
	CREATE TABLE h1 (k bigint, round int, session int, txn int, g int, pad text) USING heap;
	CREATE TABLE h2 (k bigint, round int, session int, txn int, g int, pad text) USING heap;
});

# The INSERT of rows g = from..to of transaction (round, s, j) into table
# $tab: keys scattered over the key space, 64 bytes of padding.
sub insert_sql
{
	my ($tab, $round, $s, $j, $from, $to) = @_;
	return "INSERT INTO $tab SELECT hashint8extended(x, 7), $round, $s, $j, g, repeat(md5(x::text), 2)"
	  . " FROM (SELECT g, (($round * 16 + $s) * 100000::bigint + $j) * 10000 + g AS x"
	  . " FROM generate_series($from, $to) g) q;\n";
}

# Statements run on an lsm table and on its heap twin, in that order.
sub twin
{
	my ($sql) = @_;
	(my $h = $sql) =~ s/\bt([12])\b/h$1/g;
	return $sql . $h;
}

# The transactions of one session in one round, and how many rows each
# leaves in t1 and in t2 if it commits.
my %expect;    # "round s j" => [rows in t1, rows in t2]

sub session_script
{
	my ($round, $s) = @_;
	my $file = $node->basedir . "/load_${round}_$s.sql";
	open(my $fh, '>', $file) or die "cannot write $file: $!";
	for my $j (1 .. $txns_per_session)
	{
		my $kind = ($j + $s) % 6;
		my $sql = "BEGIN;\n";
		my ($n1, $n2) = (0, 0);
		if ($kind == 0)
		{
			# big, rolled back
			$sql .= twin(insert_sql('t1', $round, $s, $j, 1, 700));
			$sql .= twin(insert_sql('t2', $round, $s, $j, 1, 300));
		}
		elsif ($kind == 1)
		{
			# big, one table, three statements
			$sql .= twin(insert_sql('t1', $round, $s, $j, 1, 400));
			$sql .= twin(insert_sql('t1', $round, $s, $j, 401, 800));
			$sql .= twin(insert_sql('t1', $round, $s, $j, 801, 900));
			$n1 = 900;
		}
		elsif ($kind == 2)
		{
			# two lsm tables
			$sql .= twin(insert_sql('t1', $round, $s, $j, 1, 300));
			$sql .= twin(insert_sql('t2', $round, $s, $j, 1, 500));
			$sql .= twin(insert_sql('t1', $round, $s, $j, 301, 350));
			$n1 = 350;
			$n2 = 500;
		}
		elsif ($kind == 3)
		{
			# a savepoint rolled back in the middle
			$sql .= twin(insert_sql('t1', $round, $s, $j, 1, 200));
			$sql .= "SAVEPOINT a;\n";
			$sql .= twin(insert_sql('t1', $round, $s, $j, 201, 700));
			$sql .= twin(insert_sql('t2', $round, $s, $j, 1, 100));
			$sql .= "ROLLBACK TO a;\n";
			$sql .= twin(insert_sql('t2', $round, $s, $j, 101, 150));
			$n1 = 200;
			$n2 = 50;
		}
		elsif ($kind == 4)
		{
			# small, two tables
			$sql .= twin(insert_sql('t1', $round, $s, $j, 1, 2));
			$sql .= twin(insert_sql('t2', $round, $s, $j, 1, 1));
			$n1 = 2;
			$n2 = 1;
		}
		else
		{
			# updates and deletes of the session's earlier rows, and new rows
			$sql .= twin("UPDATE t1 SET pad = pad || 'u' WHERE round = $round AND session = $s AND txn > $j - 12 AND g % 5 = 0;\n");
			$sql .= twin("DELETE FROM t2 WHERE round = $round AND session = $s AND txn > $j - 12 AND g % 7 = 0;\n");
			$sql .= twin(insert_sql('t1', $round, $s, $j, 1, 250));
			$n1 = 250;
		}
		my $end = $kind == 0 ? 'ROLLBACK' : 'COMMIT';
		$sql .= "$end;\n\\echo $end $s $j\n";
		print $fh $sql;
		$expect{"$round $s $j"} = [ $n1, $n2 ] if $kind != 0;
	}
	close($fh);
	return $file;
}

sub start_load
{
	my ($round) = @_;
	my @load;
	for my $s (1 .. $sessions)
	{
		push @load, run_script($node, session_script($round, $s), $s);
	}
	return @load;
}

# Whether every lsm table holds exactly its heap twin's rows.
sub check_twins
{
	my ($what) = @_;
	for my $i (1, 2)
	{
		my $res = $node->safe_psql('postgres', qq{
			SELECT (SELECT count(*) FROM t$i) || ' ' || (SELECT count(*) FROM h$i) || ' '
				|| (SELECT count(*) FROM (TABLE t$i EXCEPT ALL TABLE h$i) d) || ' '
				|| (SELECT count(*) FROM (TABLE h$i EXCEPT ALL TABLE t$i) d)});
		my ($nt, $nh, $d1, $d2) = split / /, $res;
		ok($nt == $nh && $d1 == 0 && $d2 == 0, "$what: t$i holds exactly h$i\'s rows")
		  or diag("t$i $nt rows, h$i $nh, $d1 only in t$i, $d2 only in h$i");
	}
	return;
}

for my $round (1 .. 3)
{
	my @load = start_load($round);

	# Let the load run for a random while once some transactions committed,
	# then crash: some COMMITs will have returned, one per session will be
	# in flight, and the others will have records pending.
	my $deadline = time + 180;
	while (time < $deadline)
	{
		my $n = $node->safe_psql('postgres',
			"SELECT count(DISTINCT (session, txn)) FROM h1 WHERE round = $round");
		last if $n >= 60;
		die "round $round: the load stopped: " . ${ $load[0]->{err} }
		  unless $load[0]->{h}->pumpable;
		usleep(100_000);
	}
	usleep(int(rand(2_000_000)));
	kill9_all($node);

	# What the clients saw.
	my %committed;
	my %rolled_back;
	my %last;
	for my $l (@load)
	{
		$l->{h}->finish;
		my $s = $l->{s};
		$last{$s} = 0;
		for my $line (split /\n/, ${ $l->{out} })
		{
			next unless $line =~ /^(COMMIT|ROLLBACK) (\d+) (\d+)$/;
			if ($1 eq 'COMMIT') { $committed{"$2 $3"} = 1; }
			else { $rolled_back{"$2 $3"} = 1; }
			$last{$2} = $3;
		}
		like(${ $l->{err} },
			qr/server closed the connection|terminating connection|connection to server was lost|no connection to the server|could not connect/,
			"round $round, session $s: the crash ended the load");
	}
	my $n_committed = scalar(keys %committed);
	cmp_ok($n_committed, '>=', 40, "round $round: $n_committed transactions committed before the crash");

	# After the first round the log is replayed into smaller memtables.
	if ($round == 1)
	{
		$node->append_conf('postgresql.conf', "lsm.memtable_size = 1MB\n");
	}
	$node->start;
	is(redo_check($node), '', 'after crash recovery: every named page exists');

	my %found;    # "s j" => [rows in t1, rows in t2]
	for my $i (1, 2)
	{
		for my $line (split /\n/, $node->safe_psql('postgres',
			"SELECT session, txn, count(*) FROM t$i WHERE round = $round GROUP BY session, txn"))
		{
			my ($s, $j, $c) = split /\|/, $line;
			$found{"$s $j"} //= [ 0, 0 ];
			$found{"$s $j"}->[ $i - 1 ] = $c;
		}
	}
	my (@missing, @partial, @uncommitted);
	my $in_flight = 0;
	for my $s (1 .. $sessions)
	{
		for my $j (1 .. $last{$s} + 1)
		{
			my $tx = "$s $j";
			my $e = $expect{"$round $tx"};
			my $f = $found{$tx} // [ 0, 0 ];
			my $present = $f->[0] + $f->[1] > 0;

			# Every transaction that commits writes t1; later deletes may take
			# rows of t2 away (the twin check covers t2).
			my $whole = defined $e && $f->[0] == $e->[0];
			if ($committed{$tx})
			{
				push @missing, $tx unless $present;
				push @partial, $tx if $present && !$whole;
			}
			elsif ($rolled_back{$tx} || !defined $e || $j <= $last{$s})
			{
				push @uncommitted, $tx if $present;
			}
			elsif ($present)
			{
				# the transaction whose COMMIT was in flight
				push @partial, $tx unless $whole;
				$in_flight++;
			}
		}
	}
	for my $tx (keys %found)
	{
		my ($s, $j) = split / /, $tx;
		push @uncommitted, $tx if $j > $last{$s} + 1;
	}
	is(scalar(@missing), 0, "round $round: every committed transaction is there")
	  or diag("missing: @missing[0 .. ($#missing < 9 ? $#missing : 9)]");
	is(scalar(@partial), 0, "round $round: no transaction is there in part")
	  or diag("partial: @partial[0 .. ($#partial < 9 ? $#partial : 9)]");
	is(scalar(@uncommitted), 0, "round $round: no uncommitted transaction is there")
	  or diag("uncommitted: @uncommitted[0 .. ($#uncommitted < 9 ? $#uncommitted : 9)]");
	note "round $round: $in_flight transactions whose COMMIT was in flight made it";
	check_twins("round $round");

	# Replay may have flushed memtables in place; a second crash right away
	# replays what it left.
	kill9_all($node);
	$node->start;
	check_twins("round $round, crashed again after recovery");
}

# ---------------------------------------------------------------------------
# Prepared transactions: records written at PREPARE outlive a crash, and so
# does a row lock.  A third transaction is in progress at the crash.
# ---------------------------------------------------------------------------
my $locked = $node->safe_psql('postgres', 'SELECT k FROM t1 ORDER BY k LIMIT 1');
my $p1 = $node->background_psql('postgres');
$p1->query_safe("BEGIN;\n"
	  . twin(insert_sql('t1', 10, 1, 1, 1, 3000))
	  . twin(insert_sql('t2', 10, 1, 1, 1, 1000))
	  . twin("SELECT k FROM t1 WHERE k = $locked FOR UPDATE;\n")
	  . "PREPARE TRANSACTION 'p_commit';\n");
my $p2 = $node->background_psql('postgres');
$p2->query_safe("BEGIN;\n"
	  . twin(insert_sql('t1', 10, 2, 1, 1, 2000))
	  . twin(insert_sql('t2', 10, 2, 1, 1, 10))
	  . "PREPARE TRANSACTION 'p_abort';\n");
my $open = $node->background_psql('postgres');
$open->query_safe("BEGIN;\n" . twin(insert_sql('t1', 10, 3, 1, 1, 3000)));
kill9_all($node);
$p1->quit;
$p2->quit;
$open->quit;
$node->start;

is($node->safe_psql('postgres', 'SELECT count(*) FROM t1 WHERE round = 10'), '0',
	'prepared and in-progress transactions are not visible after the crash');
my ($ret, $stdout, $stderr) = $node->psql('postgres',
	"SET lock_timeout = '100ms'; UPDATE t1 SET pad = 'x' WHERE k = $locked;");
like($stderr, qr/lock timeout/, "the prepared transaction's row lock outlived the crash");
$node->safe_psql('postgres', "COMMIT PREPARED 'p_commit'; ROLLBACK PREPARED 'p_abort';");
is( $node->safe_psql('postgres', q{
		SELECT (SELECT count(*) FROM t1 WHERE round = 10 AND session = 1) || ' '
			|| (SELECT count(*) FROM t2 WHERE round = 10 AND session = 1) || ' '
			|| (SELECT count(*) FROM t1 WHERE round = 10 AND session > 1) || ' '
			|| (SELECT count(*) FROM t2 WHERE round = 10 AND session > 1)}),
	'3000 1000 0 0', 'COMMIT PREPARED after the crash: its rows in both tables; none of the others');
check_twins('after COMMIT PREPARED');
kill9_all($node);
$node->start;
check_twins('after COMMIT PREPARED and another crash');

# ---------------------------------------------------------------------------
# A table whose shared state is evicted from the directory between a write
# and its commit (flushed, then crowded out), and reloaded from its log.
# ---------------------------------------------------------------------------
$node->safe_psql('postgres', qq{
	CREATE TABLE e1 (k bigint, round int, session int, txn int, g int, pad text) USING $am;
	CREATE TABLE eh (LIKE e1) USING heap;
});
for my $i (1 .. 10)
{
	$node->safe_psql('postgres', "CREATE TABLE x$i (k int) USING $am");
}
my $writer = $node->background_psql('postgres');
$writer->query_safe("BEGIN;\n"
	  . insert_sql('e1', 20, 1, 1, 1, 3000)
	  . insert_sql('eh', 20, 1, 1, 1, 3000));
$node->safe_psql('postgres', "SELECT lsm_flush('e1')") if $is_lsm;
for my $i (1 .. 10)
{
	$node->safe_psql('postgres', "INSERT INTO x$i VALUES ($i); SELECT count(*) FROM x$i;");
}
$writer->query_safe(insert_sql('e1', 20, 1, 1, 3001, 3010)
	  . insert_sql('eh', 20, 1, 1, 3001, 3010) . "COMMIT;\n");
$writer->quit;
kill9_all($node);
$node->start;
is( $node->safe_psql('postgres', q{
		SELECT (SELECT count(*) FROM e1) || ' '
			|| (SELECT count(*) FROM (TABLE e1 EXCEPT ALL TABLE eh) d) || ' '
			|| (SELECT count(*) FROM (TABLE eh EXCEPT ALL TABLE e1) d)}),
	'3010 0 0', 'a transaction whose table was evicted and reloaded before its commit');

# ---------------------------------------------------------------------------
# DDL on tables with records pending in the same transaction.
# ---------------------------------------------------------------------------
my $tsdir = PostgreSQL::Test::Utils::tempdir();
$node->safe_psql('postgres', qq{
	CREATE TABLESPACE ts LOCATION '$tsdir';
	CREATE TABLE d1 (k bigint, round int, session int, txn int, g int, pad text) USING $am;
	CREATE TABLE d2 (LIKE d1) USING $am;
	CREATE TABLE d5 (LIKE d1) USING $am;
	CREATE TABLE d6 (LIKE d1) USING $am;
});
# DROP rolled back to a savepoint: the rows written before it stay, and are
# readable at once.
is( $node->safe_psql('postgres', "BEGIN;\n"
		  . insert_sql('d1', 30, 1, 1, 1, 3000)
		  . "SAVEPOINT a;\nDROP TABLE d1;\nROLLBACK TO a;\n"
		  . insert_sql('d1', 30, 1, 1, 3001, 3010)
		  . "SELECT count(*) FROM d1;\nCOMMIT;"),
	'3010', 'DROP TABLE rolled back to a savepoint keeps the rows written before it');
# TRUNCATE rolled back to a savepoint, then TRUNCATE for good.
$node->safe_psql('postgres', "BEGIN;\n"
	  . insert_sql('d2', 30, 2, 1, 1, 3000)
	  . "SAVEPOINT a;\nTRUNCATE d2;\nROLLBACK TO a;\n"
	  . insert_sql('d2', 30, 2, 1, 3001, 3004)
	  . "COMMIT;\nBEGIN;\n"
	  . insert_sql('d2', 30, 2, 2, 1, 3000)
	  . "TRUNCATE d2;\n"
	  . insert_sql('d2', 30, 2, 3, 1, 5)
	  . "COMMIT;");
# TRUNCATE of a table created in the same transaction empties it in place.
$node->safe_psql('postgres', qq{BEGIN;
	CREATE TABLE d3 (LIKE d1) USING $am;\n}
	  . insert_sql('d3', 30, 3, 1, 1, 3000)
	  . "TRUNCATE d3;\n"
	  . insert_sql('d3', 30, 3, 2, 1, 7)
	  . "COMMIT;");
# A table created and written in a savepoint that rolls back.
$node->safe_psql('postgres', qq{BEGIN;
	SAVEPOINT a;
	CREATE TABLE d4 (LIKE d1) USING $am;\n}
	  . insert_sql('d4', 30, 4, 1, 1, 3000)
	  . "ROLLBACK TO a;\n"
	  . insert_sql('d5', 30, 5, 1, 1, 3)
	  . "COMMIT;");
# SET TABLESPACE copies the pages: the records must be on them first.
$node->safe_psql('postgres', "BEGIN;\n"
	  . insert_sql('d5', 30, 5, 2, 1, 3000)
	  . "ALTER TABLE d5 SET TABLESPACE ts;\n"
	  . insert_sql('d5', 30, 5, 3, 1, 11)
	  . "COMMIT;");
# DROP in the writing transaction.
$node->safe_psql('postgres', "BEGIN;\n"
	  . insert_sql('d6', 30, 6, 1, 1, 3000)
	  . "DROP TABLE d6;\nCOMMIT;");
my $ddl_counts = q{
	SELECT (SELECT count(*) FROM d1) || ' ' || (SELECT count(*) FROM d2) || ' '
		|| (SELECT count(*) FROM d3) || ' ' || (SELECT count(*) FROM d5) || ' '
		|| (SELECT count(*) FROM pg_class WHERE relname IN ('d4', 'd6'))};
is($node->safe_psql('postgres', $ddl_counts), '3010 5 7 3014 0', 'DDL with pending records');
kill9_all($node);
$node->start;
is($node->safe_psql('postgres', $ddl_counts), '3010 5 7 3014 0', 'DDL with pending records, after a crash');
check_twins('at the end');

$node->stop;
done_testing();
