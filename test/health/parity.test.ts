/**
 * The checks keepalived users bring (file, several checks per real, Nagios plugins,
 * misc_dynamic, user) on loopback, through the real manager and scheduler where timing
 * matters: a file change is read at once, a reported weight goes back to the configured one.
 */
import { chmodSync, mkdtempSync, rmSync, renameSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { prepareCheck } from '../../src/health/checkers/index.js';
import { reasonOf, substitute } from '../../src/health/checkers/exec.js';
import { readState } from '../../src/health/checkers/file.js';
import { tlsFailure } from '../../src/health/checkers/tls-reason.js';
import { HealthManager, type HealthChanges } from '../../src/health/manager.js';
import { runCheck } from '../../src/health/attempt.js';
import { check, config, memoryLogger, real, service } from './fixtures.js';
import { waitFor } from './helpers.js';
import { closedPort, listen, target } from './servers.js';

/** The ${NAME} form of lvsd's variables, as a user writes it in argv. */
const BRACED_PORT = '$' + '{LVSD_CHECK_PORT}';
const BRACED_NOPE = '$' + '{LVSD_NOPE}';
const dir = mkdtempSync(join(tmpdir(), 'lvsd-parity-'));
const managers: HealthManager[] = [];
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.stop()));
  await Promise.all(closers.splice(0).map((c) => c()));
});

function run(settings: Record<string, unknown>, port = 80, timeoutMs = 5000) {
  return runCheck(prepareCheck(check(settings), target(port)), timeoutMs);
}

function watchedManager(settings: Record<string, unknown>, weight = 5) {
  const { logger } = memoryLogger();
  const m = new HealthManager({ logger, random: () => 0 });
  managers.push(m);
  const batches: HealthChanges[] = [];
  m.on('changes', (b) => batches.push(b));
  m.update(
    config([service('web', '10.0.0.1', 80, [real('127.0.0.1', 80, check(settings), { weight })])]),
  );
  return { m, batches, health: () => m.snapshot().real('web', '127.0.0.1:80') };
}

describe('file', () => {
  it('reads up, down, a weight, and says what is wrong with anything else', () => {
    expect(readState('up\n')).toEqual({ ok: true, message: 'file says up' });
    expect(readState(' DOWN ')).toEqual({ ok: false, message: 'file says down' });
    expect(readState('0\n')).toEqual({ ok: true, message: 'file says weight 0', weight: 0 });
    expect(readState('250\nmore')).toEqual({
      ok: true,
      message: 'file says weight 250',
      weight: 250,
    });
    expect(readState('')).toEqual({ ok: false, message: 'file is empty' });
    expect(readState('70000')).toMatchObject({
      ok: false,
      message: /file says "70000": expected up, down or a weight/,
    });
    expect(readState('drain')).toMatchObject({ ok: false, message: /file says "drain"/ });
  });

  it('a missing file is down, or up with missing: up', async () => {
    const path = join(dir, 'absent');
    expect(await run({ type: 'file', path })).toMatchObject({
      ok: false,
      message: `${path} does not exist`,
    });
    expect(await run({ type: 'file', path, missing: 'up' })).toMatchObject({ ok: true });
  });

  it('a change is read at once, not at the next interval; the weight follows, then the configured one', async () => {
    const path = join(dir, 'web1');
    writeFileSync(path, 'up\n');
    const { batches, health } = watchedManager({
      type: 'file',
      path,
      interval: '1h',
      timeout: '1s',
    });
    await waitFor(() => health()?.up === true, 'up from the file');
    writeFileSync(path, '0\n');
    await waitFor(() => health()?.weight === 0, 'drained by writing 0', 2000);
    expect(batches.flatMap((b) => b.weights)).toContainEqual({
      service: 'web',
      real: '127.0.0.1:80',
      from: undefined,
      to: 0,
    });
    // Replaced by rename, as tools that write safely do.
    writeFileSync(`${path}.new`, 'up\n');
    renameSync(`${path}.new`, path);
    await waitFor(() => health()?.weight === undefined, 'back to the configured weight', 2000);
    expect(batches.flatMap((b) => b.weights).at(-1)).toEqual({
      service: 'web',
      real: '127.0.0.1:80',
      from: 0,
      to: 5,
    });
    writeFileSync(path, 'down\n');
    await waitFor(() => health()?.up === false, 'down from the file', 2000);
    rmSync(path);
  });
});

