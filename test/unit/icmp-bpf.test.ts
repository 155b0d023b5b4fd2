/**
 * The BPF programs are run, not inspected: a small classic-BPF interpreter (the
 * subset the kernel's sk_run_filter implements for these opcodes, including "a
 * load past the end of the packet returns 0") executes them on real packets built
 * with the same codec the prober uses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BPF_ACCEPT, encodeBpf, icmp4Filter, icmp6Filter, SOCK_FILTER_BYTES, type BpfInsn } from '../../workers/probes/icmp-bpf.js';
import { defaults, echoReply4, echoReply6, echoRequest, error4, error6, icmp4, ipv4 } from '../helpers/icmp-packets.js';

function run(prog: readonly BpfInsn[], pkt: Uint8Array): number {
  let A = 0;
  let X = 0;
  const len = pkt.length;
  const load = (off: number, size: number): number | null => {
    if (off < 0 || off + size > len) return null;
    if (size === 1) return pkt[off];
    if (size === 2) return (pkt[off] << 8) | pkt[off + 1];
    return ((pkt[off] << 24) | (pkt[off + 1] << 16) | (pkt[off + 2] << 8) | pkt[off + 3]) >>> 0;
  };
  for (let pc = 0, steps = 0; pc < prog.length; pc++) {
    assert.ok(++steps < 10_000, 'program terminates');
    const { code, jt, jf, k } = prog[pc];
    const cls = code & 0x07;
    const size = [4, 2, 1][(code & 0x18) >> 3];
    const mode = code & 0xe0;
    switch (cls) {
      case 0x00: {
        // LD
        let v: number | null;
        if (mode === 0x20) v = load(k, size);
        else if (mode === 0x40) v = load(X + k, size);
        else if (mode === 0x80) v = len;
        else if (mode === 0x00) v = k;
        else throw new Error(`ld mode ${mode.toString(16)}`);
        if (v === null) return 0;
        A = v >>> 0;
        break;
      }
      case 0x01: {
        // LDX
        if (mode === 0xa0) {
          const v = load(k, 1);
          if (v === null) return 0;
          X = (v & 0x0f) * 4;
        } else if (mode === 0x00) X = k;
        else throw new Error(`ldx mode ${mode.toString(16)}`);
        break;
      }
      case 0x04: {
        // ALU
        const src = code & 0x08 ? X : k;
        const op = code & 0xf0;
        if (op === 0x00) A = (A + src) >>> 0;
        else if (op === 0x50) A = (A & src) >>> 0;
        else if (op === 0x60) A = (A << src) >>> 0;
        else throw new Error(`alu op ${op.toString(16)}`);
        break;
      }
      case 0x05: {
        // JMP
        const op = code & 0xf0;
        const src = code & 0x08 ? X : k;
        if (op === 0x00) pc += k;
        else if (op === 0x10) pc += A === src ? jt : jf;
        else throw new Error(`jmp op ${op.toString(16)}`);
        break;
      }
      case 0x06:
        return code & 0x10 ? A : k;
      case 0x07:
        if ((code & 0xf8) === 0x00) X = A;
        else A = X;
        break;
      default:
        throw new Error(`class ${cls}`);
    }
  }
  throw new Error('fell off the end of the program');
}

const ID = defaults.identifier;
const OTHER = ID ^ 0x5555;

test('v4 filter accepts our echo replies, with any IP header length', () => {
  const prog = icmp4Filter(ID);
  assert.equal(run(prog, echoReply4()), BPF_ACCEPT);
  const req = echoRequest();
  const rep = Buffer.from(req);
  rep[0] = 0;
  assert.equal(run(prog, ipv4(rep, '127.0.0.1', '127.0.0.1', { ihlWords: 15 })), BPF_ACCEPT);
});

test('v4 filter rejects replies of other identifiers and other ICMP types', () => {
  const prog = icmp4Filter(ID);
  assert.equal(run(prog, echoReply4({ identifier: OTHER })), 0);
  assert.equal(run(prog, ipv4(echoRequest(), '127.0.0.1', '127.0.0.1')), 0, 'echo requests (our own on loopback)');
  assert.equal(run(prog, ipv4(icmp4(13, 0, Buffer.alloc(12)), '127.0.0.1', '127.0.0.1')), 0, 'timestamp');
});

test('v4 filter accepts errors quoting our request, even with only 8 bytes quoted', () => {
  const prog = icmp4Filter(ID);
  for (const [type, code] of [
    [3, 0],
    [3, 1],
    [3, 13],
    [11, 0],
  ]) {
    assert.equal(run(prog, error4(type, code, {}, '192.0.2.1', '127.0.0.1', 8)), BPF_ACCEPT, `${type}/${code}`);
    assert.equal(run(prog, error4(type, code, {}, '192.0.2.1', '127.0.0.1', 1000)), BPF_ACCEPT);
  }
});

test('v4 filter rejects errors about other identifiers, other protocols, or short quotes', () => {
  const prog = icmp4Filter(ID);
  assert.equal(run(prog, error4(3, 1, { identifier: OTHER })), 0);
  const udp = ipv4(Buffer.alloc(8), '127.0.0.1', '192.0.2.1', { protocol: 17 });
  udp.writeUInt16BE(ID, 20 + 4); // bytes where an identifier would be
  assert.equal(run(prog, ipv4(icmp4(3, 3, udp), '127.0.0.1', '127.0.0.1')), 0);
  assert.equal(run(prog, error4(3, 1, {}, '192.0.2.1', '127.0.0.1', 4)), 0, 'quote ends before the identifier');
  const quotedReply = echoReply4({}, '127.0.0.1', '192.0.2.9').subarray(0, 28);
  assert.equal(run(prog, ipv4(icmp4(3, 1, quotedReply), '127.0.0.1', '127.0.0.1')), 0);
});

test('v4 filter handles inner IP options (inner IHL computed in the program)', () => {
  const prog = icmp4Filter(ID);
  const inner = ipv4(echoRequest(), '127.0.0.1', '192.0.2.1', { ihlWords: 7 }).subarray(0, 28 + 8);
  assert.equal(run(prog, ipv4(icmp4(11, 0, inner), '127.0.0.1', '127.0.0.1', { ihlWords: 6 })), BPF_ACCEPT);
});

test('v6 filter accepts our replies and errors, rejects everything else', () => {
  const prog = icmp6Filter(ID);
  assert.equal(run(prog, echoReply6()), BPF_ACCEPT);
  assert.equal(run(prog, echoReply6({ identifier: OTHER })), 0);
  for (const type of [1, 2, 3]) {
    assert.equal(run(prog, error6(type, 0)), BPF_ACCEPT, `type ${type}`);
    assert.equal(run(prog, error6(type, 0, {}, '2001:db8::9', 8)), BPF_ACCEPT, 'header-only quote');
    assert.equal(run(prog, error6(type, 0, { identifier: OTHER })), 0);
  }
  assert.equal(run(prog, echoRequest({ family: 6 })), 0);
  assert.equal(run(prog, error6(1, 4, {}, '2001:db8::9', 1000, 17)), 0, 'quoted UDP');
  assert.equal(run(prog, error6(1, 4, {}, '2001:db8::9', 4)), 0, 'quote ends before the identifier');
  const nd = Buffer.alloc(24);
  nd[0] = 136;
  assert.equal(run(prog, nd), 0);
});

test('every jump lands inside the program and the program ends in returns', () => {
  for (const prog of [icmp4Filter(ID), icmp6Filter(0xffff)]) {
    prog.forEach((ins, pc) => {
      if ((ins.code & 0x07) === 0x05) {
        assert.ok(pc + 1 + ins.jt < prog.length && pc + 1 + ins.jf < prog.length);
      }
    });
    assert.equal(prog[prog.length - 1].code & 0x07, 0x06);
  }
});

test('encodeBpf lays out struct sock_filter in host byte order', () => {
  const prog = icmp4Filter(0xabcd);
  const buf = encodeBpf(prog);
  assert.equal(buf.length, prog.length * SOCK_FILTER_BYTES);
  const le = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  prog.forEach((ins, i) => {
    const o = i * 8;
    assert.equal(le ? buf.readUInt16LE(o) : buf.readUInt16BE(o), ins.code);
    assert.equal(buf[o + 2], ins.jt);
    assert.equal(buf[o + 3], ins.jf);
    assert.equal(le ? buf.readUInt32LE(o + 4) : buf.readUInt32BE(o + 4), ins.k);
  });
  assert.ok(
    prog.some((ins) => ins.k === 0xabcd),
    'identifier is in the program',
  );
});
