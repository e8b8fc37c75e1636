/**
 * The daemon core (`lvsd run`): holds the last good config, runs the health checks and
 * keeps the kernel converged through reconcile passes, one at a time.
 *
 * Passes are triggered by: start, a config reload, a batch of health transitions, the
 * drift timer (someone ran `ipvsadm -d`), a drain waiting for connections to end, a real
 * quiesced without a read to settle, and a retry after a failed write. Every pass goes
 * through the Reconciler (read, plan, apply, save state): the daemon never writes to the
 * kernel by itself. Triggers that arrive during a pass are merged into one follow-up pass
 * (CoalescingRunner).
 *
 * A pass triggered by health batches, reloads, settles or drain rechecks alone is scoped to
 * the services they named: a health batch names the services whose reals changed, a reload
 * the services it added or edited (reload-scope.ts), a settle those written without a
 * read, a drain recheck those with drains waiting. Only those are read, planned and
 * applied, so a decision reaches the kernel in milliseconds on a 10k-real table, a one-line
 * edit costs one service's read, not a whole dump, and neither does a drain looked at
 * every few seconds. A reload that removes a service or changes kernel settings, VIPs or
 * the policy, and any other trigger (start, drift, retry, SIGHUP without a change), makes a
 * full pass; only full passes, which read everything, put off the next drift check. The
 * drift check's read gives way to health: checks go on during it, and a health batch that
 * comes ends the read at the next service (driftYielded), the decisions' pass runs, and the
 * drift check comes again a settle wait later.
 *
 * What happens when a real fails (src/health/manager.ts has the first half: check result,
 * rise/fall, transition, batch):
 * - startInner() subscribed to the HealthManager (`health`): each 'changes' batch goes to
 *   noteHealthBatch(), which adds the services it names to the next pass's scope, and to
 *   requestPass('health'); 'tally' and 'transition' events only feed the metrics.
 * - runPass() (one at a time, CoalescingRunner) takes that scope (takeScope); desiredFor()
 *   calls desiredState(config of those services, health.snapshot()): the failed real is left
 *   out, or kept at weight 0 with `on_failure: inhibit` (src/reconcile/desired.ts).
 * - reconcileOnce() hands that to Reconciler.pass() with what the last clean pass aimed at
 *   (knownFor): a service still as aimed is not read, the failed real goes to weight 0 at
 *   once (deleted now without a drain time; src/reconcile/quiesce.ts); any other is read
 *   and plan()ned (a real with connections and a drain time goes to weight 0 and is deleted
 *   once they end; otherwise it is deleted now). applyPlan() writes both: the IpvsClient's
 *   execute() is the kernel write.
 * - settleLater() names a service with a real quiesced unread for a 'settle' pass settleMs
 *   after the last health batch, once no real is part-way to down, which reads it and
 *   deletes the real or lets it drain.
 *
 * An invalid config is logged with all its errors and ignored: the last good config stays
 * in force and no pass runs for it. So is a valid one whose pass the guard against mass
 * removal refuses (it is put back). Stopping leaves the kernel table in place (traffic keeps
 * flowing while lvsd restarts); `cleanupOnExit` removes what lvsd owns and nothing else.
 */
import type { ResolvedConfig } from '../config/resolved.js';
import { liveWeightsFrom } from '../health/live.js';
import type { HealthChanges, HealthManager } from '../health/manager.js';
import type { IpvsClient } from '../ipvs/client.js';
import { ReadYielded } from '../ipvs/errors.js';
import { serviceId, type IpvsInfo, type IpvsTable } from '../ipvs/model.js';
import type {
  DesiredService,
  DesiredState,
  Plan,
  PlanStep,
  WaitingDrain,
} from '../reconcile/types.js';
import type { KnownServices } from '../reconcile/quiesce.js';
import { desiredState, reconcilePolicy } from '../reconcile/desired.js';
import type { MassRemoval } from '../reconcile/guard.js';
import type { ApplyReport } from '../reconcile/apply.js';
import { Reconciler, type ReconcileResult } from '../reconcile/reconciler.js';
import { type SyncRole, withSyncRole } from '../reconcile/sync-role.js';
import { StateStore } from '../reconcile/state.js';
import { systemHostPorts, type HostPorts } from '../reconcile/system-ports.js';
import { PhaseTimer } from '../util/timings.js';
import type { Logger } from '../util/log.js';
import type { ConfigLoader } from './config-loader.js';
import { driftSteps, scopedAim, type Aim } from './drift.js';
import { DaemonMetrics } from './metrics.js';
import { CoalescingRunner, Debouncer } from './serial.js';
import {
  buildServices,
  healthDetails,
  type DaemonStatus,
  type PassRecord,
  type ReloadRecord,
} from './status.js';
import { RecordingClient } from './recording-client.js';
import { reloadScope } from './reload-scope.js';
import { ConfigWatcher } from './watch.js';

export type Trigger =
  | 'start'
  | 'reload'
  | 'health'
  | 'vrrp'
  | 'settle'
  | 'drift'
  | 'drain'
  | 'retry';
export type ReloadReason = 'watch' | 'signal' | 'manual';

/** What a pass may be scoped for: the services they name; any other trigger makes it full. */
const SCOPED_TRIGGERS: ReadonlySet<Trigger> = new Set(['health', 'reload', 'settle', 'drain']);

/** Most specific first: a pass triggered by a reload and a drift tick is labelled a reload. */
const TRIGGER_ORDER: readonly Trigger[] = [
  'start',
  'reload',
  'health',
  'vrrp',
  'settle',
  'drain',
  'retry',
  'drift',
];

