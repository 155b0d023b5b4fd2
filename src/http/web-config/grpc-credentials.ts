/**
 * gRPC server credentials from the web configuration's TLS: the same certificate,
 * key, CA, versions and suites as the web port, replaced on the running server when
 * the files change (grpc-js calls setSecureContext on its HTTP/2 server for every
 * credentials watcher update; that is how its own certificate providers rotate).
 *
 * Client certificates: requestCert/rejectUnauthorized are fixed at bind, as on the web
 * port. grpc-js exposes a call's peer certificate only when it verified
 * (getAuthContext()), so client_allowed_sans is enforced per call here (UNAUTHENTICATED)
 * and the two client auth types that need to see an unverified certificate
 * (RequireAnyClientCert, VerifyClientCertIfGiven) are refused for the gRPC listener
 * when the configuration is read (config/build.ts).
 */
import { ServerCredentials, ServerInterceptingCall, status as Status, type ServerInterceptor } from '@grpc/grpc-js';
import type { SecureContextOptions } from 'node:tls';
import { parseSubjectAltNames, sanAllowed } from './san.js';

export class WebTlsServerCredentials extends ServerCredentials {
  constructor(
    serverOptions: { requestCert: boolean; rejectUnauthorized: boolean },
    context: SecureContextOptions,
    /** The SANs a client certificate must carry one of (read per call: a reload may change them); null: any. */
    private readonly allowedSans: () => readonly string[] | null,
    private readonly onRefused: (details: string) => void,
  ) {
    super(serverOptions, context);
  }

  /** Serve new certificate material (and versions, suites) on the running server. */
  update(context: SecureContextOptions): void {
    this.updateSecureContextOptions(context);
  }

  override _equals(other: ServerCredentials): boolean {
    return other === this;
  }

  override _getInterceptors(): ServerInterceptor[] {
    const sanCheck: ServerInterceptor = (_method, call) =>
      new ServerInterceptingCall(call, {
        // Judged when the call's metadata arrives (grpc-js' own auth interceptor pattern):
        // a refused call is ended before any message reaches the handler.
        start: (next) => {
          next({
            onReceiveMetadata: (metadata, mdNext) => {
              const allowed = this.allowedSans();
              if (allowed !== null) {
                const peer = call.getAuthContext().sslPeerCertificate;
                if (!peer || !sanAllowed(parseSubjectAltNames(peer.subjectaltname), allowed)) {
                  const details = 'the client certificate carries none of the SANs of client_allowed_sans';
                  this.onRefused(details);
                  call.sendStatus({ code: Status.UNAUTHENTICATED, details });
                  return;
                }
              }
              mdNext(metadata);
            },
          });
        },
      });
    return [sanCheck];
  }
}
