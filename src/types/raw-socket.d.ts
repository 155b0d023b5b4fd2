// Ambient typings for raw-socket 1.8.1 as patched by patches/raw-socket+1.8.1.patch
// (worker-thread safe; adds Socket.attachFilter/detachFilter, Socket.enableTimestamps
// and the SOL_RAW, IPPROTO_ICMPV6, ICMP_FILTER, ICMP6_FILTER constants). Only what index.js really
// exports: the README's `generateChecksums`/`checksumOffset` options and the
// `socket.generateChecksums()` method do not exist in 1.8.1's index.js.
//
// What a socket filter sees (verified on Linux 6.x, loopback, see
// test/integration/raw-socket-workers.test.ts):
// - IPv4 raw socket (AF_INET, SOCK_RAW, IPPROTO_ICMP): BPF offset 0 is the first
//   byte of the IPv4 header, exactly like the 'message' buffer. The ICMP header
//   starts at IHL*4 (use `ldxb 4*([0]&0xf)` then `ldh [x+4]` for the identifier).
// - IPv6 raw socket (AF_INET6, SOCK_RAW, IPPROTO_ICMPV6): BPF offset 0 is the first
//   byte of the ICMPv6 header (type at 0, code 1, checksum 2, identifier 4..5,
//   sequence 6..7), exactly like the 'message' buffer (no IPv6 header in it).
//   The IPv6 header is still reachable with the SKF_NET_OFF (-0x100000) base:
//   [SKF_NET_OFF+0] is the version/traffic-class byte, source address at +8.
//   The kernel computes the ICMPv6 checksum on send for these sockets.
// - Both ICMP_FILTER (IPv4) and ICMP6_FILTER (IPv6) are block masks: a set bit
//   DROPS that ICMP type. ICMP_FILTER: 4 bytes, uint32 host order, bit (1 << type)
//   for types 0..31. ICMP6_FILTER: 32 bytes = 8 x uint32 host order, type t is bit
//   (1 << (t & 31)) of word (t >> 5). Type filters run before the BPF program.
// - A raw ICMP socket receives a copy of every ICMP packet of its family on the
//   host (including other workers' replies and, on loopback, our own requests).

declare module 'raw-socket' {
  import { EventEmitter } from 'node:events';

  export const AddressFamily: {
    readonly IPv4: 1;
    readonly IPv6: 2;
    readonly [value: number]: string;
  };

  export const Protocol: {
    readonly None: 0;
    readonly ICMP: 1;
    readonly TCP: 6;
    readonly UDP: 17;
    readonly ICMPv6: 58;
    readonly [value: number]: string;
  };

  /** setOption/getOption levels (numbers from the platform headers). */
  export const SocketLevel: {
    readonly SOL_SOCKET: number;
    readonly IPPROTO_IP: number;
    readonly IPPROTO_IPV6: number;
    /** Linux only (255): level of ICMP_FILTER. */
    readonly SOL_RAW?: number;
    /** Linux only (58): level of ICMP6_FILTER. */
    readonly IPPROTO_ICMPV6?: number;
  };

  /** setOption/getOption option names (numbers from the platform headers). */
  export const SocketOption: {
    readonly SO_BROADCAST: number;
    readonly SO_RCVBUF: number;
    readonly SO_RCVTIMEO: number;
    readonly SO_SNDBUF: number;
    readonly SO_SNDTIMEO: number;
    /** Linux only. */
    readonly SO_BINDTODEVICE?: number;
    readonly IP_HDRINCL: number;
    readonly IP_OPTIONS: number;
    readonly IP_TOS: number;
    readonly IP_TTL: number;
    /** Windows only. */
    readonly IPV6_HDRINCL?: number;
    readonly IPV6_TTL: number;
    readonly IPV6_UNICAST_HOPS: number;
    readonly IPV6_V6ONLY: number;
    /** Linux only (1), level SOL_RAW: 4-byte block mask of ICMP types. */
    readonly ICMP_FILTER?: number;
    /** Linux only (1), level IPPROTO_ICMPV6: 32-byte block mask of ICMPv6 types. */
    readonly ICMP6_FILTER?: number;
  };

  export interface SocketOptions {
    /** Protocol number; default 0 (Protocol.None). */
    protocol?: number;
    /** AddressFamily.IPv4 (default) or AddressFamily.IPv6. */
    addressFamily?: number;
    /** Size of the one receive buffer reused for every packet; default 4096. */
    bufferSize?: number;
  }

  export type SendCallback = (this: Socket, error: Error | null, bytes: number) => void;

