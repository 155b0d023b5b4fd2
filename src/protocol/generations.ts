/**
 * Acknowledged generations: the rules that keep a record of one target from ever being
 * counted on another. Pure; the store, the registry and the supervisor each apply one
 * of them, and test/unit/generations.test.ts checks them together over every
 * interleaving of a small system.
 *
 * Terms
 *  - Generation: the number of a target update (1, 2, 3, ...), given by the registry.
 *    The main thread sends every update to every worker, in order, on that worker's
 *    MessagePort (a port is FIFO): `{type:'update', generation, upsert, remove}`, an
 *    empty delta when nothing changed for the worker. A (re)started worker gets its
 *    whole current target set with the current generation instead.
 *  - Applied generation (worker): the newest update the worker has applied. Before it
 *    applies an update, a worker ships the records it has written since its previous
 *    batch. So every record in a batch was written while the worker was at ONE
 *    generation, the one in the batch header (Header.Generation).
 *  - Acknowledged generation (main thread, per worker): what the worker's newest batch
 *    says it applied; all its later batches carry that or more (one port is FIFO). A
 *    thread (re)started at generation G acknowledges G before its first batch (it has
 *    nothing older), and a worker whose thread ended can deliver nothing more (messages
 *    from a replaced thread's port are ignored): it acknowledges the current generation.
 *  - Slot generation: the generation at which the target now in a slot was put there.
 *
 * Rule 1 — counting (store): a record of a batch at generation g counts on slot s only
 *   if g >= generation(s); otherwise it is dropped and counted as stale.
 *   Why this is exact: a record for s written at generation g was written by a worker
 *   that had, at g, exactly the targets the main thread had given it by g. If
 *   g >= generation(s), the only target the main thread had under s at g is the one
 *   defined at generation(s), so the record is about it — whichever worker wrote it,
 *   including a worker the target moved away from (it removed the target at the
 *   generation of the move, and a removed target writes nothing more: Prober.remove
 *   forgets its in-flight probes). If g < generation(s), the writer had not yet
 *   applied the definition, so the record is about an older holder of s (or about
 *   nothing we still have): dropping it loses nothing of the current target.
 *
 * Rule 2 — reuse (registry): a slot freed at generation R is given to another target
 *   only once every worker has acknowledged R (acknowledged(all) = the minimum over
 *   workers). Then no batch written before R can still arrive, so whatever the old
 *   target wrote reached the store while the slot was undefined (dropped as an unknown
 *   slot), and no worker still holds per-slot state of the old target (a target_rejected
 *   message, an in-flight probe) when the slot gets its new one. Rule 1 alone would
 *   keep the counts right; Rule 2 also keeps these side channels clean and does not
 *   depend on how far apart updates are (the old rule, "two updates later", did).
 *
 * Rule 3 — acknowledging (supervisor): see "Acknowledged generation" above.
 */

/** Rule 1: whether a record of a batch at `batchGeneration` may count on a slot defined at `slotGeneration`. */
export function recordCounts(batchGeneration: number, slotGeneration: number): boolean {
  return batchGeneration >= slotGeneration;
}

/** Rule 2: whether a slot freed at generation `freedAt` may be reused once every worker has acknowledged `acknowledged`. */
export function slotReusable(freedAt: number, acknowledged: number): boolean {
  return acknowledged >= freedAt;
}

/** Rule 3: the generation every worker has acknowledged (the current one when there are no workers). */
export function acknowledgedByAll(perWorker: readonly number[], current: number): number {
  let min = current;
  for (const g of perWorker) if (g < min) min = g;
  return min;
}
