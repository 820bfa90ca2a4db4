import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { assertBuilt } from './helpers/build.js';

/**
 * What npm users get: every publishable workspace (a non-private package under packages/) packed
 * with `npm pack`, its tarball checked (contents, source maps, publint, attw), then installed into a
 * fresh project outside the monorepo where a TypeScript Koa app is compiled with the monorepo's tsc
 * and run with node, and a CommonJS script `require()`s the ESM packages.
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SMOKE_FIXTURES = fileURLToPath(new URL('fixtures/smoke/', import.meta.url));
const TSC = join(ROOT, 'node_modules', '.bin', 'tsc');
const ATTW = join(ROOT, 'node_modules', '.bin', 'attw');
/** The repository's own export condition: a subpath that has no other is repository-only. */
const SOURCE_CONDITION = '@reprise/source';

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  workspaces?: string[];
  exports?: Record<string, Record<string, string> | string>;
  devDependencies?: Record<string, string>;
  engines?: Record<string, string>;
}

interface Workspace {
  /** Folder relative to the root, like `packages/core`. */
  readonly dir: string;
  readonly manifest: Manifest;
  /** Subpaths a consumer can import (`.`, `./adapter-kit`), as specifiers. */
  readonly entries: string[];
  /** Subpaths resolvable only under the repository's own condition (`@reprise/adapter-tests/internal`). */
  readonly repositoryOnly: string[];
}

interface Packed {
  readonly tarball: string;
  /** Where the tarball was unpacked (its `package/` folder). */
  readonly root: string;
  /** The paths in the tarball, relative to `package/`. */
  readonly files: ReadonlySet<string>;
}

/**
 * The apps of the smoke project: TypeScript files of test/fixtures/smoke, compiled together by one
 * tsc run and then each run with node; its last stdout line is the JSON `check` is given. The
 * registry packages they need (beyond the tarballs) are installed at the monorepo's versions.
 * The Express and Fastify apps go here once those bindings exist.
 */
const SMOKE_APPS: { file: string; registry: string[]; check: (result: Record<string, unknown>) => void }[] = [
  { file: 'koa-app.ts', registry: ['koa', '@types/koa'], check: checkKoaApp },
];

/**
 * Packages whose declarations the strict check (skipLibCheck off) leaves out, with the reason:
 * - `@reprise/koa`: its types import `@types/koa`, which does not compile with skipLibCheck off
 *   next to `content-disposition` 1.x (which Express 5 brings, and which ships its own types
 *   without the `Options` that `@types/koa` names). Its declarations are still compiled against
 *   the Koa app (skipLibCheck on, as applications compile).
 */
const LIB_CHECK_EXCLUDED = new Set(['@reprise/koa']);

const publishable = discoverWorkspaces().filter((w) => w.manifest.private !== true && w.dir.startsWith('packages/'));