export interface DaemonOptions {
  configPath: string;
  load: ConfigLoader;
  client: IpvsClient;
  /**
   * The health checks: the daemon hands it every config it adopts, turns each of its
   * 'changes' batches into a pass and reads its snapshot() there (tests drive a real one
   * with scripted checkers and manual timers).
   */
  health: HealthManager;
  /** The VRRP side (src/vrrp): follows each config the daemon adopts; its role steers the sync daemon. */
  vrrp?: VrrpSide | null;
  /** The BGP side (src/announce): follows each config the daemon adopts. */
  announce?: { update(announce: ResolvedConfig['announce']): Promise<void> } | null;
  logger: Logger;
  /** lvsd's state file directory (owned services, drains). */
  stateDir: string;
  /** The reconciler's sysctl, address and firewall ports (default: this host's). */
  hostPorts?: HostPorts;
  metrics?: DaemonMetrics;
  /** Watch the config for changes (default true); SIGHUP reloads either way. */
  watch?: boolean;
  /** Poll instead of inotify (NFS and friends). */
  watchPolling?: boolean;
  /** Quiet time after the last change before a reload (default 500 ms). */
  reloadDebounceMs?: number;
  /** How often a waiting drain is looked at again (default 5 s). */
  drainRecheckMs?: number;
  /**
   * How long after the last health batch the services of reals quiesced without a read
   * (weight 0) are read again, to delete them or let them drain (default 1 s, longer while
   * a real is part-way to down; 5 times that at most after the first quiesce): the reads
   * wait until a burst of failures, or of reals coming back, has been written, and while it
   * lasts they would hold the checks that detect the rest of it. A drift check due while
   * health decisions are under way waits the same way (driftDue).
   */
  settleMs?: number;
  /** Delay before retrying a pass that failed (default 5 s, never more than drift_interval). */
  retryMs?: number;
  /** A scrape re-reads the table when the cached one is older than this (default 5 s). */
  statsMaxAgeMs?: number;
  /** Remove what lvsd owns on stop (default false: the table stays). */
  cleanupOnExit?: boolean;
  version?: string;
}

export interface PassSummary {
  triggers: Trigger[];
  skipped: boolean;
  writes: number;
  failed: number;
  driftRepairs: number;
  plan: Plan | null;
  error: Error | null;
}

export class ConfigRejectedError extends Error {
  override readonly name = 'ConfigRejectedError';
  constructor(readonly errors: string[]) {
    super(`invalid configuration (${errors.length} error${errors.length === 1 ? '' : 's'})`);
  }
}

/** What the daemon needs of the VRRP side (src/vrrp/service.ts's VrrpService in lvsd run). */
export interface VrrpSide {
  update(vrrp: ResolvedConfig['vrrp']): Promise<void>;
  syncRole(): SyncRole | null;
}

/** A pass that wrote nothing: skipped (stopping, or no config yet), or failed with `error`. */
function idleSummary(triggers: Trigger[], skipped: boolean, error: Error | null): PassSummary {
  return { triggers, skipped, writes: 0, failed: 0, driftRepairs: 0, plan: null, error };
}

/** A pass the guard against mass removal refused: nothing was written. */
export class RemovalRefusedError extends Error {
  override readonly name = 'RemovalRefusedError';
  constructor(readonly refusal: MassRemoval) {
    const how = 'set reconcile.allow_mass_removal: true, or raise reconcile.max_removal';
    super(`${refusal.message}; nothing was changed (${how}, if this is meant)`);
  }
}

/** Asked for status before the first config was loaded (HTTP 503). */
export class NotReadyError extends Error {
  override readonly name = 'NotReadyError';
}

export class Daemon {
  readonly metrics: DaemonMetrics;
  private config: ResolvedConfig | null = null;
  private configLoadedAt = 0;
  private lastReload: ReloadRecord | null = null;
  private lastPass: PassRecord | null = null;
  /** Drains waiting for their connections to end, as the passes left them (for /status). */
  private waiting: WaitingDrain[] = [];
  /**
   * Services named by health batches and changed by reloads since the last pass began;
   * null when one of them needs a full pass (a batch that named none, a reload that
   * removed a service or changed kernel settings).
   */
  private pendingScope: Set<string> | null = new Set();
  /** Services with a real quiesced without a read, to read in the next 'settle' pass. */
  private settling = new Set<string>();
  /** The kernel client, remembering the table each pass reads (for /status and /metrics). */
  private readonly client: RecordingClient;
  private tableRead: Promise<{ table: IpvsTable; readAt: number }> | null = null;
  private info: IpvsInfo | null = null;
  /** What the last clean pass aimed at: a write that aim already wanted repairs drift. */
  private lastAim: Aim | null = null;
  /** Date.now() of the start of the last full pass that applied (0: none yet); scoped passes follow one. */
  private lastFullPass = 0;
  /** The one path to the kernel: every pass, and the cleanup on exit. */
  private readonly reconciler: Reconciler;
  private lastAdvice = '';
  private lastForeign = '';
  private readonly passes: CoalescingRunner<Trigger, PassSummary>;
  private readonly reloads: CoalescingRunner<ReloadReason, ReloadRecord | null>;
  /** Resolves true once start() succeeded, false if it failed; reloads wait for it. */
  private readonly ready: Promise<boolean>;
  private markReady: (ok: boolean) => void = () => undefined;
  private readonly debouncer: Debouncer;
  /**
   * Asks for the 'settle' pass once the health batches have paused (settleMs) and no real
   * is part-way to down, or 5 settleMs at most.
   */
  private readonly settler: Debouncer;
  private readonly settleMs: number;
  private readonly pendingReloadReasons = new Set<ReloadReason>();
  private watcher: ConfigWatcher | null = null;
  private driftTimer: NodeJS.Timeout | null = null;
  /** The drift check came due while a settle was: that settle's pass makes it (driftDue). */
  private driftAtSettle = false;
  /** When the drift check under way first came due (driftDue); null once a full pass ran. */
  private driftDueAt: number | null = null;
  /** Health batches so far: a drift check's read gives way when one comes (mayYield). */
  private healthBatches = 0;
  private followUpTimer: NodeJS.Timeout | null = null;
  private followUpAt = Infinity;
  private followUpTriggers = new Set<Trigger>();
  private stopping: Promise<void> | null = null;
  private readonly startedAt = Date.now();
  private readonly log: Logger;

