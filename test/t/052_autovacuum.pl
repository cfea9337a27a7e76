# Autovacuum on lsm tables: it vacuums a table with many deleted rows
# (dead versions and their index entries go), and an anti-wraparound
# autovacuum freezes it and advances relfrozenxid once its age passes
# autovacuum_freeze_max_age.  No error in the server log.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('autovacuum');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'lsm_am'
autovacuum_naptime = 1s
});
$node->start;
$node->safe_psql('postgres', qq{
	CREATE EXTENSION lsm_am;
	CREATE TABLE av (id int, v text) USING lsm WITH (
		autovacuum_vacuum_threshold = 100, autovacuum_vacuum_scale_factor = 0,
		autovacuum_freeze_max_age = 100000, autovacuum_freeze_min_age = 0);
	CREATE INDEX av_v ON av (v);
	INSERT INTO av SELECT g, 'x' || g FROM generate_series(1, 20000) g;
	DELETE FROM av WHERE id % 2 = 0;
	CREATE TABLE burn (i int);
});

ok($node->poll_query_until('postgres', qq{
	SELECT autovacuum_count > 0 FROM pg_stat_user_tables WHERE relname = 'av'}),
	'autovacuum vacuumed the lsm table');
ok($node->poll_query_until('postgres', qq{
	SELECT sum(entries) = 2 * (SELECT count(*) FROM av) FROM lsm_levels('av')}),
	'its dead versions are gone: one VALUE and one row-map entry per row');
is($node->safe_psql('postgres', qq{
	SET enable_seqscan = off; SET enable_bitmapscan = off;
	SELECT count(*) FROM av WHERE v > 'x'}), '10000', 'the index answers');

# Age the table past autovacuum_freeze_max_age: 120,000 subtransactions
# that each take an xid.
for (1 .. 2)
{
	$node->safe_psql('postgres', qq{
		DO \$\$ BEGIN FOR i IN 1..60000 LOOP
			BEGIN INSERT INTO burn VALUES (i); EXCEPTION WHEN OTHERS THEN NULL; END;
		END LOOP; END \$\$});
}
cmp_ok($node->safe_psql('postgres', "SELECT age(relfrozenxid) FROM pg_class WHERE relname = 'av'"),
	'>', 100000, 'relfrozenxid is older than autovacuum_freeze_max_age');
ok($node->poll_query_until('postgres', qq{
	SELECT age(relfrozenxid) < 1000 FROM pg_class WHERE relname = 'av'}),
	'an anti-wraparound autovacuum advanced relfrozenxid');
is($node->safe_psql('postgres', 'SELECT count(*), sum(id) FROM av'), '10000|100000000',
	'the rows are intact');

my $log = slurp_file($node->logfile);
unlike($log, qr/ERROR|PANIC|TRAP/, 'no error in the server log');

$node->stop;
done_testing();