describe('published packages (npm pack)', function () {
  this.timeout(120_000);
  let workDir = '';
  const packed = new Map<string, Packed>();

  before(async function () {
    assertBuilt(...publishable.map((w) => w.dir));
    workDir = await mkdtemp(join(tmpdir(), 'reprise-pack-'));
    const { stdout } = await run(
      'npm',
      ['pack', '--json', '--pack-destination', workDir, ...publishable.flatMap((w) => ['-w', w.dir])],
      ROOT,
    );
    for (const entry of JSON.parse(stdout) as { name: string; filename: string; files: { path: string }[] }[]) {
      const unpacked = join(workDir, entry.name.replace('/', '__'));
      await mkdir(unpacked);
      await run('tar', ['-xzf', join(workDir, entry.filename), '-C', unpacked], workDir);
      packed.set(entry.name, {
        tarball: join(workDir, entry.filename),
        root: join(unpacked, 'package'),
        files: new Set(entry.files.map((f) => f.path)),
      });
    }
  });

  after(async function () {
    if (workDir !== '') await rm(workDir, { recursive: true, force: true });
  });

  it('packs every publishable workspace', function () {
    expect(publishable.map((w) => w.manifest.name)).to.include.members(['@reprise/core', '@reprise/koa', '@reprise/memory']);
    expect([...packed.keys()].sort()).to.deep.equal(publishable.map((w) => w.manifest.name).sort());
  });

  for (const workspace of publishable) {
    const { name } = workspace.manifest;
    describe(name, function () {
      const tarball = (): Packed => {
        const found = packed.get(name);
        if (found === undefined) throw new Error(`${name} was not packed`);
        return found;
      };

      it('ships package.json, the MIT LICENSE, README.md, CHANGELOG.md, dist and src, and nothing else', async function () {
        const { files, root } = tarball();
        expect([...files].filter((f) => !/^(dist|src)\//.test(f)).sort()).to.deep.equal([
          'CHANGELOG.md',
          'LICENSE',
          'README.md',
          'package.json',
        ]);
        expect([...files].filter((f) => f.endsWith('.tsbuildinfo') || /\.test\.|(^|\/)test\//.test(f))).to.deep.equal([]);
        expect([...files].some((f) => f.startsWith('dist/') && f.endsWith('.d.ts'))).to.equal(true);
        expect(await readFile(join(root, 'LICENSE'), 'utf8')).to.equal(await readFile(join(ROOT, 'LICENSE'), 'utf8'));
      });

      it('declares the metadata npm shows and publishes publicly', async function () {
        const manifest = JSON.parse(await readFile(join(tarball().root, 'package.json'), 'utf8')) as Record<string, unknown>;
        expect(manifest.license).to.equal('MIT');
        expect(manifest.author).to.be.a('string').and.not.equal('');
        expect(manifest.repository).to.deep.equal({
          type: 'git',
          url: 'git+https://github.com/reprise-sessions/reprise.git',
          directory: workspace.dir,
        });
        expect(manifest.bugs).to.deep.equal({ url: 'https://github.com/reprise-sessions/reprise/issues' });
        expect(manifest.homepage).to.equal(`https://github.com/reprise-sessions/reprise/tree/main/${workspace.dir}#readme`);
        expect(manifest.keywords).to.be.an('array').that.is.not.empty;
        expect(manifest.publishConfig).to.deep.equal({ access: 'public' });
        expect(manifest.engines).to.deep.equal(readManifest('.').engines);
        expect(manifest.type).to.equal('module');
      });

      it('ships the files its source maps name', async function () {
        const { files, root } = tarball();
        const missing: string[] = [];
        for (const map of [...files].filter((f) => f.endsWith('.map'))) {
          const { sources } = JSON.parse(await readFile(join(root, map), 'utf8')) as { sources: string[] };
          for (const source of sources) {
            const path = posix.normalize(posix.join(posix.dirname(map), source));
            if (!files.has(path)) missing.push(`${map} -> ${source}`);
          }
        }
        expect(missing).to.deep.equal([]);
      });

      it('passes publint, warnings counted as errors', async function () {
        const bytes = await readFile(tarball().tarball);
        const { messages, pkg } = await publint({ pack: { tarball: toArrayBuffer(bytes) }, strict: true, level: 'warning' });
        expect(messages.map((message) => `${message.type}: ${formatMessage(message, pkg) ?? message.code}`)).to.deep.equal([]);
      });

      it('passes attw (profile node16; CommonJS resolving to ESM allowed: require(esm), Node >= 20.19)', async function () {
        const args = [tarball().tarball, '--profile', 'node16', '--ignore-rules', 'cjs-resolves-to-esm', '--format', 'ascii', '--no-color'];
        const closed = workspace.repositoryOnly.map((specifier) => `.${specifier.slice(name.length)}`);
        if (closed.length > 0) args.push('--exclude-entrypoints', ...closed);
        const result = await run(ATTW, args, workDir, { allowFailure: true });
        expect(result.code, `attw ${args.join(' ')}\n${result.stdout}\n${result.stderr}`).to.equal(0);
      });
    });
  }

  describe('a fresh project outside the monorepo, on the tarballs', function () {
    let project = '';

    before(async function () {
      project = await mkdtemp(join(tmpdir(), 'reprise-smoke-'));
      const registry = [...new Set(['@types/node', ...SMOKE_APPS.flatMap((app) => app.registry)])].map(atRootVersion);
      await writeFile(
        join(project, 'package.json'),
        `${JSON.stringify({ name: 'reprise-smoke', private: true, type: 'module' }, null, 2)}\n`,
      );
      for (const file of ['tsconfig.json', 'require.cjs', ...SMOKE_APPS.map((app) => app.file)]) {
        await copyFile(join(SMOKE_FIXTURES, file), join(project, file));
      }
      await writeDeclarationCheck(project);
      const tarballs = [...packed.values()].map((p) => p.tarball);
      await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', ...tarballs, ...registry], project);
    });

    after(async function () {
      if (project !== '') await rm(project, { recursive: true, force: true });
    });

    it('imports every public entry point with node as ESM; repository-only subpaths are not exported', async function () {
      const entries = publishable.flatMap((w) => w.entries);
      const closed = publishable.flatMap((w) => w.repositoryOnly);
      const script = `
        const result = { imported: [], closed: [] };
        for (const s of ${JSON.stringify(entries)}) { await import(s); result.imported.push(s); }
        for (const s of ${JSON.stringify(closed)}) {
          try { await import(s); result.closed.push(s + ': resolved'); } catch (error) { result.closed.push(s + ': ' + error.code); }
        }
        console.log(JSON.stringify(result));`;
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], project);
      const result = lastJson(stdout);
      expect(result.imported).to.deep.equal(entries);
      expect(result.closed).to.deep.equal(closed.map((s) => `${s}: ERR_PACKAGE_PATH_NOT_EXPORTED`));
      expect(entries).to.include.members(['@reprise/core', '@reprise/core/adapter-kit', '@reprise/koa', '@reprise/memory']);
      expect(closed).to.include('@reprise/adapter-tests/internal');
    });

    it("typechecks the packages' declarations with skipLibCheck off", async function () {
      await run(TSC, ['-p', 'tsconfig.declarations.json'], project);
    });

    it('compiles the apps with the monorepo tsc (module nodenext, strict)', async function () {
      await run(TSC, ['-p', 'tsconfig.json'], project);
    });

    for (const app of SMOKE_APPS) {
      it(`runs ${app.file} with node as ESM`, async function () {
        const { stdout } = await run(process.execPath, [join('dist', app.file.replace(/\.ts$/, '.js'))], project);
        app.check(lastJson(stdout));
      });
    }

    it('require()s @reprise/core, its adapter-kit and @reprise/koa from CommonJS and runs a SessionManager', async function () {
      const { stdout } = await run(process.execPath, ['require.cjs'], project);
      expect(lastJson(stdout)).to.deep.equal({
        isSessionId: true,
        closes: [
          ['expired', 1],
          ['shutdown', 1],
        ],
        resumed: 'restored',
        sameId: true,
        restoredN: 1,
        restored: 1,
        koaSession: 'function',
        koaManagerIsCore: true,
      });
    });
  });
});