  constructor(private readonly options: DaemonOptions) {
    this.metrics = options.metrics ?? new DaemonMetrics();
    this.log = options.logger;
    this.client = new RecordingClient(options.client);
    this.reconciler = new Reconciler({
      ipvs: this.client,
      state: new StateStore(options.stateDir),
      ...(options.hostPorts ?? systemHostPorts),
    });
    // The reconciler before the checks: while a pass is pending or running no check starts
    // and results wait (Scheduler.hold), so a loaded checker cannot starve the pass, and what
    // they decide meanwhile becomes one batch, one pass, when it ends.
    this.passes = new CoalescingRunner(
      (triggers) => this.runPass(triggers),
      (busy) => (busy ? options.health.holdChecks() : options.health.releaseChecks()),
    );
    this.reloads = new CoalescingRunner((reasons) => this.runReload(reasons));
    this.ready = new Promise((resolve) => (this.markReady = resolve));
    this.debouncer = new Debouncer(
      () => this.firePendingReloads(),
      options.reloadDebounceMs ?? 500,
    );
    this.settleMs = options.settleMs ?? 1000;
    // The settle reads every service quiesced; while health decisions keep coming (more
    // failures, or the reals coming back) or reals are part-way to down, that read would
    // hold them (as the drift check's). So it comes once they pause, 5 waits at most.
    this.settler = new Debouncer(
      () => void this.requestPass('settle'),
      this.settleMs,
      this.settleMs * 5,
      () => options.health.partWay === 0,
    );
  }

  /**
   * Loads the config (throws ConfigRejectedError if it is invalid: there is no last good
   * config to fall back on), starts the checks, converges the kernel once and starts
   * watching. Reals that already carry traffic are handed to the health side with the
   * table, so a restart with the same config does not take them out (zero writes).
   */
  async start(): Promise<void> {
    try {
      await this.startInner();
      this.markReady(true);
    } catch (err) {
      this.markReady(false);
      throw err;
    }
  }

  private async startInner(): Promise<void> {
    // Watch before the first load: a change made while lvsd starts is then seen (its reload
    // waits for the start to finish) instead of falling between the load and the watch.
    if (this.options.watch ?? true) await this.startWatching([]);
    const loaded = await this.loadSafely();
    if (!loaded.ok) {
      this.recordReload({ ok: false, errors: loaded.errors, warnings: loaded.warnings });
      this.log.error(
        { event: 'config_rejected', path: this.options.configPath, errors: loaded.errors },
        'invalid configuration; not starting',
      );
      throw new ConfigRejectedError(loaded.errors);
    }
    this.logWarnings(loaded.warnings);
    this.adopt(loaded.config);
    this.recordReload({ ok: true, errors: [], warnings: loaded.warnings });
    const table = await this.client.readTable();
    // A batch of decisions becomes one pass, scoped to the services it names (runPass).
    this.options.health.on('changes', (batch) => {
      this.healthBatches++;
      this.noteHealthBatch(batch);
      // Decisions still coming (reals back, after a mass failure): the settle's read waits too.
      if (this.settling.size && !this.stopping) this.settler.call();
      void this.requestPass('health');
    });
    this.options.health.on('tally', (tallies) => this.metrics.recordTallies(tallies));
    // The health side logs each transition itself; the daemon counts them.
    this.options.health.on('transition', (t) =>
      this.metrics.healthTransitions.inc({ service: t.service, to: t.to }),
    );
    this.updateHealth(loaded.config, table);
    // At start a VRRP instance that cannot run (no CAP_NET_RAW, no such interface) stops lvsd.
    await this.options.vrrp?.update(loaded.config.vrrp);
    // Writes the routes empty first; nothing is announced before the first pass (converged()).
    await this.options.announce?.update(loaded.config.announce);
    this.log.info(
      {
        event: 'started',
        path: this.options.configPath,
        hash: loaded.config.hash,
        services: loaded.config.services.length,
        files: loaded.config.files,
      },
      'lvsd started',
    );
    await this.watcher?.setFiles(loaded.config.files);
    await this.passes.request('start');
  }

  /**
   * A change was seen: reload after the debounce (file events come in bursts: an editor's
   * save, a ConfigMap swap), or at once for SIGHUP, the operator's explicit "now". SIGHUPs
   * that arrive during a reload become one more reload after it.
   */
  requestReload(reason: ReloadReason): void {
    if (this.stopping) return;
    this.pendingReloadReasons.add(reason);
    if (reason !== 'signal') return this.debouncer.call();
    this.debouncer.cancel();
    this.firePendingReloads();
  }

  /** Reloads now (no debounce); resolves with the outcome. */
  reload(reason: ReloadReason = 'manual'): Promise<ReloadRecord | null> {
    return this.reloads.request(reason);
  }

  /** Asks for a pass; resolves when a pass that saw the request has finished. */
  requestPass(trigger: Trigger): Promise<PassSummary> {
    return this.passes.request(trigger);
  }

  /**
   * Stops checks, watcher and timers, lets a pass in flight finish (a batch is never cut
   * in half), then leaves the table in place, or removes what lvsd owns with cleanupOnExit.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  /** The last table read, re-read when older than statsMaxAgeMs or written since. */
  async status(): Promise<DaemonStatus> {
    const config = this.config;
    if (!config) throw new NotReadyError('lvsd is starting: no configuration loaded yet');
    const cache = await this.freshTable();
    const info = await this.kernelInfo();
    const healthOf = healthDetails(this.options.health.snapshot(), this.options.health.status());
    return {
      version: this.options.version ?? '0.0.0',
      pid: process.pid,
      startedAt: new Date(this.startedAt).toISOString(),
      config: {
        path: this.options.configPath,
        hash: config.hash,
        host: config.host,
        files: config.files,
        loadedAt: new Date(this.configLoadedAt).toISOString(),
      },
      lastReload: this.lastReload,
      lastReconcile: this.lastPass,
      kernel: info,
      tableReadAt: new Date(cache.readAt).toISOString(),
      services: buildServices({
        config,
        table: cache.table,
        health: healthOf,
        waiting: this.waiting,
      }),
      draining: this.waiting,
    };
  }

