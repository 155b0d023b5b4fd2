/**
 * POST and DELETE /api/v1/targets as the exporter performs them.
 *
 * Every change runs in the exporter's exclusive() queue, so it never interleaves with a
 * reload, a DNS peer change or another API change, and sees the configuration that is
 * in effect. A change is, in order:
 *
 *   1. planned (api-source.ts: validation with parseTargetEntry, conflicts, limits);
 *   2. checked against the other sources: the target set is built with the new API
 *      targets and the files as they are (nothing re-read), and a posted name that the
 *      configuration or a file defines is refused (409) by the same dedupe rule as
 *      every source;
 *   3. written to api.state_file (atomically), when set — a failed write changes
 *      nothing and answers 500;
 *   4. committed and applied through the exporter's usual path (registry diff, store,
 *      workers): targets not involved keep their slots and their counters.
 *
 * A request that changes nothing (a target posted again as it is) answers 200 without
 * writing or applying.
 */
import type { Logger } from 'pino';
import type { ProbeDefaults } from './model.js';
import type { TargetSet } from './sources.js';
import type { TargetLoad } from './files.js';
import { configConflicts, describeTarget, loadApiEntries, planAdd, planRemove, type ApiEntry, type ApiTargetSource, type Refusal } from './api-source.js';
import { writeStateFile } from './state-file.js';
import type { ApiAnswer, TargetChanges } from '../http/routes/targets.js';

export interface ApiControllerDeps {
  source: ApiTargetSource;
  /** The configuration in effect. */
  /** What the API's checks read of the running configuration (targets/ does not import config/). */
  config(): { probeDefaults: ProbeDefaults; api: { maxTargets: number } };
  /** api.state_file as read at start (null: in memory only). */
  stateFile: string | null;
  /** Run after every queued target update (the exporter's exclusive()). */
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
  /** The target set with `api` as the API's part and every other source as it is now (no file read). */
  targetSetWith(api: TargetLoad): Promise<TargetSet>;
  /** Make `set` live (resolve what is new, update the registry, the store and the workers). */
  apply(set: TargetSet): Promise<void>;
  /** The source of a non-API target named `name` ("config.yaml targets[0]", "targets.json[3]"), or null. */
  definedBy(name: string): string | null;
  logger: Logger;
}

function refused(r: Refusal): ApiAnswer {
  return { status: r.status, body: { error: r.error, message: r.message, problems: r.problems } };
}

export class ApiTargetsController implements TargetChanges {
  constructor(private readonly d: ApiControllerDeps) {}

  add(body: unknown, opts: { replace: boolean }): Promise<ApiAnswer> {
    return this.d.exclusive(async () => {
      const config = this.d.config();
      const plan = planAdd(body, this.d.source.entries, config.probeDefaults, { replace: opts.replace, maxTargets: config.api.maxTargets });
      if (!plan.ok) return refused(plan);
      const posted = new Set(plan.results.map((r) => r.name));
      // Even an unchanged target is checked: a file may have taken its name since.
      const set = await this.d.targetSetWith(loadApiEntries(plan.next, config.probeDefaults));
      const conflict = configConflicts(posted, set.rejected);
      if (conflict) return refused(conflict);
      if (plan.changed) await this.commit(plan.next, set);
      const counts = { created: 0, replaced: 0, unchanged: 0 };
      for (const r of plan.results) counts[r.result]++;
      this.d.logger.info(
        { ...counts, targets: plan.results.length > 20 ? undefined : plan.results.map((r) => r.name), api_targets: this.d.source.size },
        'targets API: targets added',
      );
      const status = counts.created > 0 ? 201 : 200;
      if (plan.list) return { status, body: { targets: plan.results.map((r) => ({ ...describeTarget(r.spec), result: r.result })), ...counts } };
      const only = plan.results[0];
      return { status, body: describeTarget(only.spec), headers: { 'x-fleetprobe-result': only.result } };
    });
  }

  remove(name: string): Promise<ApiAnswer> {
    return this.d.exclusive(async () => {
      const config = this.d.config();
      const plan = planRemove(name, this.d.source.entries, (n) => this.d.definedBy(n));
      if (!plan.ok) return refused(plan);
      const set = await this.d.targetSetWith(loadApiEntries(plan.next, config.probeDefaults));
      await this.commit(plan.next, set);
      this.d.logger.info({ target: name, api_targets: this.d.source.size }, 'targets API: target deleted');
      return { status: 204 };
    });
  }

  /** Write the state file (when set), then make `next` the API targets and `set` live; on a failure nothing changes. */
  private async commit(next: Map<string, ApiEntry>, set: TargetSet): Promise<void> {
    const prev = this.d.source.entries as Map<string, ApiEntry>;
    if (this.d.stateFile !== null) {
      try {
        await writeStateFile(this.d.stateFile, next);
      } catch (e) {
        this.d.logger.error({ err: e, file: this.d.stateFile }, 'targets API: cannot write api.state_file; the change is not applied');
        throw new StateWriteError(
          `cannot write api.state_file ${this.d.stateFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}; nothing changed`,
        );
      }
    }
    this.d.source.commit(next);
    try {
      await this.d.apply(set);
    } catch (e) {
      // A bug path (applying a validated set does not fail): put the file and the source back.
      this.d.source.commit(prev);
      if (this.d.stateFile !== null) await writeStateFile(this.d.stateFile, prev).catch(() => undefined);
      throw e;
    }
  }
}

/** The state file could not be written: the answer is 500 and nothing changed. */
export class StateWriteError extends Error {
  override name = 'StateWriteError';
}
