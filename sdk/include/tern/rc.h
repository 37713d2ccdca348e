/* Tern SDK: the one result vocabulary shared by the core and every driver. */
#ifndef TERN_RC_H
#define TERN_RC_H

/*
 * OK       the driver did its job (lookup: found).
 * DECLINE  pass the address to the next director or router.
 * DEFER    temporary failure: retried later, never a bounce.
 * FAIL     permanent failure: bounces (lookup: key not found).
 * ERROR    configuration or internal fault: freeze and write the paniclog.
 */
enum tern_rc {
	TERN_OK = 0,
	TERN_DECLINE = 1,
	TERN_DEFER = 2,
	TERN_FAIL = 3,
	TERN_ERROR = 4,
};

#endif
