# Concurrent INSERT ... ON CONFLICT on lsm tables, with speculative insertion
# conflicts happening for real rather than forced (the isolation spec
# lsm_upsert_speculative forces them one at a time).
#
#  - Four pgbench clients upsert counters over a small key space (DO UPDATE
#    SET n = n + 1), over a growing one (DO NOTHING, and DO UPDATE), and on
#    the key after the largest, which all clients insert at the same time
#    (there speculative insertions race and some are killed: the count of
#    killed ones, which the table counts as deletions, is noted): every
#    statement counts exactly once (sum(n) is the number of statements), no
#    key appears twice, the primary key index finds every row, and heap
#    tables given the same load answer the same.  The second unique index
#    (u) is deferrable: an immediate one that is not the arbiter makes an
#    inserter that raced another on the same key wait for it and fail with
#    a unique violation, on heap too (it was seen once in seven runs); a
#    deferrable one is checked after the speculative insertion resolved.
#  - The same load killed with kill -9 midway: after recovery no key appears
#    twice, the index and a sequential scan see the same rows, and the
#    tables take upserts again.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $clients = 4;
my $txns = 400;

my $node = PostgreSQL::Test::Cluster->new('upsert');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'lsm_am'
max_connections = 30
lsm.memtable_size = 1MB
lsm.memtable_pool_size = 16MB
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION lsm_am;
	CREATE TABLE lc (k int PRIMARY KEY, n int) USING lsm;
	CREATE TABLE hc (k int PRIMARY KEY, n int) USING heap;
	CREATE TABLE ln (k int PRIMARY KEY, who int) USING lsm;
	CREATE TABLE hn (k int PRIMARY KEY, who int) USING heap;
	CREATE TABLE lg (k text COLLATE "C" PRIMARY KEY, n int,
					 u int UNIQUE DEFERRABLE INITIALLY IMMEDIATE) USING lsm;
	CREATE TABLE lq (k int PRIMARY KEY, n int) USING lsm;
	CREATE TABLE hq (k int PRIMARY KEY, n int) USING heap;
	CREATE TABLE hg (k text COLLATE "C" PRIMARY KEY, n int,
					 u int UNIQUE DEFERRABLE INITIALLY IMMEDIATE) USING heap;
});

# One transaction of the script: an upsert of each kind, on both AMs.
my $script = $node->basedir . '/upsert.sql';
PostgreSQL::Test::Utils::append_to_file($script, q{
\set hot random(1, 20)
\set fresh random(1, 3000)
\set g random(1, 1500)
INSERT INTO lc VALUES (:hot, 1) ON CONFLICT (k) DO UPDATE SET n = lc.n + 1;
INSERT INTO hc VALUES (:hot, 1) ON CONFLICT (k) DO UPDATE SET n = hc.n + 1;
INSERT INTO ln VALUES (:fresh, :client_id) ON CONFLICT DO NOTHING;
INSERT INTO hn VALUES (:fresh, :client_id) ON CONFLICT DO NOTHING;
INSERT INTO lg VALUES ('k' || :g, 1, :g) ON CONFLICT (k) DO UPDATE SET n = lg.n + 1;
INSERT INTO hg VALUES ('k' || :g, 1, :g) ON CONFLICT (k) DO UPDATE SET n = hg.n + 1;
INSERT INTO lq SELECT coalesce(max(k), 0) + 1, 1 FROM lq ON CONFLICT (k) DO UPDATE SET n = lq.n + 1;
INSERT INTO hq SELECT coalesce(max(k), 0) + 1, 1 FROM hq ON CONFLICT (k) DO UPDATE SET n = hq.n + 1;
});

sub pgbench
{
	my (@opts) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[
			'pgbench', '-n', '-f', $script, '-c', $clients, '-j', 2,
			@opts, $node->connstr('postgres')
		],
		'>', \$out, '2>', \$err);
	return { h => $h, out => \$out, err => \$err };
}

# No key twice; the primary key index (LsmScan off) finds exactly the rows a
# sequential scan finds.
sub consistent
{
	my ($t, $what) = @_;
	is($node->safe_psql('postgres', qq{
		SET enable_seqscan = off; SET enable_bitmapscan = off; SET lsm.enable_lsmscan = off;
		SELECT (SELECT count(*) - count(DISTINCT k) FROM $t)
			|| ' ' || (SELECT count(*) FROM $t a WHERE NOT EXISTS (SELECT 1 FROM $t b WHERE b.k = a.k AND b.ctid = a.ctid))
			|| ' ' || ((SELECT count(*) FROM $t WHERE k = ANY (SELECT k FROM $t)) = (SELECT count(*) FROM $t))}),
		'0 0 true', "$what: $t has no key twice and its index finds every row");
}

my $b = pgbench('-t', $txns);
$b->{h}->finish;
is(${ $b->{err} } =~ /error|abort/i ? ${ $b->{err} } : '', '', 'pgbench ran without errors');

my $total = $clients * $txns;
is($node->safe_psql('postgres', 'SELECT sum(n) FROM lc'), $total,
	'DO UPDATE counted every statement once on lsm');
is($node->safe_psql('postgres', 'SELECT sum(n) FROM hc'), $total,
	'... as on heap');
is($node->safe_psql('postgres', 'SELECT sum(n) FROM lg'), $total,
	'DO UPDATE with a second unique index counted every statement once on lsm');
is($node->safe_psql('postgres', 'SELECT sum(n) FROM lq'), $total,
	'DO UPDATE of keys all clients insert at once counted every statement once on lsm');
is($node->safe_psql('postgres', 'SELECT sum(n) FROM hq'), $total,
	'... as on heap');
is($node->safe_psql('postgres', 'SELECT count(*) FROM lc'),
	$node->safe_psql('postgres', 'SELECT count(*) FROM hc'),
	'as many counters as on heap');
consistent($_, 'after the load') for qw(lc ln lg lq);
my $killed = $node->safe_psql('postgres', q{
	SELECT sum(n_tup_del) FROM pg_stat_user_tables WHERE relname IN ('lc', 'ln', 'lg', 'lq')});
note "speculative insertions killed on the lsm tables (counted as deletions): $killed";

# The same load, killed midway.
$b = pgbench('-T', 20);
sleep 4;
$node->stop('immediate');
$b->{h}->finish;
$node->start;
consistent($_, 'after kill -9') for qw(lc ln lg lq hc hn hg hq);
$node->safe_psql('postgres', q{
	INSERT INTO lc SELECT g, 1 FROM generate_series(1, 30) g ON CONFLICT (k) DO UPDATE SET n = lc.n + 1;
	INSERT INTO ln SELECT g, 0 FROM generate_series(1, 3100) g ON CONFLICT DO NOTHING;
});
is($node->safe_psql('postgres', 'SELECT count(*) FROM ln'), 3100,
	'after recovery DO NOTHING fills exactly the missing keys');
consistent($_, 'upserts after recovery') for qw(lc ln);

$node->stop;
done_testing();
