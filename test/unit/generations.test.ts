/**
 * The acknowledged-generation rules (src/protocol/generations.ts), checked over every
 * interleaving of a small system by the model in test/helpers/generation-model.ts: a
 * record counted on a slot must always be about the target the slot holds then.
 * Variants of the rules show what each part is for: the old rules ("two updates
 * later", no generations) and every rule left out on its own are found wrong by the
 * same search.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { acknowledgedByAll, recordCounts, slotReusable } from '../../src/protocol/generations.js';
import { explore, type Limits, type Rules } from '../helpers/generation-model.js';

const NEW_RULES: Rules = { fence: true, reuse: 'acknowledged', flushBeforeApply: true, redefineInPlace: true };
/** Two workers, two slots, three updates (the fewest that free and reuse a slot), one record. */
const REUSE: Limits = { workers: 2, slots: 2, updates: 3, records: 1, crashes: 0 };
/** Two updates, two records, and a crash and restart of either worker at any point. */
const CRASH: Limits = { workers: 2, slots: 2, updates: 2, records: 2, crashes: 1 };

test('the rules as implemented: no record is ever counted on a target it was not written for, in any interleaving', () => {
  const o = explore(NEW_RULES, REUSE);
  assert.equal(o.violation, null);
  assert.ok(o.staleDropped, 'some interleaving drops a stale record (the fence is exercised)');
  assert.ok(o.reused, 'some interleaving reuses a freed slot');
  assert.ok(o.states > 100_000, `explored ${o.states} states`);
});

test('the same with a worker crashing and restarting at any point (it gets the whole set at the current generation)', () => {
  const o = explore(NEW_RULES, CRASH);
  assert.equal(o.violation, null);
  assert.ok(o.staleDropped);
  assert.ok(o.states > 10_000, `explored ${o.states} states`);
});

test('the old rules (no generations, reuse two updates later) count a record of an old target on a new one', () => {
  const old: Rules = { fence: false, reuse: 'two_updates_later', flushBeforeApply: false, redefineInPlace: true };
  assert.match(explore(old, CRASH).violation ?? '', /record of target \d+ .* counted on slot \d+, which holds target \d+/);
  // Even with a new slot for every new identity, as the registry does now: the reuse two updates later is unsafe on its own.
  assert.notEqual(explore({ ...old, redefineInPlace: false }, { ...REUSE, updates: 4 }).violation, null);
});

test('a target that changes in place needs the fence: acknowledged reuse alone counts its old records on it', () => {
  assert.notEqual(explore({ ...NEW_RULES, fence: false }, CRASH).violation, null);
});

test('without in-place changes, acknowledged reuse alone keeps counts right (the registry gives a new identity a new slot)', () => {
  const o = explore({ ...NEW_RULES, fence: false, redefineInPlace: false }, REUSE);
  assert.equal(o.violation, null);
  assert.ok(o.reused);
});

test('the fence alone keeps counts right even when freed slots are reused at once', () => {
  const o = explore({ ...NEW_RULES, reuse: 'at_once' }, REUSE);
  assert.equal(o.violation, null);
  assert.ok(o.reused);
});

test('without shipping pending records before applying an update, the fence is wrong: a batch mixes generations', () => {
  assert.notEqual(explore({ ...NEW_RULES, flushBeforeApply: false }, CRASH).violation, null);
});

test('the rule functions themselves, over every small generation', () => {
  for (let a = 0; a <= 6; a++) {
    for (let b = 0; b <= 6; b++) {
      assert.equal(recordCounts(a, b), a >= b, `recordCounts(${a}, ${b})`);
      assert.equal(slotReusable(b, a), a >= b, `slotReusable(${b}, ${a})`);
    }
  }
  assert.equal(acknowledgedByAll([], 7), 7);
  assert.equal(acknowledgedByAll([5, 3, 9], 9), 3);
  assert.equal(acknowledgedByAll([9, 9], 9), 9);
});
