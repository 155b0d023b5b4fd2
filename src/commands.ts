/**
 * The CLI's commands and their help texts, declared once: `fleetprobe help`,
 * `fleetprobe COMMAND --help` and the "unknown command" suggestion all read this table.
 * Pure (no I/O).
 */
import { formatConfigHelp } from './config/index.js';
import { targetFromFlag } from './targets/flag-target.js';

/** Hard bound from the first SIGTERM/SIGINT to the process's exit (ms). */
export const SHUTDOWN_TIMEOUT_MS = 10_000;

export const COMMAND_NAMES = ['run', 'responder', 'check-config', 'test', 'version', 'help'] as const;
export type CommandName = (typeof COMMAND_NAMES)[number];

export function isCommand(s: string): s is CommandName {
  return (COMMAND_NAMES as readonly string[]).includes(s);
}

const SIGNALS = `Signals: SIGHUP reloads configuration and targets (as POST /-/reload does); SIGTERM/SIGINT stop
gracefully within ${SHUTDOWN_TIMEOUT_MS / 1000}s (then exit 1); a second SIGTERM/SIGINT exits at once (143/130).
Exit status: 0 ok, 1 runtime failure (e.g. a port is taken), 2 invalid configuration, 128+signal on a second signal.`;

const TARGET_FORMS = `  --target ADDRESS  Probe ADDRESS; repeatable. Without --config these are the only targets and
                    no responder runs (add one with --responder.* flags). The kind follows the form:
                      IP or host name (127.0.0.1, ::1, db1)     icmp
                      host:port, [v6]:port (127.0.0.1:22)       tcp (connect time)
                      http://..., https://...                   http
                      tcp://h:p, tcp-echo://h:p, udp://h:p, icmp://h   that kind
                    The target is named by ADDRESS as written.`;

const CONFIG_OPTION = `  --config FILE     Configuration file (YAML or JSON); env FLEETPROBE_CONFIG. Without it (and without
                    --target) the embedded default: loopback targets and its own responder on
                    127.0.0.1:4000/4001.`;

const HELP_OPTION = '  -h, --help        Show this help.';

/** Keys `fleetprobe responder` reads. */
const RESPONDER_KEYS = (key: string): boolean => key.startsWith('responder.') || key.startsWith('web.') || key.startsWith('log.');

interface CommandDoc {
  usage: string;
  summary: string;
  help(): string;
}