  export class Socket extends EventEmitter {
    constructor(options?: SocketOptions);

    /**
     * Queues a datagram; it is written with sendto() when the socket is next
     * writable (one queued request per writable event). `afterCallback` gets the
     * error (bad address, buffer too short, or the sendto() errno text) or the
     * byte count. `beforeCallback` runs just before sendto() (stamp send times there).
     */
    send(buffer: Buffer, offset: number, length: number, address: string, afterCallback: SendCallback): this;
    send(buffer: Buffer, offset: number, length: number, address: string, beforeCallback: () => void, afterCallback: SendCallback): this;

    /** Closes the fd and its poll handle; emits 'close'. A later send() reopens a socket. */
    close(): this;
    pauseRecv(): this;
    resumeRecv(): this;
    pauseSend(): this;
    resumeSend(): this;

    /** setsockopt(level, option, uint32 value). */
    setOption(level: number, option: number, value: number): void;
    /** setsockopt(level, option, value[0..length)); ICMP_FILTER / ICMP6_FILTER go here. */
    setOption(level: number, option: number, value: Buffer, length: number): void;
    /** getsockopt into `value` (its full length); returns the length the kernel wrote. */
    getOption(level: number, option: number, value: Buffer, length: number): number;

    /**
     * Attaches a classic BPF program (SO_ATTACH_FILTER), replacing any attached one.
     * `program` is an array of struct sock_filter, 8 bytes each, HOST byte order:
     * uint16 code, uint8 jt, uint8 jf, uint32 k (Linux only). The kernel copies it.
     * Throws RangeError if the length is 0, not a multiple of 8 or over 4096
     * instructions; throws Error with `.code`/`.errno` (e.g. EINVAL) and the errno
     * text in the message if the kernel rejects the program (the filter attached
     * before, if any, then stays).
     * Race-free: packets queued before the call never ran the program, so it
     * attaches a drop-all program, discards the queue, then attaches `program`
     * (as libpcap does); every packet read afterwards has passed `program`.
     * Returns how many queued packets it discarded.
     * See the header of this file for the offset BPF sees per address family.
     */
    attachFilter(program: Buffer): number;
    /** Removes the attached BPF program (SO_DETACH_FILTER); a no-op when none is attached. */
    detachFilter(): void;

    /**
     * Turns on kernel timestamps (SO_TIMESTAMPNS; Linux only, else throws). From then
     * on the native layer writes into `stamps` (a Float64Array of at least 4 elements,
     * kept alive by the socket; nothing is allocated per packet):
     *   [0], [1]: CLOCK_REALTIME seconds, nanoseconds read right before each sendto()
     *             (by `send` and by the native `wrap.send`);
     *   [2], [3]: the kernel receive timestamp (same clock) of the packet last read,
     *             written before 'message' / the native recv callback runs; 0, 0 if
     *             the packet came without one.
     * Seconds and nanoseconds are separate because ns since 1970 exceed 2^53.
     * Throws TypeError for a wrong `stamps`, Error with `.code`/`.errno` if setsockopt fails.
     */
    enableTimestamps(stamps: Float64Array): void;

    /**
     * 'message': `buffer` is a view of the socket's single receive buffer and is
     * overwritten by the next packet: copy what must outlive the handler. IPv4 raw:
     * starts at the IPv4 header; IPv6 raw: starts at the ICMPv6 (transport) header.
     */
    on(event: 'message', listener: (buffer: Buffer, source: string) => void): this;
    on(event: 'error', listener: (error: Error) => void): this;
    on(event: 'close', listener: () => void): this;
    once(event: 'message', listener: (buffer: Buffer, source: string) => void): this;
    once(event: 'error', listener: (error: Error) => void): this;
    once(event: 'close', listener: () => void): this;
    off(event: 'message', listener: (buffer: Buffer, source: string) => void): this;
    off(event: 'error', listener: (error: Error) => void): this;
    off(event: 'close', listener: () => void): this;
  }

  export function createSocket(options?: SocketOptions): Socket;

  /** One's-complement 16-bit checksum over the Buffers / buffer slices, in order. */
  export function createChecksum(...parts: Array<Buffer | { buffer: Buffer; offset: number; length: number }>): number;
  /** Writes `checksum` big-endian at `offset`; returns `buffer`. */
  export function writeChecksum(buffer: Buffer, offset: number, checksum: number): Buffer;

  export function htonl(value: number): number;
  export function htons(value: number): number;
  export function ntohl(value: number): number;
  export function ntohs(value: number): number;
}