describe('all', () => {
  it("every part must pass; each part checks its own port, the all check's by default", async () => {
    const { port, close } = await listen(net.createServer((s) => s.on('error', () => undefined)));
    closers.push(close);
    const closed = await closedPort();
    const ok = await run(
      { type: 'all', checks: [{ type: 'tcp' }, { type: 'exec', command: ['/bin/true'] }] },
      port,
    );
    expect(ok).toMatchObject({ ok: true, message: 'tcp: connected; exec: exit 0' });
    const failing = await run(
      { type: 'all', checks: [{ type: 'tcp' }, { type: 'tcp', port: closed }] },
      port,
    );
    expect(failing).toMatchObject({
      ok: false,
      message: `tcp #2: connect ECONNREFUSED 127.0.0.1:${closed}`,
    });
  });

  it('a part that hangs is ended with the check', async () => {
    const result = await run(
      {
        type: 'all',
        checks: [
          { type: 'exec', command: ['/bin/sleep', '30'] },
          { type: 'tcp', port: 9 },
        ],
      },
      80,
      300,
    );
    expect(result.ok).toBe(false);
  });

  it("a weight reported by a part is the check's", async () => {
    const s = join(dir, 'w.sh');
    writeFileSync(s, '#!/bin/sh\necho 7\n');
    chmodSync(s, 0o755);
    const result = await run({
      type: 'all',
      checks: [
        { type: 'exec', command: [s], dynamic_weight: true },
        { type: 'exec', command: ['/bin/true'] },
      ],
    });
    expect(result).toMatchObject({ ok: true, weight: 7 });
  });
});

