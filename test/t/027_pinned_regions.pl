# Writes that need a memtable region while other sessions' open scans hold
# every region fail after lsm.region_wait_timeout with a clear error,
# instead of waiting for as long as the cursors stay open.
#
# The pool has four regions.  A session opens a cursor on each of four
# tables, whose memtables another session then flushes: each region now
# holds a flushed memtable that only the cursor still reads.  An insert into
# a fifth table needs a region: it waits lsm.region_wait_timeout (2 s here),
# then fails with the error and its hint.  Once the cursors close, the
# insert goes through.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

my $node = PostgreSQL::Test::Cluster->new('pinned_regions');
$node->init(allows_streaming => 1);
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'lsm_am'
lsm.memtable_size = 1MB
lsm.memtable_pool_size = 4MB
autovacuum = off
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION lsm_am');
for my $i (1 .. 5)
{
	$node->safe_psql('postgres', qq{
		CREATE TABLE t$i (k int, v text) USING lsm;
		INSERT INTO t$i SELECT g, 'v' || g FROM generate_series(1, 100) g;
	});
}
$node->safe_psql('postgres', "SELECT lsm_flush('t5')");

my $reader = $node->background_psql('postgres');
$reader->query_safe('BEGIN');
for my $i (1 .. 4)
{
	$reader->query_safe("DECLARE c$i CURSOR FOR SELECT * FROM t$i");
	$reader->query_safe("FETCH 1 FROM c$i");
}
$node->safe_psql('postgres', "SELECT lsm_flush('t$_')") for 1 .. 4;

my $t0 = time;
my ($ret, $out, $err) = $node->psql('postgres', q{
	SET lsm.region_wait_timeout = '2s';
	SET statement_timeout = '10s';
	INSERT INTO t5 VALUES (101, 'v101');
}, extra_params => ['-v', 'VERBOSITY=verbose']);
my $took = time - $t0;
isnt($ret, 0, 'the insert fails while cursors hold every region');
like($err, qr/53400: no memtable region is free for an lsm table/,
	'with the error (configuration_limit_exceeded)');
like($err, qr/\d of the 4 regions of the memtable pool hold flushed memtables that open scans still read/,
	'whose detail says what holds the regions');
like($err, qr/HINT:  Close long-running cursors/, 'and a hint');
cmp_ok($took, '>=', 2, 'after waiting lsm.region_wait_timeout');
cmp_ok($took, '<', 9, 'not for as long as the cursors stay open');

$reader->query_safe('COMMIT');
$reader->quit;
$node->safe_psql('postgres', q{INSERT INTO t5 VALUES (101, 'v101')});
is($node->safe_psql('postgres', 'SELECT count(*) FROM t5'), '101',
	'once the cursors are closed the insert goes through');

$node->stop;
done_testing();