  /** Prometheus text: the per-service series are set from a fresh-enough status first. */
  async renderMetrics(): Promise<string> {
    if (this.config) this.metrics.update((await this.status()).services);
    return this.metrics.render();
  }

  /** The first full pass has applied: the config's services are in the kernel. */
  converged(): boolean {
    return this.lastFullPass > 0;
  }

  /** Healthy once the first pass is done, while the last pass completed (the kernel answers, the state is writable). */
  healthy(): { ok: boolean; reason: string } {
    if (!this.config) return { ok: false, reason: 'no configuration loaded' };
    if (!this.lastPass)
      return { ok: false, reason: 'starting: the first reconcile pass has not finished' };
    if (this.lastPass.error)
      return { ok: false, reason: `last reconcile failed: ${this.lastPass.error}` };
    return { ok: true, reason: 'ok' };
  }

  // ---------------------------------------------------------------------------
  // Reloads

  /** Asks for a reload for each reason gathered (after the debounce, or at once for SIGHUP). */
  private firePendingReloads(): void {
    const reasons = [...this.pendingReloadReasons];
    this.pendingReloadReasons.clear();
    for (const reason of reasons.length ? reasons : (['watch'] as const))
      void this.reloads.request(reason);
  }

  private async runReload(reasons: ReadonlySet<ReloadReason>): Promise<ReloadRecord | null> {
    if (!(await this.ready) || this.stopping) return this.lastReload;
    const loaded = await this.loadSafely();
    if (!loaded.ok) {
      const record = this.recordReload({
        ok: false,
        errors: loaded.errors,
        warnings: loaded.warnings,
      });
      this.logWarnings(loaded.warnings);
      this.log.error(
        {
          event: 'config_rejected',
          path: this.options.configPath,
          errors: loaded.errors,
          kept: this.config?.hash ?? null,
        },
        `invalid configuration (${loaded.errors.length} error${loaded.errors.length === 1 ? '' : 's'}); ` +
          'the last good config stays in force',
      );
      return record;
    }
    this.logWarnings(loaded.warnings);
    const config = loaded.config;
    const previous = this.config;
    if (previous && previous.hash === config.hash) {
      const record = this.recordReload({ ok: true, errors: [], warnings: loaded.warnings });
      this.log.debug(
        { event: 'config_unchanged', hash: config.hash, reasons: [...reasons] },
        'configuration unchanged',
      );
      // SIGHUP is also the way to ask for a full pass right now; a file touch is not.
      if (reasons.has('signal') || reasons.has('manual')) {
        this.noteReload(null);
        await this.passes.request('reload');
      }
      return record;
    }
    // The checks and the config change together, with no await between them: a pass that
    // slipped in between would pair the new config with the old checks (a new checked real,
    // not yet known to the checks, would count as up).
    this.updateHealth(config, this.client.last?.table);
    this.adopt(config);
    await this.followVrrp(config);
    this.log.info(
      {
        event: 'config_reloaded',
        hash: config.hash,
        previous: previous?.hash ?? null,
        services: config.services.length,
        files: config.files,
        reasons: [...reasons],
      },
      'configuration reloaded',
    );
    await this.watcher?.setFiles(config.files);
    const changed = previous ? reloadScope(previous, config) : null;
    // Only comments or positions changed: the kernel already holds what the config says.
    if (changed?.size === 0)
      return this.recordReload({ ok: true, errors: [], warnings: loaded.warnings });
    this.noteReload(changed);
    const pass = await this.passes.request('reload');
    if (pass.error instanceof RemovalRefusedError && previous)
      return this.revert(previous, pass.error, loaded.warnings);
    // Counted as a success once the guard let it through: a refused config never shows as
    // the one in force (lvsd_config_info) nor moves the last success's timestamp.
    return this.recordReload({ ok: true, errors: [], warnings: loaded.warnings });
  }

  /**
   * The new config would remove more than the guard allows: the previous one goes back in
   * force (checks too), and the reload counts as failed, as an invalid config would.
   */
  private async revert(
    previous: ResolvedConfig,
    refusal: RemovalRefusedError,
    warnings: string[],
  ): Promise<ReloadRecord> {
    this.updateHealth(previous, this.client.last?.table);
    this.adopt(previous);
    await this.followVrrp(previous);
    // The refused pass timed the next drift check by the refused config's drift_interval.
    this.scheduleDrift();
    this.log.error(
      { event: 'config_rejected', path: this.options.configPath, kept: previous.hash },
      `${refusal.message}; the last good config stays in force`,
    );
    return this.recordReload({ ok: false, errors: [refusal.message], warnings });
  }

  private async loadSafely(): ReturnType<ConfigLoader> {
    try {
      return await this.options.load(this.options.configPath);
    } catch (err) {
      return {
        ok: false,
        errors: [`${this.options.configPath}: ${(err as Error).message}`],
        warnings: [],
      };
    }
  }

  private adopt(config: ResolvedConfig): void {
    this.config = config;
    this.configLoadedAt = Date.now();
  }

  private recordReload(result: {
    ok: boolean;
    errors: string[];
    warnings: string[];
  }): ReloadRecord {
    const at = Date.now();
    const hash = this.config?.hash ?? null;
    this.metrics.recordReload(result.ok, hash, at);
    this.lastReload = {
      ok: result.ok,
      at: new Date(at).toISOString(),
      hash,
      errors: result.errors,
      warnings: result.warnings,
    };
    return this.lastReload;
  }

  private logWarnings(warnings: readonly string[]): void {
    for (const warning of warnings) this.log.warn({ event: 'config_warning' }, warning);
  }

  private async startWatching(files: readonly string[]): Promise<void> {
    this.watcher = new ConfigWatcher({
      path: this.options.configPath,
      usePolling: this.options.watchPolling ?? false,
      onChange: (event, path) => {
        this.log.debug(
          { event: 'config_changed', fsEvent: event, path },
          'configuration file changed',
        );
        this.requestReload('watch');
      },
      onError: (err) =>
        this.log.warn(
          { event: 'watch_error', err },
          'configuration watcher error; SIGHUP still reloads',
        ),
    });
    await this.watcher.start(files);
  }

