// The responder's pure abuse guards: which UDP source ports are never answered
// (udp-guard.ts), the per-source token buckets (rate-limit.ts), the limits'
// validation, and the layout of the shared counters (metrics.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_RATE_PER_SOURCE, RATE_LIMIT_DEFAULTS, REJECT_REASONS, validateResponderOptions, type ResponderOptions } from '../../src/responder/index.js';
import { Proto, REJECT_PAIRS, Reject } from '../../src/responder/limits.js';
import { RESPONDER_STATS_LENGTH, ResponderStats } from '../../src/responder/metrics.js';
import { SourceRateLimiter } from '../../src/responder/rate-limit.js';
import { isReflectorPort, REFLECTOR_PORTS_ABOVE_1023, udpSourceVerdict, UdpVerdict } from '../../src/responder/udp-guard.js';
import { loopbackResponderOptions } from '../helpers/responder-setup.js';

describe('udp source guard', () => {
  it('never answers its own port, from any address', () => {
    assert.equal(udpSourceVerdict(4000, 4000), UdpVerdict.Self);
    assert.equal(udpSourceVerdict(45123, 45123), UdpVerdict.Self);
    // Our port below 1024 (an echo on port 7): the source port 7 is "self" first.
    assert.equal(udpSourceVerdict(7, 7), UdpVerdict.Self);
  });

  it('never answers port 0, any port below 1024, nor the listed services above', () => {
    for (const port of [0, 1, 7, 9, 11, 13, 15, 17, 19, 37, 53, 69, 111, 123, 137, 161, 389, 500, 1023]) {
      assert.equal(isReflectorPort(port), true, `port ${port}`);
      assert.equal(udpSourceVerdict(port, 4000), UdpVerdict.ReflectorPort, `port ${port}`);
    }
    for (const port of REFLECTOR_PORTS_ABOVE_1023) assert.equal(udpSourceVerdict(port, 4000), UdpVerdict.ReflectorPort, `port ${port}`);
    assert.ok(REFLECTOR_PORTS_ABOVE_1023.includes(2049), 'NFS, as OpenBSD inetd');
  });

  it('answers every ephemeral port of the common ranges', () => {
    assert.ok(
      REFLECTOR_PORTS_ABOVE_1023.every((p) => p < 10_000),
      'the list stays below every common ephemeral range',
    );
    for (const port of [1024, 4001, 10_000, 32_768, 49_152, 60_999, 65_535]) {
      assert.equal(udpSourceVerdict(port, 4000), UdpVerdict.Answer, `port ${port}`);
    }
  });
});

describe('SourceRateLimiter', () => {
  it('lets a burst through, then refuses until tokens refill at the rate', () => {
    const l = new SourceRateLimiter(10, 5, 100);
    let t = 1000;
    for (let i = 0; i < 5; i++) assert.equal(l.allow('a', t), true, `burst ${i}`);
    assert.equal(l.allow('a', t), false, 'bucket empty');
    assert.equal(l.allow('a', t + 50), false, 'half a token after 50 ms at 10/s');
    assert.equal(l.allow('a', t + 100), true, 'one token after 100 ms');
    assert.equal(l.allow('a', t + 100), false);
    t += 10_000; // long idle: the bucket is full again, never above the burst
    for (let i = 0; i < 5; i++) assert.equal(l.allow('a', t), true);
    assert.equal(l.allow('a', t), false);
  });

  it('admits exactly rate x time + burst over a steady flood', () => {
    const l = new SourceRateLimiter(100, 10, 10);
    let ok = 0;
    // 10,000 packets/s for 2 s: 100/s x 2 s + 10 burst get through.
    for (let i = 0; i < 20_000; i++) if (l.allow('flood', i * 0.1)) ok++;
    assert.ok(ok >= 209 && ok <= 211, `admitted ${ok}`);
  });

  it('keeps one bucket per source', () => {
    const l = new SourceRateLimiter(1, 2, 100);
    assert.equal(l.allow('a', 0), true);
    assert.equal(l.allow('a', 0), true);
    assert.equal(l.allow('a', 0), false);
    assert.equal(l.allow('b', 0), true, 'another source is not affected');
    assert.equal(l.allow('b', 0), true);
    assert.equal(l.size, 2);
  });

  it('tracks at most maxSources, forgetting the oldest (which can only be generous)', () => {
    const l = new SourceRateLimiter(1, 1, 3);
    for (const s of ['a', 'b', 'c']) assert.equal(l.allow(s, 0), true);
    assert.equal(l.allow('a', 0), false, 'a is known and empty');
    assert.equal(l.allow('d', 0), true, 'a new source evicts the oldest (a)');
    assert.equal(l.size, 3);
    assert.equal(l.allow('a', 0), true, 'a forgotten: full bucket again (evicts b)');
    assert.equal(l.allow('c', 0), false, 'c still tracked and empty');
    assert.equal(l.allow('b', 0), true, 'b was evicted');
    assert.equal(l.size, 3);
    // A long churn keeps the table bounded.
    for (let i = 0; i < 10_000; i++) l.allow(`s${i}`, 0);
    assert.equal(l.size, 3);
  });

  it('rate 0 means no limit and no table', () => {
    const l = new SourceRateLimiter(0, 1, 10);
    for (let i = 0; i < 1000; i++) assert.equal(l.allow('a', 0), true);
    assert.equal(l.size, 0);
  });

  it('refuses nonsensical parameters', () => {
    assert.throws(() => new SourceRateLimiter(-1, 1, 1), RangeError);
    assert.throws(() => new SourceRateLimiter(1, 0, 1), RangeError);
    assert.throws(() => new SourceRateLimiter(1, 1, 0), RangeError);
    assert.throws(() => new SourceRateLimiter(Number.NaN, 1, 1), RangeError);
  });
});