describe('exec', () => {
  it("substitutes lvsd's variables in argv, and nothing else", () => {
    const vars = { LVSD_CHECK_ADDRESS: '192.168.10.2', LVSD_CHECK_PORT: '8080' };
    expect(substitute(`-H$LVSD_CHECK_ADDRESS:${BRACED_PORT}`, vars)).toBe('-H192.168.10.2:8080');
    expect(substitute(`$LVSD_CHECK_ADDRESSX $HOME $(id) ${BRACED_NOPE}`, vars)).toBe(
      `$LVSD_CHECK_ADDRESSX $HOME $(id) ${BRACED_NOPE}`,
    );
  });

  it('substitution reaches the program: one argv for every real', async () => {
    const out = join(dir, 'argv');
    const s = join(dir, 'argv.sh');
    writeFileSync(s, `#!/bin/sh\nprintf '%s\\n' "$@" > ${out}\n`);
    chmodSync(s, 0o755);
    await run(
      { type: 'exec', command: [s, '$LVSD_CHECK_ADDRESS', BRACED_PORT, '$LVSD_SERVICE'] },
      8081,
    );
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(out, 'utf8')).toBe('127.0.0.1\n8081\nweb\n');
  });

  it('the reason: a Nagios summary without perfdata, else the last line said, never the usage text', () => {
    expect(
      reasonOf('HTTP OK: HTTP/1.1 200 OK - 10 bytes |time=0.001s;;;0.0 size=10B;;;0\n', ''),
    ).toBe('HTTP OK: HTTP/1.1 200 OK - 10 bytes');
    expect(reasonOf("DISK CRITICAL - free space: / 1 MB (1%);| '/'=99MB;;;0;100\n", '')).toBe(
      'DISK CRITICAL - free space: / 1 MB (1%);',
    );
    expect(reasonOf('check_x: Could not parse arguments\nUsage:\n check_x -H host\n', '')).toBe(
      'check_x: Could not parse arguments',
    );
    expect(reasonOf('progress\n', 'first\nbackend degraded\n')).toBe('backend degraded');
    // Only a first line in a plugin's shape is a summary: a script's own "... OK" is not.
    expect(reasonOf('fetching /health... OK\n', 'backend degraded\n')).toBe('backend degraded');
    expect(reasonOf('CRITICAL - Socket timeout after 10 seconds\n', '')).toBe(
      'CRITICAL - Socket timeout after 10 seconds',
    );
    expect(reasonOf('a | b\n', '')).toBe('a | b');
  });

  it('exit 1 is down, or up with warning: up', async () => {
    const exit1 = {
      type: 'exec',
      command: ['/bin/sh', '-c', 'echo "LOAD WARNING - load 9"; exit 1'],
    };
    expect(await run(exit1)).toMatchObject({ ok: false, message: 'exit 1: LOAD WARNING - load 9' });
    expect(await run({ ...exit1, warning: 'up' })).toMatchObject({
      ok: true,
      message: 'exit 1 (warning: up): LOAD WARNING - load 9',
    });
  });

  it.skipIf(process.getuid?.() !== 0)('runs as another user and group (root only)', async () => {
    const idCheck = (user: string, group?: string) => ({
      type: 'exec',
      command: ['/bin/sh', '-c', 'echo "$(id -un):$(id -gn) $HOME"; test "$(id -un)" = nobody'],
      user,
      ...(group ? { group } : {}),
    });
    const result = await run(idCheck('nobody'));
    expect(result).toMatchObject({ ok: true });
    const failing = await run({
      ...idCheck('nobody', 'root'),
      command: ['/bin/sh', '-c', 'id -gn >&2; exit 1'],
    });
    expect(failing).toMatchObject({ ok: false, message: 'exit 1: root' });
    // A uid serves as well; the program gets the user's name and home, and none of lvsd's
    // supplementary groups (root's, here).
    const said = {
      type: 'exec',
      command: ['/bin/sh', '-c', 'echo "$(id) HOME=$HOME USER=$USER LOGNAME=$LOGNAME"; exit 1'],
    };
    const nobody = 'uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)';
    expect(await run({ ...said, user: '65534' })).toMatchObject({
      ok: false,
      message: `exit 1: ${nobody} HOME=/nonexistent USER=nobody LOGNAME=nobody`,
    });
    expect(() => prepareCheck(check(idCheck('no-such-user-here')), target(80))).toThrow(
      'no user no-such-user-here',
    );
  });

  it('misc_dynamic: exit 0 goes back to the configured weight', async () => {
    const path = join(dir, 'code');
    writeFileSync(path, '12');
    const { health } = watchedManager({
      type: 'exec',
      command: ['/bin/sh', '-c', `exit $(cat ${path})`],
      dynamic_weight: 'exit_status',
      interval: '100ms',
      timeout: '90ms',
    });
    await waitFor(() => health()?.weight === 10, 'weight 10 from exit 12');
    writeFileSync(path, '0');
    await waitFor(
      () => health()?.up === true && health()?.weight === undefined,
      'configured weight after exit 0',
    );
  });
});

describe('TLS reasons', () => {
  const error = (code: string, message = 'x', reason?: string) =>
    Object.assign(new Error(message), { code, ...(reason ? { reason } : {}) });
  it.each([
    [
      error(
        'ERR_SSL_WRONG_VERSION_NUMBER',
        'C0:error:0A00010B:SSL routines:ssl3_get_record:wrong version number',
      ),
      'TLS handshake failed: the server did not answer TLS',
    ],
    [
      error(
        'ECONNRESET',
        'Client network socket disconnected before secure TLS connection was established',
      ),
      'TLS handshake failed: the server closed the connection',
    ],
    [
      error('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'x', 'tlsv13 alert certificate required'),
      'TLS handshake failed: tlsv13 alert certificate required ' +
        '(the server wants a client certificate it trusts: cert and key)',
    ],
    [error('CERT_HAS_EXPIRED', 'certificate has expired'), 'TLS certificate has expired'],
    [
      error('DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate'),
      'TLS certificate not trusted: self-signed certificate (set ca to its CA file, or verify: false)',
    ],
  ])('%s', (err, reason) => {
    expect(tlsFailure(err)).toBe(reason);
  });
});
