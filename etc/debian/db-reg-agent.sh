#!/bin/sh
# /usr/sbin/db-reg-agent: the daemon's command (flags as SEMS's: -f -E -D -P -u -g -v -h).
exec /usr/bin/node /usr/lib/db-reg-agent/dist/main.js "$@"