describe('responder rate-limit options', () => {
  const opts = (over: Partial<ResponderOptions>) => loopbackResponderOptions(over);
  const bad = (over: Partial<ResponderOptions>, option: string) =>
    assert.throws(
      () => validateResponderOptions(opts(over)),
      (e: Error & { code?: string; option?: string }) => e.code === 'FP_ERR_RESPONDER_OPTION' && e.option === option,
    );

  it('defaults let a 1,000 pps on-demand test from one prober through', () => {
    assert.ok(RATE_LIMIT_DEFAULTS.udpRatePerSource >= 1000);
    validateResponderOptions(opts({}));
  });

  it('checks every bound, naming the option', () => {
    bad({ udpRatePerSource: -1 }, 'udpRatePerSource');
    bad({ udpRatePerSource: 1.5 }, 'udpRatePerSource');
    bad({ udpRatePerSource: MAX_RATE_PER_SOURCE + 1 }, 'udpRatePerSource');
    bad({ udpBurstPerSource: 0 }, 'udpBurstPerSource');
    bad({ tcpConnectRatePerSource: -5 }, 'tcpConnectRatePerSource');
    bad({ tcpConnectBurstPerSource: 0 }, 'tcpConnectBurstPerSource');
    bad({ rateLimitSources: 0 }, 'rateLimitSources');
    bad({ rateLimitSources: 10_000_000 }, 'rateLimitSources');
    validateResponderOptions(opts({ udpRatePerSource: 0, tcpConnectRatePerSource: 0 })); // 0 = off
  });
});

describe('ResponderStats layout', () => {
  it('keeps every counter in its own slot of one Float64Array', () => {
    const s = new ResponderStats();
    assert.equal(s.values.length, RESPONDER_STATS_LENGTH);
    s.tcpConnectionsOpen = 1;
    s.tcpConnectionsTotal = 2;
    s.tcpFrames = 3;
    s.udpDatagrams = 4;
    s.httpRequests = 5;
    s.udpSendErrors = 6;
    for (let p = 0; p < 3; p++) s.bytes[p] = 10 + p;
    for (const [proto, reason] of REJECT_PAIRS) s.reject(proto, reason);
    s.reject(Proto.Udp, Reject.Self);
    const nonZero = [...s.values].filter((v) => v !== 0).length;
    assert.equal(nonZero, 6 + 3 + REJECT_PAIRS.length, 'no two counters share a slot');
    assert.equal(s.rejectedCount(Proto.Udp, Reject.Self), 2);
    // A second view over the same memory (the main thread's) sees the same values.
    const view = new ResponderStats(s.values);
    assert.equal(view.udpDatagrams, 4);
    assert.equal(view.rejectedCount(Proto.Udp, Reject.RateLimited), 1);
  });

  it('declares the new reasons once, append-only', () => {
    assert.deepEqual(REJECT_REASONS.slice(0, 5), ['max_connections', 'not_allowed', 'oversized', 'idle_timeout', 'malformed']);
    assert.equal(REJECT_REASONS[Reject.Self], 'self');
    assert.equal(REJECT_REASONS[Reject.ReflectorPort], 'reflector_port');
    assert.equal(REJECT_REASONS[Reject.RateLimited], 'rate_limited');
    assert.throws(() => new ResponderStats(new Float64Array(3)), RangeError);
  });
});
