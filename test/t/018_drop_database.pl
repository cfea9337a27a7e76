# DROP DATABASE forgets the shared state of the database's lsm tables.
#
# A database made from a template that holds an lsm table gets rows in that
# table's memtable, and is dropped.  A database created again with the same
# OID from the same template has a table with the same relfilenode in the
# same database OID: it must read the template's rows, not attach to the
# dropped table's shared entry and read its memtable (CREATE DATABASE ...
# OID makes the OID reuse that wraparound would make by chance).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('drop_database');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'lsm_am'\nautovacuum = off\n");
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE tmpl');
$node->safe_psql('tmpl', q{
	CREATE EXTENSION lsm_am;
	CREATE TABLE t (k int, v text) USING lsm;
	INSERT INTO t SELECT g, 'template' FROM generate_series(1, 10) g;
	SELECT lsm_flush('t');
});

for my $round (1 .. 2)
{
	$node->safe_psql('postgres', 'CREATE DATABASE d1 OID = 50000 TEMPLATE tmpl');
	is($node->safe_psql('d1', 'SELECT count(*), min(v) FROM t'), '10|template',
		"round $round: the new database has the template's rows");
	$node->safe_psql('d1',
		q{INSERT INTO t SELECT g, 'dropped' FROM generate_series(11, 15) g});
	is($node->safe_psql('d1', 'SELECT count(*) FROM lsm_memtables(\'t\') WHERE entries > 0'),
		'1', "round $round: rows in the memtable");
	$node->safe_psql('postgres', 'DROP DATABASE d1');
}

$node->safe_psql('postgres', 'CREATE DATABASE d1 OID = 50000 TEMPLATE tmpl');
is($node->safe_psql('d1', q{SELECT count(*), count(*) FILTER (WHERE v = 'dropped') FROM t}),
	'10|0', 'a database that reuses the OID reads none of the dropped rows');
is($node->safe_psql('d1', "SELECT count(*) FROM lsm_verify('t')"), '0',
	'lsm_verify finds nothing wrong');

$node->stop;
done_testing();
