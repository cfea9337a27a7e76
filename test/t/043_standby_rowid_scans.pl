# Bitmap heap scans and TABLESAMPLE of lsm tables on a hot standby.  Both
# visit row ids up to the last one handed out; a standby loads nothing into
# shared state, so it takes that bound from the metapage.  A standby answers
# as the primary: bitmap scans (one index, BitmapOr, BitmapAnd) and
# TABLESAMPLE at 100 percent, for rows flushed and still only in the log,
# updated and deleted.
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
autovacuum = off
};

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', $conf);
$primary->start;
$primary->safe_psql('postgres', q{
	CREATE EXTENSION lsm_am;
	CREATE TABLE t (k int, a int, b int, v text) USING lsm;
	CREATE INDEX t_a ON t (a);
	CREATE INDEX t_b ON t (b);
	INSERT INTO t SELECT g, g % 100, g % 37, 'v' || g FROM generate_series(1, 30000) g;
	SELECT lsm_flush('t');
	INSERT INTO t SELECT g, g % 100, g % 37, 'late' FROM generate_series(30001, 32000) g;
	UPDATE t SET a = 7 WHERE k % 101 = 0;
	DELETE FROM t WHERE k % 13 = 0;
	ANALYZE t;
});

$primary->backup('b1');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'b1', has_streaming => 1);
$standby->start;

# rows that reach the standby only through WAL after its start
$primary->safe_psql('postgres', q{
	INSERT INTO t SELECT g, 7, 5, 'streamed' FROM generate_series(40001, 40500) g;
	UPDATE t SET b = 5 WHERE k % 211 = 0;
});
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
is(redo_check($standby), '', 'the standby: every named page exists');

my $bitmap_only = 'SET enable_seqscan = off; SET enable_indexscan = off; SET lsm.enable_lsmscan = off;';
my @queries = (
	'SELECT count(*), sum(k), md5(string_agg(v, \',\' ORDER BY k)) FROM t WHERE a = 7',
	'SELECT count(*), sum(k), md5(string_agg(v, \',\' ORDER BY k)) FROM t WHERE a = 7 OR b = 5',
	'SELECT count(*), sum(k), md5(string_agg(v, \',\' ORDER BY k)) FROM t WHERE a = 7 AND b = 5',
	'SELECT count(*), sum(k) FROM t WHERE a < 3',
);
for my $q (@queries)
{
	my $plan = $standby->safe_psql('postgres', "$bitmap_only EXPLAIN (COSTS OFF) $q");
	like($plan, qr/Bitmap Heap Scan on t/, "the standby plans a bitmap heap scan: $q");
	my $expect = $primary->safe_psql('postgres', "SET enable_bitmapscan = off; $q");
	is($standby->safe_psql('postgres', "$bitmap_only $q"), $expect,
		"the standby's bitmap scan answers as the primary: $q");
}

my $count = $primary->safe_psql('postgres', 'SELECT count(*), sum(k) FROM t');
for my $method ('SYSTEM', 'BERNOULLI')
{
	is($standby->safe_psql('postgres', "SELECT count(*), sum(k) FROM t TABLESAMPLE $method (100)"),
		$count, "TABLESAMPLE $method (100) on the standby returns every row");
}
is($standby->safe_psql('postgres', 'SELECT count(*) FROM t TABLESAMPLE BERNOULLI (0)'), '0',
	'TABLESAMPLE BERNOULLI (0) on the standby returns none');

$standby->stop;
$primary->stop;
done_testing();