  // ---------------------------------------------------------------------------
  // Passes

  /**
   * Adds the services a batch names (every change names its service) to the next pass's
   * scope. The manager sends no empty batch; one would be honoured with a full pass.
   */
  private noteHealthBatch(batch: HealthChanges): void {
    const { transitions, weights, quorum } = batch;
    if (transitions.length + weights.length + quorum.length === 0) this.pendingScope = null;
    if (!this.pendingScope) return;
    for (const change of transitions) this.pendingScope.add(change.service);
    for (const change of weights) this.pendingScope.add(change.service);
    for (const change of quorum) this.pendingScope.add(change.service);
  }

  /** The services the reload changed join the next pass's scope (null: it must be full). */
  private noteReload(changed: ReadonlySet<string> | null): void {
    if (!changed) this.pendingScope = null;
    else if (this.pendingScope) for (const name of changed) this.pendingScope.add(name);
  }

  /**
   * The services a pass is limited to: those the health batches named and the reloads
   * changed (and, for a 'settle' pass, those quiesced without a read), when only such
   * triggers asked for the pass and a full pass has run before; null for a full pass. Taken
   * at the start of every pass (with the health snapshot), so a batch that comes during the
   * pass scopes the next one. `settled`: the names the pass must read to settle.
   */
  private takeScope(triggers: readonly Trigger[]): {
    scope: ReadonlySet<string> | null;
    settled: ReadonlySet<string>;
  } {
    const scope = this.pendingScope;
    this.pendingScope = new Set();
    const settle = triggers.includes('settle');
    const scopable = triggers.every((t) => SCOPED_TRIGGERS.has(t));
    if (scopable && scope && this.lastFullPass) {
      if (settle) for (const name of this.settling) scope.add(name);
      const drains = !triggers.includes('drain') || this.addDraining(scope);
      if (drains && scope.size) return { scope, settled: settle ? this.takeSettling() : new Set() };
    }
    // A full pass reads every service: it settles them all.
    return { scope: null, settled: this.takeSettling() };
  }

  /**
   * Adds the services of the drains waiting for their connections to a drain recheck's
   * scope; false when one has no name in the last aim (its service left the config, or
   * no clean pass since): the recheck is then full.
   */
  private addDraining(scope: Set<string>): boolean {
    if (!this.lastAim) return false;
    const names = new Map<string, string>();
    for (const service of this.lastAim.desired.services)
      names.set(serviceId(service.service), service.name);
    for (const drain of this.waiting) {
      const name = names.get(drain.service);
      if (name === undefined) return false;
      scope.add(name);
    }
    return true;
  }

  private takeSettling(): ReadonlySet<string> {
    const settling = this.settling;
    this.settling = new Set();
    return settling;
  }

  /**
   * What the kernel holds of the services a health pass may write without a read: the last
   * clean aim, for the services named by health alone. None after a failed write (no aim),
   * for a reload (the config changed), and for services this pass must read to settle.
   */
  private knownFor(
    triggers: readonly Trigger[],
    scope: ReadonlySet<string>,
    settled: ReadonlySet<string>,
  ): KnownServices | undefined {
    if (!this.lastAim || !triggers.every((t) => t === 'health' || t === 'settle')) return;
    const known = new Map<string, DesiredService>();
    for (const service of this.lastAim.desired.services)
      if (scope.has(service.name) && !settled.has(service.name))
        known.set(serviceId(service.service), service);
    return known;
  }

  private async runPass(triggerSet: ReadonlySet<Trigger>): Promise<PassSummary> {
    const triggers = this.triggersOf(triggerSet);
    const config = this.config;
    if (this.stopping || !config) return idleSummary(triggers, true, null);
    const started = performance.now();
    const startedAt = Date.now();
    // A settle whose services a full pass has read since has nothing left to do.
    if (triggers.every((t) => t === 'settle') && !this.settling.size)
      return idleSummary(triggers, true, null);
    const timer = new PhaseTimer();
    const { scope, settled } = this.takeScope(triggers);
    // A full pass is a drift check: one that waits (driftDue) must not come again after it.
    if (!scope) this.cancelDrift();
    const known = scope ? this.knownFor(triggers, scope, settled) : undefined;
    const yieldTo = this.mayYield(triggers);
    let summary: PassSummary;
    // A drift check that may give way lets the checks go on: their batch is what it yields to.
    if (yieldTo) this.options.health.releaseChecks();
    try {
      summary = await this.reconcileOnce(
        config,
        { scope, known, yieldTo },
        triggers,
        timer,
        startedAt,
      );
    } catch (err) {
      if (err instanceof ReadYielded) return this.driftYielded(triggers);
      const error = err instanceof Error ? err : new Error(String(err));
      this.noteFailedPass(error, triggers, config);
      summary = idleSummary(triggers, false, error);
    } finally {
      if (yieldTo) this.options.health.holdChecks();
    }
    this.recordPass(summary, scope, startedAt, (performance.now() - started) / 1000, timer);
    // Only a full pass looked at the whole table: a scoped one does not put drift off.
    if (!scope) this.scheduleDrift();
    return summary;
  }

  /**
   * For a pass that is a drift check alone (always a full pass), within its 5 settle waits:
   * a question its read asks between services, true once a health batch has come since the
   * pass began. A whole-table read takes 0.6-0.8 s under the lab's emulation at 1000 reals,
   * and a mass failure that starts during it waited for all of it; past the 5 waits the
   * check runs whatever comes, so drift is still repaired within that bound.
   */
  private mayYield(triggers: readonly Trigger[]): (() => boolean) | undefined {
    const dueAt = this.driftDueAt;
    if (triggers.length !== 1 || triggers[0] !== 'drift' || dueAt === null) return;
    if (this.driftOverdue(dueAt)) return;
    const seen = this.healthBatches;
    return () => this.healthBatches !== seen;
  }