export const COMMANDS: Readonly<Record<CommandName, CommandDoc>> = {
  run: {
    usage: 'fleetprobe [run] [--config FILE] [--target ADDRESS]... [flags]',
    summary: 'probe targets and serve /metrics (the default command)',
    help: () =>
      `usage: ${COMMANDS.run.usage}

Probe targets continuously and serve /metrics, /healthz, /readyz and /api/v1/ on web.listen_address.
Listeners are bound before the first probe is sent; /readyz is 503 while no configured target can be probed.

${CONFIG_OPTION}
${TARGET_FORMS}
${HELP_OPTION}

Every configuration key is also a flag and a FLEETPROBE_* variable (defaults < file < environment < flags):
${formatConfigHelp()}

${SIGNALS}
`,
  },
  responder: {
    usage: 'fleetprobe responder [--config FILE] [flags]',
    summary: 'only answer other probers (tcp_echo, udp, http) and serve its own /metrics',
    help: () =>
      `usage: ${COMMANDS.responder.usage}

Answer the probes of other fleetprobe instances (and other tools): TCP echo of 16-byte frames, UDP echo,
HTTP GET /v1/ping. Needs at least one of responder.tcp_echo, responder.udp_echo, responder.http;
"off" turns one off (--responder.udp-echo off, FLEETPROBE_RESPONDER_UDP_ECHO=off).

${CONFIG_OPTION}
${HELP_OPTION}

Keys the responder reads (the rest of the configuration is checked but not used):
${formatConfigHelp(RESPONDER_KEYS)}

${SIGNALS}
`,
  },
  'check-config': {
    usage: 'fleetprobe check-config [--config FILE] [--target ADDRESS]... [flags]',
    summary: 'validate the configuration and every target file, then exit',
    help: () =>
      `usage: ${COMMANDS['check-config'].usage}

Check the configuration exactly as run would (file, FLEETPROBE_* variables and flags), read every target
file and the mesh peers, print every problem, and exit: 0 when everything is valid, 2 otherwise.
Nothing is probed and nothing listens. Takes the same options and flags as run (see fleetprobe run --help).

${CONFIG_OPTION}
${TARGET_FORMS}
${HELP_OPTION}
`,
  },
  test: {
    usage: 'fleetprobe test (--agent URL... (--target NAME | --address A --kind K) | --mesh FILE) [flags]',
    summary: 'ask agents to run an on-demand test and print their results',
    help: () =>
      `usage: ${COMMANDS.test.usage}

Ask each agent (a running fleetprobe's HTTP API) to run an on-demand test (POST /api/v1/tests?wait=1),
all at once; wait for every result and print one row per agent: loss, RTT min/avg/max/p99, jitter,
throughput (http). Exit status: 0 when every test ended "done", 1 otherwise, 2 for bad arguments.

  --agent URL         An agent's base URL (http://10.0.0.5:9798); repeatable.
  --target NAME       A target configured on every agent (its own kind and options).
  --address A         A new address, written as in a config target (127.0.0.9, 127.0.0.9:4000) ...
  --kind K            ... of this kind (icmp, tcp, tcp_echo, udp, http; http: --address is the url).
  --mesh FILE         A mesh peer file ([{name, address}], as mesh.peers_file): every peer tests every
                      other peer (agent http://ADDRESS:--agent-port); prints the rows, then the matrix.
                      --kind (default icmp) picks the probe; tcp, tcp_echo and udp go to --target-port
                      (default 4000), http to http://ADDRESS:--target-port/v1/ping (default 4001).
  --agent-port N      Web port of the mesh peers' API (default 9798).
  --target-port N     Responder port of the mesh peers (see --mesh).
  --count N           Probes per test (the agents' default: 10).
  --interval D        Between probes (1s, 10ms); default: the target's.
  --timeout D         Per probe; default: the target's.
  --rate N            udp: probes per second instead of --interval.
  --size N            http: body bytes asked of the responder (throughput).
  --tags k=v          A tag kept with each agent's result; repeatable.
  --token-file FILE   The agents' API token (default: the FLEETPROBE_API_TOKEN variable).
  --json              Print the outcomes as a JSON array: [{agent, from?, to?, test, error}].
${HELP_OPTION}
`,
  },
  version: {
    usage: 'fleetprobe version',
    summary: 'print the version (also --version)',
    help: () => `usage: ${COMMANDS.version.usage}\n\nPrint fleetprobe's version and the Node.js version, then exit.\n`,
  },
  help: {
    usage: 'fleetprobe help [COMMAND]',
    summary: "this overview and every configuration key, or one command's help (also -h, --help)",
    help: () =>
      `usage: ${COMMANDS.help.usage}\n\nWithout COMMAND: every command and every configuration key. With one: that command's help\n(the same as fleetprobe COMMAND --help).\n`,
  },
};

/** `fleetprobe help`: every command, then every configuration key. */
export function generalHelp(): string {
  const width = Math.max(...COMMAND_NAMES.map((n) => COMMANDS[n].usage.length));
  const lines = COMMAND_NAMES.map((n, i) => `${i === 0 ? 'usage: ' : '       '}${COMMANDS[n].usage.padEnd(width)}  ${COMMANDS[n].summary}`);
  return `${lines.join('\n')}

"fleetprobe COMMAND --help" shows one command's options. Without a command, fleetprobe runs "run";
without --config (or FLEETPROBE_CONFIG) and without --target, on the embedded default configuration,
which probes loopback addresses and its own responder.

${SIGNALS}

Configuration keys (file key / environment variable / flag):
${formatConfigHelp()}
`;
}

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions: "rnu" -> "run" is 1). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The command a mistyped word most likely meant, or null. */
export function suggestCommand(word: string): CommandName | null {
  const w = word.toLowerCase();
  const prefixed = COMMAND_NAMES.filter((n) => w.length >= 3 && n.startsWith(w));
  if (prefixed.length === 1) return prefixed[0];
  let best: CommandName | null = null;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const n of COMMAND_NAMES) {
    const dist = editDistance(w, n);
    if (dist < bestDistance) {
      best = n;
      bestDistance = dist;
    }
  }
  // At most 2 edits, and fewer than half the word: "x" is not a typo of "run".
  return best !== null && bestDistance <= 2 && bestDistance * 2 < Math.max(w.length, best.length) ? best : null;
}

/** The message for a first word that is not a command (a typo, or an address meant for --target). */
export function unknownCommandMessage(word: string): string {
  const suggestion = suggestCommand(word);
  let hint = suggestion ? ` (did you mean "${suggestion}"?)` : '';
  if (!suggestion && /[.:]/.test(word) && targetFromFlag(word).ok) hint = ` (to probe it: fleetprobe run --target ${word})`;
  return `fleetprobe: unknown command "${word}"${hint}; commands: ${COMMAND_NAMES.join(', ')}; see fleetprobe --help`;
}
