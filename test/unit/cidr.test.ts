import assert from 'node:assert/strict';
import { BlockList, isIP } from 'node:net';
import { describe, it } from 'node:test';
import { Allowlist, CidrError, cidrContains, parseAddress128, parseCidr } from '../../src/responder/cidr.js';

function words(text: string): number[] {
  const out = new Uint32Array(4);
  const family = parseAddress128(text, out);
  assert.notEqual(family, 0, `${text} should parse`);
  return [...out];
}

describe('parseAddress128', () => {
  it('maps IPv4 to ::ffff:a.b.c.d', () => {
    assert.deepEqual(words('10.1.2.3'), [0, 0, 0xffff, 0x0a010203]);
    assert.deepEqual(words('0.0.0.0'), [0, 0, 0xffff, 0]);
    assert.deepEqual(words('255.255.255.255'), [0, 0, 0xffff, 0xffffffff]);
  });

  it('gives an IPv4-mapped IPv6 address the same bits as the IPv4 address', () => {
    assert.deepEqual(words('::ffff:10.1.2.3'), words('10.1.2.3'));
    assert.deepEqual(words('::ffff:a01:203'), words('10.1.2.3'));
    assert.deepEqual(words('0:0:0:0:0:ffff:10.1.2.3'), words('10.1.2.3'));
  });

  it('parses IPv6 with and without "::" in every position', () => {
    assert.deepEqual(words('::'), [0, 0, 0, 0]);
    assert.deepEqual(words('::1'), [0, 0, 0, 1]);
    assert.deepEqual(words('1::'), [0x00010000, 0, 0, 0]);
    assert.deepEqual(words('2001:db8::8:800:200c:417a'), [0x20010db8, 0, 0x00080800, 0x200c417a]);
    assert.deepEqual(words('1:2:3:4:5:6:7:8'), [0x00010002, 0x00030004, 0x00050006, 0x00070008]);
    assert.deepEqual(words('1:2:3:4:5:6:7::'), [0x00010002, 0x00030004, 0x00050006, 0x00070000]);
    assert.deepEqual(words('::2:3:4:5:6:7:8'), [0x00000002, 0x00030004, 0x00050006, 0x00070008]);
    assert.deepEqual(words('FE80::AbCd'), [0xfe800000, 0, 0, 0x0000abcd]);
    assert.deepEqual(words('1:2:3:4:5:6:1.2.3.4'), [0x00010002, 0x00030004, 0x00050006, 0x01020304]);
  });

  it('ignores a zone identifier on a peer address', () => {
    assert.deepEqual(words('fe80::1%eth0'), words('fe80::1'));
  });

  it('refuses text that is not an address, exactly as node:net isIP does', () => {
    const bad = [
      '',
      '1',
      '1.2.3',
      '1.2.3.4.5',
      '256.1.1.1',
      '01.2.3.4',
      '1.2.3.-4',
      '1..2.3',
      ' 1.2.3.4',
      'a.b.c.d',
      ':',
      ':::',
      '1:::2',
      '::1::2',
      '1:2:3:4:5:6:7:8:9',
      '1:2:3:4:5:6:7',
      ':1:2:3:4:5:6:7',
      '1:2:3:4:5:6:7:',
      '12345::',
      'g::',
      '1::2:3:4:5:6:7:8',
      '::1.2.3',
      '1:2:3:4:5:6:7:1.2.3.4',
      '::1.2.3.4:5',
      'localhost',
    ];
    const scratch = new Uint32Array(4);
    for (const text of bad) {
      assert.equal(isIP(text), 0, `oracle: ${JSON.stringify(text)} is not an IP`);
      assert.equal(parseAddress128(text, scratch), 0, `${JSON.stringify(text)} must be refused`);
    }
  });
});

describe('parseCidr', () => {
  it('treats a bare address as a host network', () => {
    assert.equal(parseCidr('192.0.2.7').prefix128, 128);
    assert.equal(parseCidr('2001:db8::1').prefix128, 128);
    assert.equal(parseCidr('192.0.2.7').family, 4);
  });

  it('stores an IPv4 prefix /p as 96+p', () => {
    assert.equal(parseCidr('10.0.0.0/8').prefix128, 104);
    assert.equal(parseCidr('0.0.0.0/0').prefix128, 96);
    assert.equal(parseCidr('fd00::/8').prefix128, 8);
  });

  it('rejects host bits, bad prefixes, zones and garbage with a CidrError', () => {
    for (const text of [
      '10.1.2.3/8',
      '10.0.0.0/33',
      '::/129',
      '10.0.0.0/',
      '10.0.0.0/08',
      '10.0.0.0/-1',
      '10.0.0.0/a',
      'fe80::/10%eth0',
      'fe80::%eth0',
      'nope',
      '',
      '2001:db8::1/64',
    ]) {
      assert.throws(
        () => parseCidr(text),
        (err: unknown) => err instanceof CidrError && err.code === 'FP_ERR_CIDR_INVALID',
        text,
      );
    }
  });

  it('accepts prefix edges /0, /32, /128 and trims whitespace', () => {
    assert.equal(parseCidr(' 10.0.0.0/8 ').text, '10.0.0.0/8');
    assert.equal(parseCidr('1.2.3.4/32').prefix128, 128);
    assert.equal(parseCidr('::/0').prefix128, 0);
    assert.equal(parseCidr('::1/128').prefix128, 128);
  });
});

