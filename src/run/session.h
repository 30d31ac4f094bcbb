/* session.h — internal: what the agent loop needs of a session beyond the
 * public API (recording its own events in the session's audit log). */
#ifndef NC_RUN_SESSION_H
#define NC_RUN_SESSION_H

#include <jansson.h>
#include <stdbool.h>

#include "nanoclaw.h"

/* Append an audit record for this session (fields stolen, may be NULL).
 * No-op when auditing is off. */
void nc_session_audit(nc_session *s, const char *event, json_t *fields);

/* For a caller with its own event loop (the `nanoclaw session` daemon):
 * an fd that turns readable when the session has work between execs (the
 * proxy, the deadline, the sandbox ending), and the call that does it.
 * nc_session_poll returns false once the sandbox is gone. */
int nc_session_fd(const nc_session *s);
bool nc_session_poll(nc_session *s);

#endif