/** The Koa app's report (test/fixtures/smoke/koa-app.ts): three visits, an eviction between the second and the third. */
function checkKoaApp(result: Record<string, unknown>): void {
  const ids = result.ids as string[];
  expect(result.views).to.deep.equal([1, 2, 3]);
  expect(new Set(ids).size, 'one id for the three visits, the restore included').to.equal(1);
  expect(result.isSessionId).to.equal(true);
  expect(result.evicted).to.equal(true);
  expect(result.restoredRecord, 'the snapshot in the adapter, decoded by adapter-kit').to.deep.equal({ views: 2 });
  expect(result.closes).to.deep.equal([
    { reason: 'evicted', data: '{"views":2}' },
    { reason: 'shutdown', data: '{"views":3}' },
  ]);
  expect(result.restored).to.equal(1);
  expect(result.closedEvicted).to.equal(1);
  expect(result.optionError).to.deep.equal({ code: 'ERR_REPRISE_OPTION', sameClass: true });
  expect(result.kitErrorIsCoreError, 'adapter-kit and the main entry share one module graph').to.equal(true);
}

/**
 * A file importing every public entry point (but those of {@link LIB_CHECK_EXCLUDED}) as types, and
 * a tsconfig compiling it with skipLibCheck off: every declaration file they reach is checked, so a
 * declaration broken by `stripInternal` or naming an undeclared dependency's types fails here.
 */
