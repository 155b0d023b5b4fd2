/**
 * On-demand tests over HTTP (what they do is src/ondemand/controller.ts):
 *
 *   POST   /api/v1/tests[?wait=1]   start one; 202 {id}, or with wait=1 200 and the ended test
 *   GET    /api/v1/tests            running and recent tests, newest first
 *   GET    /api/v1/tests/ID         one test
 *   DELETE /api/v1/tests/ID         cancel it (202; its end follows)
 *
 * POST and DELETE are mutations (src/http/mutation-auth.ts: the token, or loopback
 * only without one). A malformed request (not JSON, too large) gets the same
 * `{error, message, problems}` answer as an invalid test.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import { TESTS_BOUNDS } from '../../config/bounds.js';
import type { TestAnswer, TestController } from '../../ondemand/controller.js';

const WAIT_VALUES: Readonly<Record<string, boolean>> = { '1': true, true: true, '0': false, false: false };

export async function testRoutes(app: FastifyInstance, opts: { tests: TestController }): Promise<void> {
  const tests = opts.tests;
  app.setErrorHandler((err: FastifyError, _req, reply) => {
    const status = err.statusCode ?? 500;
    if (status >= 500) {
      reply.log.error({ err }, 'tests API request failed');
      return reply.code(500).send({ error: 'internal', message: err.message });
    }
    let message = err.message;
    if (status === 415) message = `${message}; send the test as JSON with "Content-Type: application/json"`;
    if (status === 413) message = `the body is larger than ${TESTS_BOUNDS.bodyBytes} bytes`;
    return reply.code(status).send({
      error: status === 413 ? 'body_too_large' : status === 415 ? 'unsupported_media_type' : 'bad_request',
      message,
      problems: [{ key: 'body', message }],
    });
  });

  const send = (reply: { code(n: number): { send(b?: unknown): unknown } }, a: TestAnswer) => reply.code(a.status).send(a.body);

  app.post('/api/v1/tests', { config: { mutation: true }, bodyLimit: TESTS_BOUNDS.bodyBytes }, async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const wait = q.wait === undefined ? false : typeof q.wait === 'string' ? WAIT_VALUES[q.wait] : undefined;
    if (wait === undefined) {
      const message = `wait must be 1 or 0 (true or false), got ${JSON.stringify(q.wait)}`;
      return reply.code(400).send({ error: 'bad_request', message, problems: [{ key: 'wait', message }] });
    }
    const a = await tests.start(req.body);
    if (!wait || a.status !== 202) return send(reply, a);
    const ended = await tests.waitFor((a.body as { id: string }).id);
    return reply.code(200).send(ended ?? a.body); // ?? : already forgotten (tests.results_kept)
  });

  app.get('/api/v1/tests', async (_req, reply) => send(reply, tests.list()));
  app.get('/api/v1/tests/:id', async (req, reply) => send(reply, tests.get((req.params as { id: string }).id)));
  app.delete('/api/v1/tests/:id', { config: { mutation: true } }, async (req, reply) => send(reply, tests.cancel((req.params as { id: string }).id)));
}