  /** The drift check's read gave way to health decisions: it comes again a settle wait later. */
  private driftYielded(triggers: Trigger[]): PassSummary {
    const dueAt = this.driftDueAt ?? Date.now();
    this.log.info(
      { event: 'drift_check_yielded', dueAt: new Date(dueAt).toISOString() },
      'drift check gave way to health decisions; it comes again once they settle',
    );
    // Not at once: the health batch's pass comes first, scoped, as any other.
    if (!this.stopping) this.driftTimer = setTimeout(() => this.driftDue(dueAt), this.settleMs);
    return idleSummary(triggers, true, null);
  }

  /** In TRIGGER_ORDER; a drift check put off for a settle (driftDue) joins the settle's pass. */
  private triggersOf(set: ReadonlySet<Trigger>): Trigger[] {
    const drift = this.driftAtSettle && set.has('settle');
    return TRIGGER_ORDER.filter((t) => set.has(t) || (drift && t === 'drift'));
  }

  /**
   * One Reconciler pass over the services in scope (all of them: null), then what it leaves:
   * logs and metrics of its writes, the aim drift is judged by, and the retry and drain timers.
   */
  private async reconcileOnce(
    config: ResolvedConfig,
    {
      scope,
      known,
      yieldTo,
    }: {
      scope: ReadonlySet<string> | null;
      known: KnownServices | undefined;
      yieldTo: (() => boolean) | undefined;
    },
    triggers: Trigger[],
    timer: PhaseTimer,
    startedAt: number,
  ): Promise<PassSummary> {
    const desired = this.desiredFor(config, scope);
    const result = await this.reconciler.pass(desired, {
      policy: reconcilePolicy(config),
      // A scoped pass serves no metrics: its counters would go unread.
      ...(scope ? { scope, readStats: false } : {}),
      ...(known ? { known } : {}),
      ...(yieldTo ? { yieldTo } : {}),
      timer,
      now: startedAt,
    });
    for (const warning of result.warnings) this.log.warn({ event: 'reconcile_warning' }, warning);
    if (result.refused) throw new RemovalRefusedError(result.refused);
    const report = result.report!;
    const drift = driftSteps(result.plan, desired, this.lastAim);
    this.logPass(result.plan, report.outcomes, drift, triggers, result.scope !== undefined);
    this.countWrites(report, drift);
    this.rememberPass(result, desired, report.failed, startedAt);
    if (report.failed > 0) this.scheduleFollowUp('retry', this.retryDelay(config));
    if (result.quiesced?.size) this.settleLater(result.plan, result.quiesced);
    if (result.plan.waiting.length > 0) {
      const soonest = Math.min(...result.plan.waiting.map((w) => w.remainingMs));
      this.scheduleFollowUp(
        'drain',
        Math.max(50, Math.min(soonest + 10, this.options.drainRecheckMs ?? 5000)),
      );
    }
    return {
      triggers,
      skipped: false,
      // VIP address changes are writes too, besides IPVS operations and sysctls.
      writes: report.writes + report.sysctls.length + report.vips.length,
      failed: report.failed,
      driftRepairs: drift.length,
      plan: result.plan,
      error: null,
    };
  }

  /**
   * A real quiesced without a read may still have connections: its service is read again
   * settleMs after the last such quiesce ('settle'), which deletes it or lets it drain.
   */
  private settleLater(plan: Plan, quiesced: ReadonlySet<string>): void {
    const names = new Set<string>();
    for (const step of plan.steps)
      if (step.action === 'drain' && step.serviceName && quiesced.has(step.service))
        names.add(step.serviceName);
    if (!names.size) return;
    for (const name of names) this.settling.add(name);
    if (!this.stopping) this.settler.call();
  }

  /**
   * The desired state of the services in scope: a scoped pass asks for its services alone,
   * so its cost follows the batch, not the size of the config. The sync daemon takes the
   * VRRP role (a role change asks for a full 'vrrp' pass).
   */
  private desiredFor(config: ResolvedConfig, scope: ReadonlySet<string> | null): DesiredState {
    const services = scope ? config.services.filter((s) => scope.has(s.name)) : config.services;
    return withSyncRole(
      desiredState({ ...config, services }, this.options.health.snapshot()),
      this.options.vrrp?.syncRole() ?? null,
    );
  }

  /**
   * One increment per action, not per write: a start at 1000 x 10 is 11,000 writes, and
   * each labelled increment hashes its label set (garbage the start's peak is made of).
   */
  private countWrites(report: ApplyReport, drift: readonly PlanStep[]): void {
    for (const [action, n] of countByAction(report.outcomes, (o) => o.step.action))
      this.metrics.kernelWrites.inc({ action }, n);
    if (report.sysctls.length)
      this.metrics.kernelWrites.inc({ action: 'sysctl' }, report.sysctls.length);
    this.metrics.kernelWriteFailures.inc(report.failed);
    for (const [action, n] of countByAction(drift, (step) => step.action))
      this.metrics.driftRepairs.inc({ action }, n);
  }

  /**
   * What a pass leaves for the next: the drains still waiting (for /status), and the aim a
   * later write is judged drift by (none after a failed write). A scoped pass replaces only
   * its services' share of both; a full pass replaces them whole and puts drift off.
   */
  private rememberPass(
    result: ReconcileResult,
    desired: DesiredState,
    failed: number,
    startedAt: number,
  ): void {
    if (result.scope) {
      const ids = result.scope;
      this.waiting = [...this.waiting.filter((w) => !ids.has(w.service)), ...result.plan.waiting];
      this.lastAim = failed === 0 ? scopedAim(this.lastAim, desired, result.plan, ids) : null;
      return;
    }
    this.waiting = result.plan.waiting;
    this.lastAim = failed === 0 ? { desired, draining: result.plan.next.draining } : null;
    this.lastFullPass = startedAt;
  }

  /** The pass as /status shows it (lastReconcile), its duration metric and its debug line. */
  private recordPass(
    summary: PassSummary,
    scope: ReadonlySet<string> | null,
    startedAt: number,
    seconds: number,
    timer: PhaseTimer,
  ): void {
    this.metrics.reconcileDuration.observe({ trigger: summary.triggers[0] ?? 'drift' }, seconds);
    this.lastPass = {
      at: new Date(startedAt).toISOString(),
      triggers: summary.triggers,
      durationMs: Math.round(seconds * 1e6) / 1e3,
      writes: summary.writes,
      failed: summary.failed,
      driftRepairs: summary.driftRepairs,
      waitingDrains: this.waiting.length,
      error: summary.error?.message ?? null,
      ...(scope ? { scope: [...scope] } : {}),
    };
    this.log.debug(
      { event: 'reconcile', ...this.lastPass, phases: timer.phases },
      'reconcile pass',
    );
  }

