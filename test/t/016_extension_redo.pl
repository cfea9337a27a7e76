# Relation extension survives redo.
#
# The log takes pages in extents that lsm_extend adds at the end of the
# file; pages of such an extent that the log never wrote go back to the
# free list the next time the table is loaded.  Redo must rebuild a file
# that holds every page the free list names: crash recovery that replays a
# VACUUM truncation and then the growth after it, and a standby that is
# promoted.  Before extension was WAL-logged, both ended with a file
# shorter than the primary's and every access failed with "free extent
# ... lies outside the relation".
#
# After each redo, redo_check (LsmCrash.pm) checks that every page the
# metapage, the manifest, the log or the free list names exists, and that
# no load had to drop free pages past the end.  The standby replays with
# wal_consistency_checking = 'generic', so a log page or metapage that redo
# builds differently from the primary stops it.
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
autovacuum = off
wal_consistency_checking = 'generic'
};

# --- crash recovery that replays a truncation ------------------------------
my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf('postgresql.conf', $conf);
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION lsm_am;
	CREATE TABLE tk (id bigint, v text) USING lsm;
	INSERT INTO tk SELECT g, repeat('x', 200) FROM generate_series(1, 12000) g;
	SELECT lsm_flush('tk');
	SELECT lsm_compact('tk');
	SELECT txid_current();
	CHECKPOINT;
});
# The compaction's old runs become reusable once the xid horizon passes
# their freeing (txid_current above): this VACUUM moves the run down into
# them and truncates the file.  Redo starts at the checkpoint before it.
my $before = $node->safe_psql('postgres', q{SELECT pg_relation_size('tk')});
$node->safe_psql('postgres', 'VACUUM tk');
cmp_ok($node->safe_psql('postgres', q{SELECT pg_relation_size('tk')}),
	'<', $before, 'VACUUM truncated the file');
# The log grows past the new end into pages it has not written yet.
$node->safe_psql('postgres',
	q{INSERT INTO tk SELECT g, repeat('y', 200) FROM generate_series(12001, 18000) g});
# A rolled-back DROP makes the next statement load the table again, which
# gives the log's unused pages back to the free list (WAL-logged).
$node->safe_psql('postgres', 'BEGIN; DROP TABLE tk; ROLLBACK;');
is($node->safe_psql('postgres', 'SELECT count(*) FROM tk'), '18000',
	'every row before the crash');
my $size = $node->safe_psql('postgres', q{SELECT pg_relation_size('tk')});
$node->stop('immediate');
$node->start;
is($node->safe_psql('postgres', q{SELECT pg_relation_size('tk')}), $size,
	'redo after the truncation rebuilds the whole file');
is($node->safe_psql('postgres', 'SELECT count(*) FROM tk'), '18000',
	'every row after crash recovery');
is(redo_check($node), '', 'after crash recovery: every named page exists');
$node->stop;

# --- a standby promoted ---------------------------------------------------
my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', $conf);
$primary->start;
$primary->safe_psql('postgres', 'CREATE EXTENSION lsm_am');
$primary->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'b', has_streaming => 1);
$standby->start;

$primary->safe_psql('postgres', q{
	CREATE TABLE t (id bigint, v text) USING lsm;
	INSERT INTO t SELECT g, repeat('z', 200) FROM generate_series(1, 12000) g;
});
$primary->safe_psql('postgres', 'BEGIN; DROP TABLE t; ROLLBACK;');
is($primary->safe_psql('postgres', 'SELECT count(*) FROM t'), '12000',
	'the primary has every row');
$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
is($standby->safe_psql('postgres', q{SELECT pg_relation_size('t')}),
	$primary->safe_psql('postgres', q{SELECT pg_relation_size('t')}),
	'the standby file is as long as the primary file');
is(redo_check($standby), '', 'on the standby: every named page exists');

$standby->promote;
is($standby->safe_psql('postgres', 'SELECT count(*) FROM t'), '12000',
	'the promoted standby has every row');
$standby->safe_psql('postgres',
	q{INSERT INTO t SELECT g, 'after' FROM generate_series(12001, 13000) g});
is($standby->safe_psql('postgres', 'SELECT count(*) FROM t'), '13000',
	'and takes writes');
is(redo_check($standby), '', 'after promotion: every named page exists');

done_testing();
