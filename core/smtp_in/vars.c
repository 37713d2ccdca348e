/* The SMTP session's expansion variables (see vars.h). */
#include "smtp_in/vars.h"

#include <stddef.h>
#include <string.h>

struct smtp_in_vars smtp_in_vars;

bool
smtp_in_var(const char *name, const char **value_out, bool *is_tainted_out)
{
	static const struct {
		const char *name;
		size_t      offset;
		bool        is_tainted;
	} tab[] = {
#define V(n, f, t) { n, offsetof(struct smtp_in_vars, f), t }
		V("auth1", auth[0], true),
		V("auth2", auth[1], true),
		V("auth3", auth[2], true),
		V("tls_in_cipher", tls_cipher, false),
		V("tls_cipher", tls_cipher, false),
		V("tls_in_ver", tls_version, false),
		V("tls_in_cipher_std", tls_cipher_std, false),
		V("tls_in_peerdn", tls_peerdn, true),
		V("tls_peerdn", tls_peerdn, true),
		V("tls_in_sni", tls_sni, true),
		V("tls_sni", tls_sni, true),
		V("authenticated_id", authenticated_id, true),
		V("sender_host_address", host_address, false),
		V("sender_host_port", host_port, false),
		V("sender_host_name", host_name, true),
		V("host_lookup_failed", host_lookup_failed, false),
		V("received_ip_address", interface_address, false),
		V("interface_address", interface_address, false),
		V("received_port", interface_port, false),
		V("interface_port", interface_port, false),
		V("received_protocol", received_protocol, false),
#undef V
	};

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		if (strcmp(tab[i].name, name) != 0)
			continue;
		*value_out = *(const char *const *)(const void *)
			((const char *)&smtp_in_vars + tab[i].offset);
		*is_tainted_out = tab[i].is_tainted;
		return true;
	}
	return false;
}
