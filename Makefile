# lsm_am: an LSM-tree table access method for PostgreSQL 15 (PGXS build).
#
#   make                  build lsm_am.so (the PostgreSQL side in src/ plus the
#                         LSM core in lsm/, compiled into the same module)
#   make check-layers     each layer of src/ includes only its own and lower
#                         layers' headers (scripts/check_layers.pl)
#   make install          install the module, control file and SQL script
#   make installcheck     pg_regress (sql/), isolation (test/isolation) and TAP
#                         (test/t) against a running server that has
#                         shared_preload_libraries = 'lsm_am'
#   make installcheck-regress | installcheck-isolation | prove_installcheck
#                         one suite at a time
#   make -C lsm           the core alone: lsm/build/liblsm.a and the offline tool
#                         lsm/build/lsm_inspect (not part of lsm_am.so)
#   make -C lsm check     the core's own tests (no PostgreSQL involved)
#
# scripts/test.sh builds everything and runs every suite, pgTAP included (see
# test/README.md).

MODULE_big = lsm_am
EXTENSION = lsm_am
DATA = lsm_am--0.1.sql
PGFILEDESC = "lsm_am - LSM-tree table access method"

# The core: every lsm/*.c but what only the core's own tests, benchmarks and
# offline tool use (lsm/Makefile builds those): the program lsm_inspect.c, the
# standalone store db.c and the file pager file_pager.c.  lsm_am.so keeps its
# pages in the relation, through src/storage/lsm_pager.c.
LSM_NOT_IN_MODULE = lsm/lsm_inspect.c lsm/db.c lsm/file_pager.c
LSM_SRCS = $(filter-out $(LSM_NOT_IN_MODULE),$(sort $(wildcard lsm/*.c)))
LSM_OBJS = $(LSM_SRCS:.c=.o)
# The PostgreSQL side in layers, each a folder of src/ using only the ones
# before it (doc/design.md, "Layers"): storage (an LSM relation), table (the
# table access method), workers (background flush and compaction),
# extension (_PG_init and the SQL functions).
LAYERS = storage table workers extension
PG_SRCS = $(foreach l,$(LAYERS),$(sort $(wildcard src/$(l)/*.c)))
OBJS = $(PG_SRCS:.c=.o) $(LSM_OBJS)

SHLIB_LINK += -lxxhash -llz4

# src/ includes the core as "lsm/xxx.h", and its own headers by name.
PG_CPPFLAGS = -I$(srcdir)
# Warnings are errors.  Of -Wextra, PostgreSQL 15's headers trip only
# -Wunused-parameter (static inline functions in storage/bufpage.h and
# lib/ilist.h), hence -Wno-unused-parameter.  -Wno-missing-field-initializers
# is not needed by the headers; it allows the partial struct initialisers
# PostgreSQL code uses (callback tables, GUC definitions).
PG_CFLAGS += -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers

# pg_regress: test_setup (the helpers the others share) first, then every
# other sql/*.sql in name order.
REGRESS = test_setup $(filter-out test_setup,$(sort $(basename $(notdir $(wildcard sql/*.sql)))))
REGRESS_OPTS = --temp-config=$(srcdir)/test/regress.conf

# Isolation specs and their expected output live under test/isolation.
ISOLATION = $(sort $(basename $(notdir $(wildcard test/isolation/specs/*.spec))))
ISOLATION_OPTS = --inputdir=$(srcdir)/test/isolation

# TAP tests (PostgreSQL::Test::Cluster).
TAP_TESTS = 1
PROVE_TESTS = $(sort $(wildcard test/t/*.pl))

EXTRA_CLEAN = output_iso tmp_check results regression.diffs regression.out log

# Debian's PostgreSQL 15 unless PG_CONFIG is given (/usr/bin/pg_config on
# Debian picks the newest installed major version, which may not be 15).
ifeq ($(origin PG_CONFIG),undefined)
PG_CONFIG := $(firstword $(wildcard /usr/lib/postgresql/15/bin/pg_config) pg_config)
endif
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# The core is plain C11.  PostgreSQL's CFLAGS add its own style rule
# -Wdeclaration-after-statement, which is not a C11 rule, so the core is
# exempt from that one; every other warning (and -Werror) applies.
$(LSM_OBJS): CFLAGS += -std=c11 -Wno-declaration-after-statement

# A layer's files see the headers of their own layer and the layers below
# it only, so that the compiler refuses an include that runs upward.
# $(call upto,LAYER,LAYERS): the layers before LAYER, and LAYER.
upto = $(if $(filter $(1),$(firstword $(2))),$(1),$(firstword $(2)) $(call upto,$(1),$(wordlist 2,$(words $(2)),$(2))))
$(foreach l,$(LAYERS),$(eval src/$(l)/%.o src/$(l)/%.bc: CPPFLAGS += $(patsubst %,-I$(srcdir)/src/%,$(call upto,$(l),$(LAYERS)))))

# The core's and src/'s headers are dependencies of everything.
$(OBJS): $(wildcard lsm/*.h) $(wildcard src/*/*.h)

check-layers:
	scripts/check_layers.pl
.PHONY: check-layers

# A PostgreSQL module may leave symbols undefined (the server's are resolved
# at load time), so the linker cannot catch a core function that no lsm/*.c
# defines; the server would then refuse to start.  Catch it at build time.
all: check-symbols
check-symbols: $(shlib)
	@undef=$$(nm -u $(shlib) | awk '{print $$NF}' | grep -E '^(lsm|LSM)_' || true); \
	if [ -n "$$undef" ]; then \
		echo "$(shlib): undefined LSM core symbols (no lsm/*.c defines them):" $$undef >&2; \
		exit 1; \
	fi

installcheck-regress:
	$(pg_regress_installcheck) $(REGRESS_OPTS) $(REGRESS)

installcheck-isolation:
	$(pg_isolation_regress_installcheck) $(ISOLATION_OPTS) $(ISOLATION)

# PGXS defines the recipe but no target for running only the TAP tests.
prove_installcheck:
	$(prove_installcheck)

.PHONY: check-symbols installcheck-regress installcheck-isolation prove_installcheck
