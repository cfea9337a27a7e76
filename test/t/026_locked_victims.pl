# Writers that need a memtable region flush idle tables to get one; a
# table someone has locked is passed over, never flushed under the lock.
#
# The memtable pool holds four regions.  Table r is rewritten by ALTER
# TABLE (its new relfilenode was filled through a transient relation that
# the rewrite then dropped), then written least recently of four tables that
# fill the pool.  A session locks r in ACCESS EXCLUSIVE mode; another
# inserts one row into each of nine new tables, each needing a region, so
# each insert must flush an idle table.  r, the first choice, is locked: the
# writer skips it and flushes the others (it used to wait for r's lock,
# retrying r alone).  And r is not flushed while locked: the shared entry of
# its new relfilenode names r, not the dropped transient relation (whose
# lock nobody held).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = PostgreSQL::Test::Cluster->new('victims');
$node->init(allows_streaming => 1);    # wal_level replica: rewrites are logged
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'lsm_am'
lsm.memtable_size = 1MB
lsm.memtable_pool_size = 4MB
autovacuum = off
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION lsm_am;
	CREATE TABLE r (k int, v text) USING lsm;
	INSERT INTO r SELECT g, 'r' || g FROM generate_series(1, 100) g;
});
my $old_node = $node->safe_psql('postgres', q{SELECT pg_relation_filenode('r')});
$node->safe_psql('postgres', 'ALTER TABLE r ALTER COLUMN k TYPE bigint');
isnt($node->safe_psql('postgres', q{SELECT pg_relation_filenode('r')}), $old_node,
	'ALTER TABLE rewrote r');
for my $i (1 .. 3)
{
	$node->safe_psql('postgres', qq{
		CREATE TABLE a$i (k int, v text) USING lsm;
		INSERT INTO a$i SELECT g, 'a' || g FROM generate_series(1, 100) g;
	});
}

# Nothing opens r from here until it is locked: a session that did would
# describe its entry again, and hide what the rewrite left there.
my $locker = $node->background_psql('postgres');
$locker->query_safe('BEGIN; LOCK TABLE r IN ACCESS EXCLUSIVE MODE;');

my $sql = "SET statement_timeout = '30s';\n";
$sql .= "CREATE TABLE z$_ (k int) USING lsm; INSERT INTO z$_ VALUES ($_);\n" for 1 .. 9;
my $t0 = time;
my ($ret, $stdout, $stderr) = $node->psql('postgres', $sql);
my $took = time - $t0;
is($ret, 0, 'nine inserts needing a region each succeed while r is locked')
  or diag $stderr;
cmp_ok($took, '<', 20, 'without waiting for the lock on r')
  or diag "took $took s";
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_class WHERE relname ~ '^a[123]$' AND
		  (SELECT flushes FROM lsm_stats(oid)) > 0}),
	'3', 'the other idle tables were flushed instead');

$locker->query_safe('COMMIT');
$locker->quit;
is($node->safe_psql('postgres',
		q{SELECT (SELECT flushes FROM lsm_stats('r')),
				 (SELECT coalesce(sum(entries), 0) > 0 FROM lsm_memtables('r'))}),
	'0|t', 'r was not flushed while it was locked: its rows are in its memtable');
is($node->safe_psql('postgres', 'SELECT count(*), sum(k) FROM r'), '100|5050',
	'r holds its rows');
is($node->safe_psql('postgres', "SELECT count(*) FROM lsm_verify('r')"), '0',
	'lsm_verify finds nothing wrong in r');

$node->stop;
done_testing();