  /** A refusal waits for the operator (a retry would be refused again); other failures retry. */
  private noteFailedPass(error: Error, triggers: Trigger[], config: ResolvedConfig): void {
    if (error instanceof RemovalRefusedError) {
      // Nothing was written: the kernel still holds what the last clean pass aimed at, so a
      // change by another hand after a refusal is still drift (and counted as such).
      this.metrics.removalRefusals.inc();
      this.log.warn(
        {
          event: 'removal_refused',
          removing: error.refusal.removing,
          managed: error.refusal.managed,
          triggers,
        },
        error.message,
      );
      return;
    }
    this.lastAim = null;
    this.metrics.reconcileErrors.inc();
    this.log.error(
      { event: 'reconcile_failed', err: error, triggers },
      `reconcile failed: ${error.message}; retrying`,
    );
    this.scheduleFollowUp('retry', this.retryDelay(config));
  }

  private logPass(
    plan: Plan,
    outcomes: ReadonlyArray<{ step: PlanStep; error?: Error }>,
    drift: readonly PlanStep[],
    triggers: Trigger[],
    scoped: boolean,
  ): void {
    const repairs = new Set(drift);
    for (const { step, error } of outcomes) {
      const fields = writeFields(
        step,
        repairs.has(step) ? 'drift_repair' : 'kernel_write',
        triggers,
      );
      if (error)
        this.log.error({ ...fields, err: error }, `kernel refused ${step.op.op}: ${error.message}`);
      else if (repairs.has(step))
        this.log.warn(
          fields,
          `repaired drift: ${step.action} ${step.dest ? `${step.service} -> ${step.dest}` : step.service}`,
        );
      else
        this.log.info(
          fields,
          `${step.action} ${step.dest ? `${step.service} -> ${step.dest}` : step.service}`,
        );
    }
    for (const change of plan.sysctls)
      this.log.info(
        { event: 'sysctl_write', sysctl: change.name, from: change.from, to: change.to },
        `sysctl ${change.name} = ${change.to}`,
      );
    // Advice and foreign services come from a whole read: a scoped pass has none to compare.
    if (scoped) return;
    const advice = plan.advice.join('\n');
    if (advice !== this.lastAdvice)
      for (const line of plan.advice) this.log.warn({ event: 'kernel_advice' }, line);
    this.lastAdvice = advice;
    const foreign = plan.foreign.join(',');
    if (foreign !== this.lastForeign && plan.foreign.length)
      this.log.info(
        { event: 'foreign_services', services: plan.foreign },
        `leaving ${plan.foreign.length} service(s) lvsd does not manage alone`,
      );
    this.lastForeign = foreign;
  }

  /** After a reload the checks and the table carry on when VRRP cannot follow; the reason is logged. */
  private async followVrrp(config: ResolvedConfig): Promise<void> {
    try {
      await this.options.vrrp?.update(config.vrrp);
    } catch (err) {
      this.log.error({ event: 'vrrp_update_failed', err }, `vrrp: ${(err as Error).message}`);
    }
    await this.options.announce
      ?.update(config.announce)
      .catch((err: unknown) =>
        this.log.error(
          { event: 'announce_update_failed', err },
          `announce: ${(err as Error).message}`,
        ),
      );
  }

  /**
   * Hands a config the daemon adopts to the checks, with the weights the kernel has (the
   * table last read): a real already serving starts up, so a restart takes none out.
   */
  private updateHealth(config: ResolvedConfig, table: IpvsTable | undefined): void {
    this.options.health.update(
      config,
      table ? { liveWeights: liveWeightsFrom(config, table) } : {},
    );
  }

  private retryDelay(config: ResolvedConfig): number {
    const retry = this.options.retryMs ?? 5000;
    const drift = config.reconcile.driftIntervalMs;
    return drift > 0 ? Math.min(retry, drift) : retry;
  }

  // ---------------------------------------------------------------------------
  // Timers

  /** The next drift check is one interval after the last full pass, which read and repaired. */
  private scheduleDrift(): void {
    this.cancelDrift();
    this.driftDueAt = null;
    // drift_interval 0 switches drift repair off.
    if (this.stopping || !this.config || this.config.reconcile.driftIntervalMs <= 0) return;
    this.driftTimer = setTimeout(() => this.driftDue(), this.config.reconcile.driftIntervalMs);
  }

  private cancelDrift(): void {
    if (this.driftTimer) clearTimeout(this.driftTimer);
    this.driftTimer = null;
    this.driftAtSettle = false;
  }

  /**
   * The drift check reads the whole table, and the checks wait while it runs. While health
   * decisions are under way (a real part-way to a change, or reals quiesced without a read
   * waiting for their settle), a mass failure may be, and that read would hold the
   * decisions that take the rest out. So the check waits, settleMs at a time and 5 times
   * that at most, then runs whatever happens: drift is repaired that much later at most,
   * never skipped. A settle that comes meanwhile makes it, as one full pass.
   */
  private driftDue(dueAt = Date.now()): void {
    this.driftTimer = null;
    const busy = this.settling.size > 0 || this.options.health.partWay > 0;
    if (!busy || this.driftOverdue(dueAt)) {
      this.driftDueAt = dueAt;
      void this.requestPass('drift');
      return;
    }
    if (this.settling.size) this.driftAtSettle = true;
    this.driftTimer = setTimeout(() => this.driftDue(dueAt), this.settleMs);
  }

  /** A drift check due since `dueAt` has waited its 5 settle waits: it runs whatever comes. */
  private driftOverdue(dueAt: number): boolean {
    return Date.now() - dueAt >= this.settleMs * 5;
  }

