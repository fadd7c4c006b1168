/**
 * The plumbing under the test peers: free loopback ports, and process groups that
 * stop completely (workers included, SIGTERM-deaf ones too).
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { makeTempDir, projectRoot } from '../support/fixtures';
import { livingGroupMembers, PeerProcess, strayPeerProcesses, waitUntil } from '../support/peer-process';
import { freePort, freePorts, isPortFree } from '../support/ports';

describe('harness: free loopback ports', function () {
  it('hands out distinct ports, free on UDP and TCP, below the ephemeral range', async function () {
    const ports = await freePorts(20);
    assert.equal(new Set(ports).size, 20);
    const ephemeralStart = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    for (const port of ports) {
      assert.ok(port >= 20000 && port < ephemeralStart, `port ${port}`);
      assert.ok(await isPortFree(port, 'udp'));
      assert.ok(await isPortFree(port, 'tcp'));
    }
    const more = await freePorts(20);
    assert.ok(more.every((port) => !ports.includes(port)), 'a port is never handed out twice');
  });

  it('sees ports that are taken, on UDP and on TCP', async function () {
    const udpPort = await freePort({ protocols: ['udp'] });
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(udpPort, '127.0.0.1', resolve));
    const tcpPort = await freePort({ protocols: ['tcp'] });
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(tcpPort, '127.0.0.1', resolve));
    try {
      assert.equal(await isPortFree(udpPort, 'udp'), false);
      assert.equal(await isPortFree(tcpPort, 'tcp'), false);
    } finally {
      socket.close();
      server.close();
    }
  });

  it('checks IPv6 loopback too when asked', async function () {
    const port = await freePort({ hosts: ['127.0.0.1', '::1'] });
    assert.ok(await isPortFree(port, 'udp', '::1'));
    assert.ok(await isPortFree(port, 'tcp', '::1'));
  });
});

describe('harness: peer process groups', function () {
  this.timeout(20000);

  it('finds the project root from compiled code', function () {
    assert.ok(fs.existsSync(path.join(projectRoot(), 'package.json')));
    assert.ok(fs.existsSync(path.join(projectRoot(), 'test', 'fixtures', 'kamailio', 'kamailio.cfg.tmpl')));
  });

  it('stop() ends the leader and every process it forked', async function () {
    const dir = makeTempDir('peer');
    try {
      const peer = PeerProcess.start('/bin/sh', ['-c', 'sleep 60 & sleep 60 & wait'], { logFile: path.join(dir, 'log') });
      assert.ok(await waitUntil(() => livingGroupMembers(peer.pid).length === 3, 5000), 'shell and two sleeps');
      await peer.stop();
      assert.deepEqual(strayPeerProcesses([peer.pid]), []);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stop() falls back to SIGKILL for a peer that ignores SIGTERM', async function () {
    const dir = makeTempDir('peer');
    try {
      const peer = PeerProcess.start('/bin/sh', ['-c', 'trap "" TERM; sleep 60 & wait; sleep 60'], { logFile: path.join(dir, 'log') });
      assert.ok(await waitUntil(() => livingGroupMembers(peer.pid).length === 2, 5000));
      const started = Date.now();
      const exit = await peer.stop('SIGTERM', 500);
      assert.equal(exit.signal, 'SIGKILL');
      assert.ok(Date.now() - started < 5000);
      assert.deepEqual(strayPeerProcesses([peer.pid]), []);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
