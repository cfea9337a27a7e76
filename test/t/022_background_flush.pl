# Background flushes and write stalls.
#
#  - The flusher ('lsm flusher') and the launcher are in pg_stat_activity.
#  - A load that fills many memtables has them flushed by the flusher, not
#    by the writing backend (server log, log_line_prefix with the backend
#    type, DEBUG1 messages of flushes).
#  - A writer whose transaction keeps the flusher out (LOCK TABLE ... ACCESS
#    EXCLUSIVE, a table created in the same transaction) flushes and
#    compacts itself and never hangs.
#  - With level 0 grown to the slowdown trigger (the compaction lock held
#    by another session), writes go at lsm.delayed_write_rate (cut as
#    level 0 grows, see 024_adaptive_write_rate); at the stop trigger a
#    write waits (wait event Extension) until compaction can run;
#    lsm_stats counts slowdowns, stops and their time; a stopped write for
#    whose lock ALTER TABLE waits goes on (waiting would deadlock).
#  - Four pgbench sessions insert into an lsm table and a heap copy while
#    another session holds the table's compaction lock for a while: writers
#    stop (wait event Extension in pg_stat_activity), level 0 stays bounded,
#    and once the lock goes compaction catches up; at the end both tables
#    hold the same rows.
#  - kill -9 of the flusher while it flushes: the server restarts, the
#    flusher comes back, and the lsm table still equals its heap copy.
#  - Three tables loaded at once on a memtable pool of four regions: every
#    load finishes, every row is there.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep time);

my $stop = 4;
my $max_frozen = 3;
my $clients = 4;

my $node = PostgreSQL::Test::Cluster->new('bg_flush');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'lsm_am'
max_connections = 30
lsm.memtable_size = 1MB
lsm.memtable_pool_size = 16MB
lsm.l0_compaction_trigger = 2
lsm.l0_slowdown_trigger = 3
lsm.l0_stop_trigger = $stop
lsm.max_frozen_memtables = $max_frozen
log_line_prefix = '%m [%p] %b '
log_min_messages = debug1
# kill -9 of the flusher below: the server reinitializes, as by default
restart_after_crash = on
});
$node->start;

ok($node->poll_query_until('postgres',
	"SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type IN ('lsm flusher', 'lsm launcher')"),
	'the flusher and the launcher are in pg_stat_activity');

$node->safe_psql('postgres', q{
	CREATE EXTENSION lsm_am;
	CREATE TABLE t (k bigint, pad text) USING lsm;
	CREATE TABLE tx (k bigint, pad text) USING lsm;
	CREATE FUNCTION l0(regclass) RETURNS int LANGUAGE sql
	  AS $$SELECT coalesce(max(runs), 0)::int FROM lsm_levels($1) WHERE level = 0$$;
});

# Flushes of table $rel logged since $offset, by backend type.
sub flushes_by
{
	my ($rel, $offset) = @_;
	my $log = slurp_file($node->logfile, $offset);
	my %by;
	while ($log =~ /\] (.+?) DEBUG:  lsm table "\Q$rel\E": flushed a memtable/g)
	{
		$by{$1}++;
	}
	return \%by;
}

# 1. A single writer: the flusher flushes.
my $offset = -s $node->logfile;
$node->safe_psql('postgres', q{
	INSERT INTO t SELECT (hashint8(g) % 1000000000000), repeat(md5(g::text), 3)
	  FROM generate_series(1, 100000) g});