  private scheduleFollowUp(trigger: Trigger, delayMs: number): void {
    if (this.stopping) return;
    this.followUpTriggers.add(trigger);
    const at = Date.now() + delayMs;
    if (this.followUpTimer && at >= this.followUpAt) return;
    if (this.followUpTimer) clearTimeout(this.followUpTimer);
    this.followUpAt = at;
    this.followUpTimer = setTimeout(() => {
      const triggers = [...this.followUpTriggers];
      this.followUpTriggers.clear();
      this.followUpTimer = null;
      this.followUpAt = Infinity;
      for (const t of triggers) void this.requestPass(t);
    }, delayMs);
  }

  private clearTimers(): void {
    this.debouncer.cancel();
    this.settler.cancel();
    if (this.driftTimer) clearTimeout(this.driftTimer);
    if (this.followUpTimer) clearTimeout(this.followUpTimer);
    this.driftTimer = this.followUpTimer = null;
  }

  // ---------------------------------------------------------------------------
  // Table cache for /status and /metrics

  /**
   * A scrape reads the table again only when the cached one is older than statsMaxAgeMs
   * (default 5 s) or a pass wrote after reading it. Passes read the table anyway, so with
   * frequent passes scrapes cost nothing; between passes (drift_interval, 30 s by default)
   * the counters would be too old for rate() over a 15 s scrape interval, so one dump per
   * scrape at most, and concurrent scrapes share it.
   */
  private async freshTable(): Promise<{ table: IpvsTable; readAt: number }> {
    const maxAge = this.options.statsMaxAgeMs ?? 5000;
    const last = this.client.last;
    if (last && this.client.writesSinceRead === 0 && Date.now() - last.readAt <= maxAge)
      return last;
    this.tableRead ??= this.client
      .readTable()
      .then(() => this.client.last!)
      .catch((err: unknown) => {
        // A scrape still answers with what lvsd last saw (tableReadAt tells how old) and
        // its own counters; /healthz and the reconcile logs report the failure.
        if (!last) throw err;
        this.log.warn(
          { event: 'table_read_failed', err },
          `cannot read the table for /status and /metrics: ${(err as Error).message}`,
        );
        return last;
      })
      .finally(() => {
        this.tableRead = null;
      });
    return this.tableRead;
  }

  private async kernelInfo(): Promise<IpvsInfo | null> {
    if (this.info) return this.info;
    try {
      this.info = await this.client.getInfo();
    } catch {
      return null;
    }
    return this.info;
  }

  // ---------------------------------------------------------------------------
  // Shutdown

  private async shutdown(): Promise<void> {
    // Reloads waiting for a start that will not finish now give up.
    this.markReady(false);
    this.clearTimers();
    await this.watcher?.close();
    await this.options.health.stop();
    await this.reloads.idle();
    await this.passes.idle();
    this.clearTimers();
    if (this.options.cleanupOnExit) {
      await this.cleanup();
    } else {
      this.log.info(
        { event: 'stopped', cleanup: false },
        'lvsd stopped; the kernel table stays in place',
      );
    }
  }

  /**
   * Removes the services lvsd owns (from its state file) at once, and stops the sync
   * daemons when the config manages them. Services made by others are left alone.
   */
  private async cleanup(): Promise<void> {
    // Nothing desired: the planner removes what the state file says lvsd owns (and only
    // that), at once (no drain), and stops sync daemons when the config manages them.
    const empty: DesiredState = {
      services: [],
      ...(this.config?.kernel.daemons ? { daemons: [] } : {}),
    };
    try {
      const result = await this.reconciler.pass(empty, {
        // Asked for on the command line (--cleanup-on-exit): everything lvsd owns goes.
        policy: { prune: 'managed', drainTimeoutMs: 0, maxRemoval: 1, allowMassRemoval: true },
      });
      const report = result.report!;
      for (const { step, error } of report.outcomes) {
        if (error)
          this.log.error(
            { event: 'cleanup_failed', ...stepObject(step), err: error },
            `cleanup: ${error.message}`,
          );
      }
      this.metrics.kernelWrites.inc({ action: 'remove' }, report.writes);
      this.log.info(
        {
          event: 'stopped',
          cleanup: true,
          writes: report.writes,
          failed: report.failed,
          left: result.plan.foreign,
        },
        `lvsd stopped; removed what it owns (${report.writes} writes)`,
      );
    } catch (err) {
      this.log.error({ event: 'cleanup_failed', err }, `cleanup failed: ${(err as Error).message}`);
    }
  }
}

/**
 * What a step concerns, as log fields: `service` is the config name, as in health events
 * (the service id when the config has none: a service on its way out), `virtualService`
 * the kernel's id ("TCP 10.0.0.1:80"), `dest` the real. Never `name`: the logger has one.
 * Written into `into` when given (after the keys it has), else into a new object.
 */
function stepObject(step: PlanStep, into: Record<string, unknown> = {}): Record<string, unknown> {
  into.service = step.serviceName ?? step.service;
  into.virtualService = step.service;
  if (step.dest) into.dest = step.dest;
  return into;
}

/**
 * A kernel write's log fields, keys in the order the line shows them. Assigned one by one
 * into one object: spreading stepObject and the changes into a literal cost a few hundred
 * bytes of garbage per write, 4 MiB of a start at 1000 x 10 even with logging off.
 */
function writeFields(step: PlanStep, event: string, triggers: Trigger[]): Record<string, unknown> {
  const fields = stepObject(step, { event, action: step.action, op: step.op.op });
  if (step.changes.length)
    fields.changes = step.changes.map((c) => `${c.field}: ${c.from} -> ${c.to}`);
  fields.triggers = triggers;
  return fields;
}

/** How many items of each action: the counters take one increment per action. */
function countByAction<T>(
  items: readonly T[],
  actionOf: (item: T) => PlanStep['action'],
): Map<PlanStep['action'], number> {
  const counts = new Map<PlanStep['action'], number>();
  for (const item of items) {
    const action = actionOf(item);
    counts.set(action, (counts.get(action) ?? 0) + 1);
  }
  return counts;
}
