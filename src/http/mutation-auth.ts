/**
 * The mutation rule (src/auth/mutation.ts) on every HTTP route that changes something.
 *
 * How a route opts in: it declares `config: { mutation: true }`:
 *
 *   app.post('/api/v1/tests', { config: { mutation: true } }, handler);
 *
 * installMutationAuth(app, policy) — called on the root instance by build(), before
 * the route plugins are registered — adds an `onRoute` hook that gives every such route
 * an `onRequest` check: the request is answered 401/403 before its body is even read,
 * and the handler runs only for an allowed caller. Read-only routes say
 * `mutation: false` or nothing (GET, HEAD, OPTIONS).
 *
 * A POST, PUT, PATCH or DELETE route that does not say either way makes build() throw:
 * a new changing route cannot be added without deciding whether it needs the rule, so
 * forgetting it fails every test instead of opening a hole.
 *
 * Answers: 401 (`WWW-Authenticate: Bearer`) `missing_token` / `bad_token`, 403
 * `mutations_disabled`, as `{error, message}` like the rest of the API.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler, RouteOptions } from 'fastify';
import { authorizeMutation, mutationRule, type MutationRule } from '../auth/mutation.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** This route changes the exporter: it needs the mutation rule (see src/http/mutation-auth.ts). */
    mutation?: boolean;
  }
}

/** What the rule is judged by, read per request: a reload may set or remove the token. */
export interface MutationPolicy {
  /** The configured API token, or null. */
  token: string | null;
  /** Addresses the web server is bound to ("127.0.0.1:9798"); empty until it is (then mutations are refused). */
  listen: readonly string[];
}

const READ_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The rule in effect for `policy` (for the start-up log line). */
export function ruleOf(policy: MutationPolicy): MutationRule {
  return mutationRule(policy.token, policy.listen);
}

/** The onRequest check of one mutation route. */
export function mutationGuard(policy: () => MutationPolicy): onRequestHookHandler {
  return function checkMutation(req: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void): void {
    const p = policy();
    const d = authorizeMutation(mutationRule(p.token, p.listen), p.token, req.headers.authorization);
    if (d.ok) {
      done();
      return;
    }
    if (d.status === 401) reply.header('www-authenticate', 'Bearer realm="fleetprobe"');
    // Answered before the body is parsed: a refused caller costs no JSON parse.
    reply.code(d.status).send({ error: d.code, message: d.message });
  };
}

/** Give every route declaring `config.mutation: true` the check; refuse changing routes that declare nothing. */
export function installMutationAuth(app: FastifyInstance, policy: () => MutationPolicy): void {
  const guard = mutationGuard(policy);
  app.addHook('onRoute', (route: RouteOptions) => {
    const methods = (Array.isArray(route.method) ? route.method : [route.method]).map((m) => String(m).toUpperCase());
    const declared = route.config?.mutation;
    if (declared === undefined && methods.some((m) => !READ_METHODS.has(m))) {
      throw new Error(
        `route ${methods.join(',')} ${route.url} changes state but does not declare config.mutation (true: needs the mutation rule; false: open)`,
      );
    }
    if (declared !== true) return;
    const existing = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest];
    route.onRequest = [guard, ...existing];
  });
}
