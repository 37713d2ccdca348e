/* dnslookup: ordering MX records (pure; unit-tested in mx_test.c). */
#ifndef TERN_PLUGINS_ROUTERS_DNSLOOKUP_MX_H
#define TERN_PLUGINS_ROUTERS_DNSLOOKUP_MX_H

#include <stddef.h>
#include <stdint.h>

#include <tern/net.h>

/* A random number below n (arc4random_uniform in the module). */
typedef uint32_t (*mx_random_fn)(uint32_t n);

/*
 * Sort MX records by preference, lowest first; records of equal
 * preference end up in random order (RFC 5321 5.1).  n records in
 * v[]; the list links (->next) are rebuilt in the new order.
 */
void mx_sort(struct tern_dns_record **v, size_t n, mx_random_fn rnd);

#endif
