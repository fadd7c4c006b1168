#!/usr/bin/env node
console.error('db-reg-agent: not wired yet');
process.exit(1);