my $by = flushes_by('t', $offset);
note explain $by;
cmp_ok($by->{'lsm flusher'} // 0, '>=', 10, 'the flusher flushed the memtables of a load');
is($by->{'client backend'} // 0, 0, 'the writing backend flushed none');
is($node->safe_psql('postgres', 'SELECT count(*) FROM t'), '100000', 'every row is there');

# 2. Writers the flusher cannot serve flush and compact themselves.
$offset = -s $node->logfile;
$node->safe_psql('postgres', q{
	BEGIN;
	LOCK TABLE tx IN ACCESS EXCLUSIVE MODE;
	INSERT INTO tx SELECT (hashint8(g) % 1000000000000), repeat(md5(g::text), 3)
	  FROM generate_series(1, 60000) g;
	COMMIT;
	BEGIN;
	CREATE TABLE tc (k bigint, pad text) USING lsm;
	INSERT INTO tc SELECT (hashint8(g) % 1000000000000), repeat(md5(g::text), 3)
	  FROM generate_series(1, 60000) g;
	COMMIT;
});
$by = flushes_by('tx', $offset);
cmp_ok($by->{'client backend'} // 0, '>=', 5,
	'a writer holding ACCESS EXCLUSIVE flushes its table itself');
is($by->{'lsm flusher'} // 0, 0, 'the flusher stays out of it');
$by = flushes_by('tc', $offset);
cmp_ok($by->{'client backend'} // 0, '>=', 5,
	'a writer flushes a table created in its transaction itself');
cmp_ok($node->safe_psql('postgres', "SELECT l0('tx')"), '<=', $stop + $max_frozen,
	'level 0 stays bounded for a writer that compacts itself');
is($node->safe_psql('postgres', 'SELECT count(*) FROM tx UNION ALL SELECT count(*) FROM tc'),
	"60000\n60000", 'their rows are all there');

# 3. Slowdown and stop, step by step: level 0 made to grow with lsm_flush
# while another session holds the table's compaction lock.
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET lsm.delayed_write_rate = '64kB';
	SELECT pg_reload_conf();
	CREATE TABLE sd (k bigint, pad text) USING lsm;
});
my $blocker = $node->background_psql('postgres');
$blocker->query_safe('BEGIN; LOCK TABLE sd IN SHARE UPDATE EXCLUSIVE MODE');
for my $i (1 .. 3)
{
	$node->safe_psql('postgres', "INSERT INTO sd VALUES ($i, 'x'); SELECT lsm_flush('sd')");
}
is($node->safe_psql('postgres', "SELECT l0('sd')"), '3', 'level 0 at the slowdown trigger');
my $t = time;
$node->safe_psql('postgres',
	"INSERT INTO sd SELECT g, repeat('x', 200) FROM generate_series(10, 109) g");
my $elapsed = time - $t;
note sprintf('100 rows (about 25 kB) at 64 kB/s took %.2f s', $elapsed);
cmp_ok($elapsed, '>=', 0.25, 'writes at the slowdown trigger go at lsm.delayed_write_rate');
cmp_ok($node->safe_psql('postgres', "SELECT stall_slowdowns FROM lsm_stats('sd')"),
	'>=', 50, 'and count as slowdowns');

$node->safe_psql('postgres', "SELECT lsm_flush('sd')");
is($node->safe_psql('postgres', "SELECT l0('sd')"), '4', 'level 0 at the stop trigger');
my ($out, $err) = ('', '');
my $writer = IPC::Run::start(
	[
		'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'),
		'-c', "INSERT INTO sd VALUES (200, 'stopped')"
	],
	'>', \$out, '2>', \$err, IPC::Run::timeout(60));
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity
	 WHERE wait_event_type = 'Extension' AND wait_event = 'Extension'
	   AND query LIKE 'INSERT INTO sd VALUES (200%'}),
	'a write at the stop trigger waits (wait event Extension)');
usleep(500_000);
is($node->safe_psql('postgres', "SELECT count(*) FROM sd WHERE k = 200"), '0',
	'and has not written');
$blocker->query_safe('COMMIT');
$writer->finish;
is($err, '', 'once compaction can take the table, the write goes on');
my ($stops, $stall_ms) = split /\|/, $node->safe_psql('postgres',
	"SELECT stall_stops, stall_time FROM lsm_stats('sd')");
is($stops, '1', 'it counts as one stop');
cmp_ok($stall_ms, '>=', 500, "stall time counted ($stall_ms ms)");
cmp_ok($node->safe_psql('postgres', "SELECT l0('sd')"), '<', 4, 'compaction caught up');
is($node->safe_psql('postgres', 'SELECT count(*) FROM sd'), '104', 'every row of sd is there');
$node->safe_psql('postgres', q{
	ALTER SYSTEM RESET lsm.delayed_write_rate;
	SELECT pg_reload_conf();
});

