/**
 * What client_auth_type and client_allowed_sans ask of a connection once its TLS
 * handshake is done. Node's own handshake covers NoClientCert, RequestClientCert and
 * RequireAndVerifyClientCert (rejectUnauthorized); Go's RequireAnyClientCert (a
 * certificate, not verified) and VerifyClientCertIfGiven (verified when sent) have no
 * Node option, so the server lets those handshakes finish (rejectUnauthorized false)
 * and this judgement closes the connection before any request is read. Pure.
 */
import type { TLSSocket } from 'node:tls';
import type { ClientAuthPolicy } from './names.js';
import { parseSubjectAltNames, sanAllowed } from './san.js';

/** Why a TLS connection was closed after its handshake (bounded `reason` label values). */
export const CLIENT_CERT_REFUSALS = ['client_cert_missing', 'client_cert_unverified', 'client_san_not_allowed'] as const;
export type ClientCertRefusal = (typeof CLIENT_CERT_REFUSALS)[number];

/** What the server knows of the peer after the handshake. */
export interface PeerView {
  hasCert: boolean;
  /** The certificate verified against the CA (Node's TLSSocket.authorized). */
  authorized: boolean;
  /** Node's subjectaltname string of the certificate. */
  subjectAltName: string | undefined;
}

export function judgeClientCert(policy: ClientAuthPolicy, allowedSans: readonly string[] | null, peer: PeerView): ClientCertRefusal | null {
  if (!policy.requestCert) return null;
  if (!peer.hasCert) return policy.requireCert ? 'client_cert_missing' : null;
  if (policy.verifyIfGiven && !peer.authorized) return 'client_cert_unverified';
  if (allowedSans !== null && !sanAllowed(parseSubjectAltNames(peer.subjectAltName), allowedSans)) return 'client_san_not_allowed';
  return null;
}

export function peerView(socket: TLSSocket): PeerView {
  const cert = socket.getPeerCertificate();
  const hasCert = cert !== null && typeof cert === 'object' && cert.raw !== undefined;
  return { hasCert, authorized: socket.authorized, subjectAltName: hasCert ? cert.subjectaltname : undefined };
}
