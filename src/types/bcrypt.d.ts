// Ambient typings for the parts of bcrypt 6 (kelektiv/node.bcrypt.js, native, N-API)
// fleetprobe uses: the promise forms of compare and hash, which run on libuv's thread
// pool, not on the calling thread. Only $2a$ and $2b$ hashes are understood (see
// src/http/web-config/bcrypt-hash.ts for $2y$).
declare module 'bcrypt' {
  export function compare(data: string | Buffer, encrypted: string): Promise<boolean>;
  export function hash(data: string | Buffer, saltOrRounds: string | number): Promise<string>;
  const bcrypt: { compare: typeof compare; hash: typeof hash };
  export default bcrypt;
}