# A write stopped at the trigger goes on once a DDL statement waits for its
# transaction's lock: compaction could not take the table before the DDL
# statement, which waits for the write's transaction.
$node->safe_psql('postgres', 'CREATE TABLE dd (k bigint, pad text) USING lsm');
my $blocker2 = $node->background_psql('postgres');
$blocker2->query_safe('BEGIN; LOCK TABLE dd IN SHARE UPDATE EXCLUSIVE MODE');
for my $i (1 .. 4)
{
	$node->safe_psql('postgres', "INSERT INTO dd VALUES ($i, 'x'); SELECT lsm_flush('dd')");
}
my ($wout, $werr, $dout, $derr) = ('', '', '', '');
my $w = IPC::Run::start(
	[
		'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'),
		'-c', "BEGIN; INSERT INTO dd VALUES (300, 'waits'); COMMIT"
	],
	'>', \$wout, '2>', \$werr, IPC::Run::timeout(60));
ok($node->poll_query_until('postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity
	 WHERE wait_event_type = 'Extension' AND query LIKE 'BEGIN; INSERT INTO dd%'}),
	'a write to dd waits at the stop trigger');
my $d = IPC::Run::start(
	[
		'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'),
		'-c', 'ALTER TABLE dd ADD COLUMN extra int'
	],
	'>', \$dout, '2>', \$derr, IPC::Run::timeout(60));
$t = time;
$w->finish;
$elapsed = time - $t;
is($werr, '', 'the write goes on once ALTER TABLE waits for its lock');
cmp_ok($elapsed, '<', 5, sprintf('without waiting out the no-progress limit (%.1f s)', $elapsed));
$blocker2->query_safe('COMMIT');
$blocker2->quit;
$d->finish;
is($derr, '', 'and ALTER TABLE then runs');
is($node->safe_psql('postgres', 'SELECT count(*) FROM dd'), '5', 'every row of dd is there');

# 4. Sustained load from several sessions, with compaction held off a while.
# No slowdown before the stop here: slowed writes with their rate cut as
# level 0 grows (024_adaptive_write_rate) would not reach the stop trigger
# in the four seconds.
$node->safe_psql('postgres', qq{
	ALTER SYSTEM SET lsm.l0_slowdown_trigger = $stop;
	SELECT pg_reload_conf();
});
$node->safe_psql('postgres', q{
	CREATE TABLE s (k bigint, n bigint, pad text) USING lsm;
	CREATE TABLE hs (k bigint, n bigint, pad text);
	CREATE SEQUENCE seq;
	CREATE FUNCTION flusher_busy() RETURNS int LANGUAGE plpgsql AS $$
	DECLARE
		p int;
	BEGIN
		FOR i IN 1 .. 30000 LOOP
			PERFORM pg_stat_clear_snapshot();
			SELECT pid INTO p FROM pg_stat_activity
			  WHERE backend_type = 'lsm flusher' AND state = 'active';
			IF p IS NOT NULL THEN
				RETURN p;
			END IF;
			PERFORM pg_sleep(0.001);
		END LOOP;
		RETURN NULL;
	END $$;
});
my $script = $node->basedir . '/insert.sql';
open(my $fh, '>', $script) or die "cannot write $script: $!";
print $fh q{
WITH n AS (SELECT nextval('seq') AS n FROM generate_series(1, 10)),
     a AS (INSERT INTO s SELECT hashint8(n), n, repeat(md5(n::text), 3) FROM n)
INSERT INTO hs SELECT hashint8(n), n, repeat(md5(n::text), 3) FROM n;
};
close($fh);

sub start_pgbench
{
	my ($seconds) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[
			'pgbench', '-n', '-f', $script, '-c', $clients, '-j', 2,
			'-T', $seconds, $node->connstr('postgres')
		],
		'>', \$out, '2>', \$err);
	return { h => $h, out => \$out, err => \$err };
}

sub same_rows
{
	my ($what) = @_;
	is($node->safe_psql('postgres', q{
		SELECT count(*) FROM ((SELECT * FROM s EXCEPT ALL SELECT * FROM hs)
		  UNION ALL (SELECT * FROM hs EXCEPT ALL SELECT * FROM s)) d}),
		'0', "the lsm table equals its heap copy $what");
}