describe('Allowlist', () => {
  it('allows every source, even unparsable ones, when empty (the default)', () => {
    const all = new Allowlist([]);
    assert.equal(all.allowsAll, true);
    for (const a of ['127.0.0.1', '::1', '8.8.8.8', 'garbage', undefined]) assert.equal(all.allows(a), true);
  });

  it('matches IPv4 networks for plain and IPv4-mapped peers', () => {
    const list = new Allowlist(['127.0.0.2/32', '10.0.0.0/8']);
    assert.equal(list.allows('127.0.0.2'), true);
    assert.equal(list.allows('::ffff:127.0.0.2'), true);
    assert.equal(list.allows('127.0.0.1'), false);
    assert.equal(list.allows('::ffff:127.0.0.1'), false);
    assert.equal(list.allows('10.255.255.255'), true);
    assert.equal(list.allows('11.0.0.0'), false);
    assert.equal(list.allows('9.255.255.255'), false);
    assert.equal(list.allows('::1'), false);
  });

  it('matches IPv6 networks, ignoring the peer zone', () => {
    const list = new Allowlist(['fd00::/8', '::1']);
    assert.equal(list.allows('fd12:3456::1'), true);
    assert.equal(list.allows('fe80::1%lo'), false);
    assert.equal(list.allows('::1'), true);
    assert.equal(list.allows('::2'), false);
    assert.equal(list.allows('127.0.0.1'), false);
  });

  it('lets 0.0.0.0/0 cover IPv4 only, ::ffff:0:0/96 cover all IPv4, ::/0 cover everything', () => {
    const v4 = new Allowlist(['0.0.0.0/0']);
    assert.equal(v4.allows('203.0.113.9'), true);
    assert.equal(v4.allows('::ffff:203.0.113.9'), true);
    assert.equal(v4.allows('::1'), false);
    const mapped = new Allowlist(['::ffff:0:0/96']);
    assert.equal(mapped.allows('203.0.113.9'), true);
    assert.equal(mapped.allows('2001:db8::1'), false);
    const all = new Allowlist(['::/0']);
    assert.equal(all.allowsAll, false);
    assert.equal(all.allows('203.0.113.9'), true);
    assert.equal(all.allows('2001:db8::1'), true);
  });

  it('fails closed on a missing or unparsable peer address when restricted', () => {
    const list = new Allowlist(['0.0.0.0/0', '::/0']);
    assert.equal(list.allows(undefined), false);
    assert.equal(list.allows('not-an-ip'), false);
  });

  it('throws on the first invalid CIDR', () => {
    assert.throws(() => new Allowlist(['10.0.0.0/8', '10.0.0.1/8']), CidrError);
  });
});

// Deterministic PRNG (mulberry32) so a failure reproduces.
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function v6Text(w: Uint32Array): string {
  const parts: string[] = [];
  for (let i = 0; i < 4; i++) parts.push((w[i] >>> 16).toString(16), (w[i] & 0xffff).toString(16));
  return parts.join(':');
}

describe('Allowlist against node:net BlockList as an independent oracle', () => {
  it('agrees on 20,000 random (network, address) pairs near the network edges', () => {
    const rand = rng(862);
    const u32 = () => Math.floor(rand() * 2 ** 32) >>> 0;
    for (let n = 0; n < 20_000; n++) {
      const v4Net = rand() < 0.5;
      const prefix = v4Net ? Math.floor(rand() * 33) : Math.floor(rand() * 129);
      const base = new Uint32Array(v4Net ? [0, 0, 0xffff, u32()] : [u32(), u32(), u32(), u32()]);
      const probe = new Uint32Array(base);
      // Zero the host bits of the base to make a valid network.
      const p128 = v4Net ? 96 + prefix : prefix;
      for (let w = 0; w < 4; w++) {
        const bits = Math.max(0, Math.min(32, p128 - 32 * w));
        base[w] = bits === 0 ? 0 : (base[w] & ((0xffffffff << (32 - bits)) >>> 0)) >>> 0;
      }
      // The probe shares the base's bits up to a random point, then is random.
      const keep = Math.floor(rand() * 129);
      for (let w = 0; w < 4; w++) {
        const bits = Math.max(0, Math.min(32, keep - 32 * w));
        const m = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
        probe[w] = ((base[w] & m) | (u32() & ~m)) >>> 0;
      }
      const netText = v4Net ? `${[24, 16, 8, 0].map((s) => (base[3] >>> s) & 255).join('.')}/${prefix}` : `${v6Text(base)}/${prefix}`;
      const probeIsV4 = probe[0] === 0 && probe[1] === 0 && probe[2] === 0xffff && rand() < 0.5;
      const probeText = probeIsV4 ? [24, 16, 8, 0].map((s) => (probe[3] >>> s) & 255).join('.') : v6Text(probe);

      const oracle = new BlockList();
      const [addr, len] = netText.split('/');
      oracle.addSubnet(addr, Number(len), v4Net ? 'ipv4' : 'ipv6');
      const expected = oracle.check(probeText, probeIsV4 ? 'ipv4' : 'ipv6');
      const list = new Allowlist([netText]);
      assert.equal(list.allows(probeText), expected, `${probeText} in ${netText}`);
      assert.equal(cidrContains(list.cidrs[0], new Uint32Array(words(probeText))), expected);
    }
  });
});
