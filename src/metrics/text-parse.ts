/**
 * A small, strict parser for the Prometheus text format 0.0.4, enough to read
 * back what fleetprobe writes: samples with labels (escaped values unescaped),
 * HELP and TYPE lines. Used by tests (round trips of the serializer) and handy
 * for tools that compare two scrapes. Not a general-purpose parser: timestamps
 * and exemplars are rejected.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface ParsedExposition {
  samples: Sample[];
  /** Family name -> type, in order of appearance. */
  types: Map<string, string>;
  help: Map<string, string>;
}

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*/;

export function parseValue(s: string): number {
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN' || s === 'Nan') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new SyntaxError(`bad value ${JSON.stringify(s)}`);
  return Number(s);
}

/** Parse a whole exposition; throws SyntaxError with the line number on anything malformed. */
export function parsePrometheusText(text: string): ParsedExposition {
  const out: ParsedExposition = { samples: [], types: new Map(), help: new Map() };
  const lines = text.split('\n');
  for (let ln = 0; ln < lines.length; ln++) {
    const line = lines[ln];
    if (line === '') continue;
    try {
      if (line.startsWith('#')) {
        const m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
        if (m === null) continue; // plain comment
        if (m[1] === 'TYPE') {
          if (out.types.has(m[2])) throw new SyntaxError(`second TYPE for ${m[2]}`);
          out.types.set(m[2], m[3]);
        } else out.help.set(m[2], m[3]);
        continue;
      }
      out.samples.push(parseSampleLine(line));
    } catch (e) {
      throw new SyntaxError(`line ${ln + 1}: ${(e as Error).message}: ${JSON.stringify(line.slice(0, 200))}`, { cause: e });
    }
  }
  return out;
}

function parseSampleLine(line: string): Sample {
  const nm = NAME_RE.exec(line);
  if (nm === null) throw new SyntaxError('no metric name');
  const name = nm[0];
  let i = name.length;
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    while (line[i] !== '}') {
      const ln = LABEL_NAME_RE.exec(line.slice(i));
      if (ln === null) throw new SyntaxError(`bad label name at ${i}`);
      const lname = ln[0];
      i += lname.length;
      if (line[i] !== '=' || line[i + 1] !== '"') throw new SyntaxError(`expected =" at ${i}`);
      i += 2;
      let v = '';
      for (;;) {
        const c = line[i];
        if (c === undefined) throw new SyntaxError('unterminated label value');
        if (c === '"') break;
        if (c === '\\') {
          const e = line[i + 1];
          if (e === '\\') v += '\\';
          else if (e === '"') v += '"';
          else if (e === 'n') v += '\n';
          else throw new SyntaxError(`bad escape \\${e}`);
          i += 2;
        } else {
          v += c;
          i++;
        }
      }
      i++; // closing quote
      if (Object.prototype.hasOwnProperty.call(labels, lname)) throw new SyntaxError(`duplicate label ${lname}`);
      labels[lname] = v;
      if (line[i] === ',') i++;
      else if (line[i] !== '}') throw new SyntaxError(`expected , or } at ${i}`);
    }
    i++;
  }
  if (line[i] !== ' ') throw new SyntaxError(`expected space at ${i}`);
  const rest = line.slice(i + 1);
  if (rest.includes(' ')) throw new SyntaxError('timestamps are not expected');
  return { name, labels, value: parseValue(rest) };
}
