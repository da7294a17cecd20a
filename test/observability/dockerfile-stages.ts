/** The Dockerfile read as build stages: enough to check what reaches the runtime image. */

export interface DockerStage {
  /** The stage's name (`AS name`), or '' for an unnamed (the last, runtime) stage. */
  readonly name: string;
  readonly from: string;
  /** Instructions after FROM, continuation lines joined, comments dropped. */
  readonly instructions: readonly { keyword: string; args: string }[];
}

export function parseDockerfile(text: string): { args: Map<string, string>; stages: DockerStage[] } {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const args = new Map<string, string>();
  const stages: { name: string; from: string; instructions: { keyword: string; args: string }[] }[] = [];
  for (const line of lines) {
    const m = /^(\w+)\s+(.*)$/.exec(line);
    if (m === null) throw new Error(`Dockerfile line not understood: ${line}`);
    const keyword = (m[1] as string).toUpperCase();
    const rest = m[2] as string;
    if (keyword === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      if (f === null) throw new Error(`FROM not understood: ${rest}`);
      stages.push({ name: f[2] ?? '', from: f[1] as string, instructions: [] });
    } else if (stages.length === 0) {
      if (keyword !== 'ARG') throw new Error(`only ARG may come before the first FROM: ${line}`);
      const [k, v] = rest.split('=', 2) as [string, string | undefined];
      args.set(k, v ?? '');
    } else {
      (stages.at(-1) as (typeof stages)[number]).instructions.push({ keyword, args: rest });
    }
  }
  return { args, stages };
}

/** Sources and destination of a COPY (exec form not used in this Dockerfile), with its --from stage. */
export function copyOf(args: string): { from: string | null; sources: string[]; dest: string } {
  const words = args.split(/\s+/);
  const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length) ?? null;
  const paths = words.filter((w) => !w.startsWith('--'));
  return { from, sources: paths.slice(0, -1), dest: paths.at(-1) as string };
}
