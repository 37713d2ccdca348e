/* newaliases (tern -bi): rebuild the dbm files of dbm alias directors. */
#ifndef TERN_CORE_ALIASES_NEWALIASES_H
#define TERN_CORE_ALIASES_NEWALIASES_H

/*
 * For each aliasfile director with search_type dbm or dbmnz and file
 * X.db, run tern-dbmbuild (beside the running binary) to rebuild X.db
 * from X, printing what was done.  Returns the exit status: 0 when every
 * file was rebuilt (or there was none to rebuild), 1 otherwise.
 */
int newaliases_run(void);

#endif