async function writeDeclarationCheck(project: string): Promise<void> {
  const entries = publishable.filter((w) => !LIB_CHECK_EXCLUDED.has(w.manifest.name)).flatMap((w) => w.entries);
  const lines = entries.map((entry, i) => `import type * as entry${i} from '${entry}';`);
  lines.push(`export type Entries = [${entries.map((_, i) => `typeof entry${i}`).join(', ')}];`);
  await writeFile(join(project, 'declarations.ts'), `${lines.join('\n')}\n`);
  const config = { extends: './tsconfig.json', compilerOptions: { skipLibCheck: false, noEmit: true }, include: ['declarations.ts'] };
  await writeFile(join(project, 'tsconfig.declarations.json'), `${JSON.stringify(config, null, 2)}\n`);
}

/** `name@range` with the range of the monorepo's root devDependencies (the versions the repository tests with). */
function atRootVersion(name: string): string {
  const range = readManifest('.').devDependencies?.[name];
  if (range === undefined) throw new Error(`${name} is not a devDependency of the root package.json`);
  return `${name}@${range}`;
}

function discoverWorkspaces(): Workspace[] {
  const dirs = (readManifest('.').workspaces ?? []).flatMap((pattern) =>
    pattern.endsWith('/*')
      ? readdirSync(join(ROOT, pattern.slice(0, -2)), { withFileTypes: true })
          .filter((entry) => entry.isDirectory())
          .map((entry) => `${pattern.slice(0, -2)}/${entry.name}`)
      : [pattern],
  );
  return dirs.map((dir) => {
    const manifest = readManifest(dir);
    const subpaths = Object.entries(manifest.exports ?? { '.': {} });
    const specifier = (subpath: string): string => (subpath === '.' ? manifest.name : `${manifest.name}${subpath.slice(1)}`);
    const onlySource = (target: Record<string, string> | string): boolean =>
      typeof target === 'object' && Object.keys(target).every((c) => c === SOURCE_CONDITION);
    return {
      dir,
      manifest,
      entries: subpaths
        .filter(([subpath, target]) => !onlySource(target) && subpath !== './package.json')
        .map(([subpath]) => specifier(subpath)),
      repositoryOnly: subpaths.filter(([, target]) => onlySource(target)).map(([subpath]) => specifier(subpath)),
    };
  });
}

function readManifest(dir: string): Manifest {
  return JSON.parse(readFileSync(join(ROOT, dir, 'package.json'), 'utf8')) as Manifest;
}

function lastJson(stdout: string): Record<string, unknown> {
  const line = stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(line) as Record<string, unknown>;
}

function toArrayBuffer(bytes: Buffer): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/**
 * Runs a command without the environment of the run that started the test (npm's `npm_*`
 * variables, mocha's NODE_OPTIONS): the fresh project must see what a user's shell would give.
 * Rejects with the output when it fails, unless `allowFailure`.
 */
function run(
  command: string,
  args: string[],
  cwd: string,
  options: { allowFailure?: boolean } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(key) && key !== 'NODE_OPTIONS' && key !== 'INIT_CWD') env[key] = value;
  }
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd, env, maxBuffer: 64 * 1024 * 1024, timeout: 90_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      if (code !== 0 && options.allowFailure !== true) {
        reject(
          new Error(
            `${command} ${args.join(' ')} (in ${cwd}) exited ${String(error?.code ?? error?.signal)}\nstdout:\n${stdout}\nstderr:\n${stderr}`,
          ),
        );
        return;
      }
      resolve({ code, stdout, stderr });
    });
  });
}