my $bench = start_pgbench(14);
$blocker = $node->background_psql('postgres');
my ($max_l0, $stopped, $samples) = (0, 0, 0);
my $t0 = time;
my $blocked = 0;
while (time - $t0 < 13)
{
	my $el = time - $t0;
	if (!$blocked && $el >= 2 && $el < 3)
	{
		# Compaction cannot take the table for four seconds.
		$blocker->query_safe('BEGIN; LOCK TABLE s IN SHARE UPDATE EXCLUSIVE MODE');
		$blocked = 1;
	}
	elsif ($blocked == 1 && $el >= 6)
	{
		$blocker->query_safe('COMMIT');
		$blocked = 2;
	}
	my ($l0, $waiting) = split /\|/, $node->safe_psql('postgres', q{
		SELECT l0('s'), (SELECT count(*) FROM pg_stat_activity
		  WHERE backend_type = 'client backend' AND wait_event_type = 'Extension'
		  AND query LIKE 'WITH n AS%')});
	$max_l0 = $l0 if $l0 > $max_l0;
	$stopped += $waiting;
	$samples++;
	usleep(100_000);
}
$blocker->query_safe('COMMIT') if $blocked == 1;
$blocker->quit;
$bench->{h}->finish;
note ${ $bench->{out} };
is(${ $bench->{err} } =~ /error|abort/i ? ${ $bench->{err} } : '', '', 'pgbench ran without errors');
note "level 0 at most $max_l0 runs; writers seen waiting $stopped times in $samples samples";
cmp_ok($stopped, '>', 0, 'writers waited (wait event Extension) while compaction was held off');
cmp_ok($max_l0, '<=', $stop + $max_frozen + $clients,
	'level 0 stayed bounded by the stop trigger (plus memtables already frozen)');
ok($node->poll_query_until('postgres', "SELECT l0('s') < $stop"),
	'compaction brought level 0 below the stop trigger');
note 'stalls: ' . $node->safe_psql('postgres',
	"SELECT stall_slowdowns, stall_stops, stall_time FROM lsm_stats('s')");
cmp_ok($node->safe_psql('postgres', "SELECT stall_stops FROM lsm_stats('s')"), '>', 0,
	'writers of the load were stopped, and counted');
same_rows('after the load');
$node->safe_psql('postgres', q{
	ALTER SYSTEM RESET lsm.l0_slowdown_trigger;
	SELECT pg_reload_conf();
});

# 5. kill -9 of the flusher while it flushes.
for my $round (1 .. 2)
{
	my $before = $node->safe_psql('postgres', 'SELECT count(*) FROM hs');
	$bench = start_pgbench(30);
	my $pid = $node->safe_psql('postgres', 'SELECT flusher_busy()');
	ok($pid =~ /^\d+$/, "round $round: caught the flusher flushing (pid $pid)");
	kill 'KILL', $pid if $pid =~ /^\d+$/;
	$bench->{h}->finish;
	like(${ $bench->{err} }, qr/terminat|server closed|lost|abort/i,
		"round $round: the crash ended the load");
	# Until the server has reinitialized, connections fail.
	my $deadline = time + 120;
	usleep(100_000)
	  until time > $deadline
	  || IPC::Run::run([ 'pg_isready', '-q', '-d', $node->connstr('postgres') ]);
	ok($node->poll_query_until('postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'lsm flusher' AND pid <> $pid"),
		"round $round: the flusher is back");
	cmp_ok($node->safe_psql('postgres', 'SELECT count(*) FROM hs'), '>', $before,
		"round $round: rows were committed before the crash");
	same_rows("after crash $round");
}

# 6. A memtable pool of four regions shared by three tables written at once:
# writers wait for the flusher (or flush) and all finish.
$node->append_conf('postgresql.conf', 'lsm.memtable_pool_size = 4MB');
$node->restart;
my @loads;
for my $i (1 .. 3)
{
	$node->safe_psql('postgres', "CREATE TABLE p$i (k bigint, pad text) USING lsm");
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[
			'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'),
			'-c', "INSERT INTO p$i SELECT (hashint8(g) % 1000000000000), repeat(md5(g::text), 3)
			  FROM generate_series(1, 60000) g"
		],
		'>', \$out, '2>', \$err, IPC::Run::timeout(180));
	push @loads, { h => $h, err => \$err };
}
for my $l (@loads)
{
	$l->{h}->finish;
	is(${ $l->{err} }, '', 'a load on a full memtable pool finishes without error');
}
is($node->safe_psql('postgres',
	'SELECT (SELECT count(*) FROM p1) + (SELECT count(*) FROM p2) + (SELECT count(*) FROM p3)'),
	'180000', 'every row of the three loads is there');

$node->stop;
done_testing();
