/**
 * Guards the dependency structure of lib/: no import cycle among its files, none among its folders, and
 * nothing in it reaching into test/ or tools/ (the runtime must not need test doubles, fixtures or build-time
 * generators).
 *
 * Why cycles matter: with CommonJS (what tsx, jest and the Lambda bundle run), a cycle hands one side a
 * half-initialised module, so behaviour depends on which file happened to load first; and two folders that
 * import each other can no longer be read, tested or replaced one at a time.
 *
 * Every import counts, `import type` and `export … from` included: a type-only import is erased at run time,
 * but it still ties the two files' designs together. Imports are found with a regular expression over the
 * source (static `import … from`, `export … from`, side-effect `import '…'`, dynamic `import('…')`,
 * `require('…')`); only relative specifiers are followed, resolved as TypeScript would (`x`, `x.ts`, `x.mts`,
 * `x.js`, `x/index.ts`). Being a regex it may also see an import in a comment or a string: that shows as a
 * false cycle, a loud failure.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const REPO_ROOT = join(__dirname, '..', '..');
const IMPORT = new RegExp(
  [
    /(?:import|export)\s[^'"]*?\bfrom\s+['"]([^'"]+)['"]/.source, // import … from, import type, export … from
    /^\s*import\s+['"]([^'"]+)['"]/.source, // import './side-effect'
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/.source, // import('./lazy')
    /\brequire\(\s*['"]([^'"]+)['"]\s*\)/.source, // require('./x'), in .js files
  ].join('|'),
  'gm',
);

function sourceFiles(folder: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules') files.push(...sourceFiles(path));
    } else if (/\.(ts|mts|js|mjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) {
      files.push(path);
    }
  }
  return files;
}

function resolveImport(fromFile: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined; // a package: not ours
  const base = resolve(dirname(fromFile), specifier);
  for (const candidate of [base, `${base}.ts`, `${base}.mts`, `${base}.js`, join(base, 'index.ts')]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return undefined;
}

/** Repo-relative path of each file under `folder` → repo-relative paths of the repo files it imports. */
function importGraph(folder: string): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const file of sourceFiles(join(REPO_ROOT, folder))) {
    const imports = new Set<string>();
    for (const match of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const target = resolveImport(file, match[1] ?? match[2] ?? match[3] ?? match[4] ?? '');
      if (target !== undefined) imports.add(relative(REPO_ROOT, target).split(sep).join('/'));
    }
    graph.set(relative(REPO_ROOT, file).split(sep).join('/'), imports);
  }
  return graph;
}

/** The folder graph: each `lib/X/…` file counts as node `lib/X`; a file directly in lib/ is its own node. */
function folderOf(file: string, top: string): string {
  const [first, second] = file.slice(top.length + 1).split('/');
  return second === undefined ? file : `${top}/${first}`;
}

/** Edge → one file-level import that makes it, to say in a failure message why two folders are tied. */
type Evidence = Map<string, string>;

function folderGraph(files: Map<string, Set<string>>, top: string): [Map<string, Set<string>>, Evidence] {
  const graph = new Map<string, Set<string>>();
  const evidence: Evidence = new Map();
  for (const [file, imports] of files) {
    const from = folderOf(file, top);
    const edges = graph.get(from) ?? new Set<string>();
    graph.set(from, edges);
    for (const target of imports) {
      if (!files.has(target)) continue;
      const to = folderOf(target, top);
      if (to === from) continue;
      edges.add(to);
      if (!evidence.has(`${from} ${to}`)) evidence.set(`${from} ${to}`, `${file} imports ${target}`);
    }
  }
  return [graph, evidence];
}

/** Strongly connected components of more than one node (Tarjan): every cycle lies inside one. */
function cyclicComponents(graph: Map<string, Set<string>>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string | undefined;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) components.push(component.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return components;
}

/** A shortest cycle through the component's first node, as the path `a → b → a` (breadth-first search). */
function cyclePath(graph: Map<string, Set<string>>, component: string[]): string[] {
  const members = new Set(component);
  const start = component[0] as string;
  const cameFrom = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift() as string;
    for (const w of [...(graph.get(v) ?? [])].sort()) {
      if (!members.has(w) || cameFrom.has(w)) continue;
      cameFrom.set(w, v);
      if (w === start) {
        const path = [start];
        for (let at = v; at !== start; at = cameFrom.get(at) as string) path.unshift(at);
        return [start, ...path];
      }
      queue.push(w);
    }
  }
  return component; // unreachable for a strongly connected component
}

/** One line per cycle: its path, the import behind each step when known, and the rest of its component. */
function describeCycles(graph: Map<string, Set<string>>, evidence?: Evidence): string[] {
  return cyclicComponents(graph).map((component) => {
    const path = cyclePath(graph, component);
    const steps = path.slice(1).map((to, i) => {
      const why = evidence?.get(`${path[i] as string} ${to}`);
      return why === undefined ? ` → ${to}` : ` → ${to} (${why})`;
    });
    const others = component.filter((v) => !path.includes(v));
    const rest = others.length > 0 ? `; also in the cycle: ${others.join(', ')}` : '';
    return `${path[0] as string}${steps.join('')}${rest}`;
  });
}

describe('import structure', () => {
  const lib = importGraph('lib');

  it('has no import cycle among the files of lib/', () => {
    expect(describeCycles(lib)).toEqual([]);
  });

  it("has no import cycle among lib/'s folders (lib/X one node, each file directly in lib/ its own)", () => {
    const [folders, evidence] = folderGraph(lib, 'lib');
    expect(describeCycles(folders, evidence)).toEqual([]);
  });

  it('lib/ imports nothing outside lib/ but packages (no test/ doubles or fixtures, no tools/)', () => {
    const outside = [...lib].flatMap(([file, imports]) =>
      [...imports]
        .filter((target) => !target.startsWith('lib/'))
        .map((target) => `${file} imports ${target}`),
    );
    expect(outside).toEqual([]);
  });

  it('has no import cycle among the files of tools/', () => {
    expect(describeCycles(importGraph('tools'))).toEqual([]);
  });

  it('lib/ reads no file under test/ and compiles no code from strings (new Function, eval)', () => {
    const offences = sourceFiles(join(REPO_ROOT, 'lib')).flatMap((file) => {
      // Code only: comments may well point a reader to a test.
      const source = readFileSync(file, 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/^\s*\/\/.*$/gm, '');
      const where = relative(REPO_ROOT, file).split(sep).join('/');
      return [
        ...(/\bnew Function\s*\(|\beval\s*\(/.test(source) ? [`${where} compiles code from a string`] : []),
        ...(/['"`][^'"`]*\btest\/(fixtures|support)\b/.test(source)
          ? [`${where} names a file under test/`]
          : []),
      ];
    });
    expect(offences).toEqual([]);
  });
});
