import {
  cp,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  realpath,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addUser,
  cleanEnv,
  runOk,
  startProxyTrap,
  startVerdaccio,
  type ProxyTrap,
  type Verdaccio,
} from './registry.js';
import { CJS_SCRIPT, ESM_SCRIPT, type ScenarioOutput } from './scratch-scripts.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

interface Library {
  dir: string;
  manifest: Manifest;
}

interface Packument {
  'dist-tags': Record<string, string>;
  versions: Record<string, Manifest>;
}

const readJson = async <T>(path: string): Promise<T> =>
  JSON.parse(await readFile(path, 'utf8')) as T;

async function publishedLibraries(root: string): Promise<Library[]> {
  const dirs = (await readdir(join(root, 'packages'), { withFileTypes: true }))
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
  const libraries: Library[] = [];
  for (const dir of dirs) {
    const manifest = await readJson<Manifest>(join(root, 'packages', dir, 'package.json'));
    if (manifest.private !== true) libraries.push({ dir, manifest });
  }
  return libraries;
}

/** Every file the release flow could rewrite, so the test can prove it did not. */
async function releaseSurface(root: string): Promise<Record<string, string>> {
  const files = ['package.json', '.npmrc', 'pnpm-workspace.yaml'];
  for (const name of await readdir(join(root, '.changeset'))) files.push(`.changeset/${name}`);
  for (const dir of await readdir(join(root, 'packages'))) {
    files.push(`packages/${dir}/package.json`, `packages/${dir}/CHANGELOG.md`);
  }
  const contents: Record<string, string> = {};
  for (const file of files.sort()) {
    contents[file] = await readFile(join(root, file), 'utf8').catch(() => '<missing>');
  }
  return contents;
}

/** `1.2.3` -> `1.2.4`. */
const patched = (version: string): string =>
  version.replace(/^(\d+)\.(\d+)\.(\d+)$/, (_, major: string, minor: string, patch: string) =>
    [major, minor, Number(patch) + 1].join('.'),
  );

const internalDeps = (manifest: Manifest): [string, string][] =>
  [manifest.dependencies, manifest.devDependencies, manifest.peerDependencies].flatMap((deps) =>
    Object.entries(deps ?? {}).filter(([name]) => name.startsWith('@trade/')),
  );

describe('publishing every @trade package to a private registry', () => {
  let work: string;
  let copy: string;
  let scratch: string;
  let verdaccio: Verdaccio | undefined;
  let trap: ProxyTrap | undefined;
  let token: string;
  let libraries: Library[];
  let surfaceBefore: Record<string, string>;
  /** Versions after the changeset release. */
  let released: Map<string, string>;
  /** Environment of every npm, pnpm and changesets run: the registry, the token, loopback only. */
  let clientEnv: NodeJS.ProcessEnv;

  const changeset = (...args: string[]) =>
    runOk(process.execPath, [join(copy, 'node_modules', '@changesets', 'cli', 'bin.js'), ...args], {
      cwd: copy,
      env: clientEnv,
    });

  const packument = (name: string, auth = true): Promise<Response> =>
    fetch(new URL(name.replace('/', '%2f'), verdaccio!.url), {
      headers: auth ? { authorization: `Bearer ${token}` } : {},
    });

  // When the run is interrupted (turbo stops the other tasks after a failure),
  // afterAll does not run: still leave no registry process and no temp dir.
  const onSignal = (signal: NodeJS.Signals): void => {
    verdaccio?.kill();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
    process.kill(process.pid, signal);
  };
  beforeAll(async () => {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    libraries = await publishedLibraries(repoRoot);
    surfaceBefore = await releaseSurface(repoRoot);
    work = await realpath(await mkdtemp(join(tmpdir(), 'trade-publish-')));
    copy = join(work, 'repo');
    scratch = join(work, 'scratch');

    // verdaccio's uplink is the registry npm is configured with on this machine
    // (its mirror); the @trade scope is never proxied.
    const { stdout: uplink } = await runOk('npm', ['config', 'get', 'registry'], {
      cwd: work,
      env: cleanEnv(),
    });
    verdaccio = await startVerdaccio(join(work, 'verdaccio'), uplink.trim());
    token = await addUser(verdaccio.url, 'publisher', 'publish-test-secret');
    trap = await startProxyTrap();

    // The token reaches npm and pnpm the way README "Publishing" says: a
    // user-level npmrc line that reads TRADE_NPM_TOKEN.
    const registryHost = new URL(verdaccio.url).host;
    const userNpmrc = join(work, 'user.npmrc');
    await writeFile(userNpmrc, `//${registryHost}/:_authToken=\${TRADE_NPM_TOKEN}\n`);
    clientEnv = {
      ...cleanEnv(),
      TRADE_NPM_TOKEN: token,
      npm_config_userconfig: userNpmrc,
      npm_config_cache: join(work, 'npm-cache'),
      npm_config_audit: 'false',
      npm_config_fund: 'false',
      npm_config_update_notifier: 'false',
      HTTP_PROXY: trap.url,
      HTTPS_PROXY: trap.url,
      http_proxy: trap.url,
      https_proxy: trap.url,
      NO_PROXY: '127.0.0.1,localhost',
      no_proxy: '127.0.0.1,localhost',
    };

    // A copy of what a release touches: the root manifests, .changeset/, and
    // each library's manifest, README, CHANGELOG and built dist/ (turbo built
    // them before this test). `changeset version` rewrites the copy only.
    await mkdir(copy, { recursive: true });
    for (const file of ['package.json', 'pnpm-workspace.yaml']) {
      await cp(join(repoRoot, file), join(copy, file));
    }
    // Only the config: pending changesets of the working tree would make the
    // versions below depend on whatever is in flight.
    await mkdir(join(copy, '.changeset'));
    await cp(join(repoRoot, '.changeset', 'config.json'), join(copy, '.changeset', 'config.json'));
    const npmrc = await readFile(join(repoRoot, '.npmrc'), 'utf8');
    const scopeLine = /^@trade:registry=.*$/m;
    expect(npmrc).toMatch(scopeLine);
    await writeFile(
      join(copy, '.npmrc'),
      npmrc.replace(scopeLine, `@trade:registry=${verdaccio.url}`),
    );
    for (const { dir } of libraries) {
      const from = join(repoRoot, 'packages', dir);
      const to = join(copy, 'packages', dir);
      await mkdir(to, { recursive: true });
      for (const file of ['package.json', 'README.md', 'CHANGELOG.md']) {
        await cp(join(from, file), join(to, file));
      }
      await cp(join(from, 'dist'), join(to, 'dist'), { recursive: true });
    }
    // The links `pnpm install` makes between workspace packages: pnpm reads a
    // `workspace:^` dependency's version through them when it packs.
    const dirOf = new Map(libraries.map(({ dir, manifest }) => [manifest.name, dir]));
    for (const { dir, manifest } of libraries) {
      for (const [name, spec] of internalDeps(manifest)) {
        const target = dirOf.get(name);
        if (!spec.startsWith('workspace:') || target === undefined) continue;
        const link = join(copy, 'packages', dir, 'node_modules', name);
        await mkdir(join(link, '..'), { recursive: true });
        await symlink(join(copy, 'packages', target), link, 'dir');
      }
    }
    await mkdir(join(copy, 'node_modules', '@changesets'), { recursive: true });
    await symlink(
      await realpath(join(repoRoot, 'node_modules', '@changesets', 'cli')),
      join(copy, 'node_modules', '@changesets', 'cli'),
      'dir',
    );
  });

  afterAll(async () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await verdaccio?.stop();
    await trap?.close();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it('has the six libraries to publish, each with a CHANGELOG, restricted access and a built dist', async () => {
    expect(libraries.map((l) => l.manifest.name)).toEqual([
      '@trade/bus',
      '@trade/core',
      '@trade/exchange-binance',
      '@trade/market-data',
      '@trade/metrics',
      '@trade/paper-engine',
    ]);
    for (const { dir, manifest } of libraries) {
      const changelog = await readFile(join(repoRoot, 'packages', dir, 'CHANGELOG.md'), 'utf8');
      expect(changelog.startsWith(`# ${manifest.name}\n\n## ${manifest.version}\n`)).toBe(true);
      expect(manifest).toMatchObject({ publishConfig: { access: 'restricted' } });
      expect(manifest).not.toHaveProperty('publishConfig.registry');
      for (const [, spec] of internalDeps(manifest)) expect(spec).toBe('workspace:^');
    }
  });

  it('`changeset publish` puts the committed versions on the registry with real dependency ranges', async () => {
    const { stdout, stderr } = await changeset('publish', '--no-git-tag');
    const log = stdout + stderr;
    for (const { manifest } of libraries) {
      expect(log).toContain(`${manifest.name}@${manifest.version}`);
    }
    const version = new Map(libraries.map(({ manifest }) => [manifest.name, manifest.version]));
    for (const { manifest } of libraries) {
      const response = await packument(manifest.name);
      expect(response.status).toBe(200);
      const doc = (await response.json()) as Packument;
      expect(doc['dist-tags'].latest).toBe(manifest.version);
      const published = doc.versions[manifest.version]!;
      for (const [name, spec] of internalDeps(published)) {
        expect(spec, `${manifest.name} -> ${name}`).toBe(`^${version.get(name)}`);
      }
      expect(JSON.stringify(published)).not.toContain('workspace:');
    }
    // Private: the registry refuses the scope to anyone without a token.
    const anonymous = await packument('@trade/core', false);
    expect([401, 403]).toContain(anonymous.status);
    expect(trap!.attempts).toEqual([]);
  });

  it('publishing again is a no-op: only versions missing from the registry go out', async () => {
    const { stdout, stderr } = await changeset('publish', '--no-git-tag');
    expect(stdout + stderr).toContain('No unpublished projects to publish');
    expect(trap!.attempts).toEqual([]);
  });

  it('changesets for core (patch) and metrics (major): `changeset version` bumps them and their dependents in the copy, `changeset publish` ships them', async () => {
    await writeFile(
      join(copy, '.changeset', 'publish-test.md'),
      "---\n'@trade/core': patch\n'@trade/metrics': major\n---\n\nPublish test: a release of core and metrics.\n",
    );
    await changeset('version');

    const before = new Map(libraries.map(({ manifest }) => [manifest.name, manifest.version]));
    const bumped = await publishedLibraries(copy);
    released = new Map(bumped.map(({ manifest }) => [manifest.name, manifest.version]));
    // A major release of metrics leaves the `^` range of every library that
    // depends on it, so they get a patch release; core's patch stays in range.
    const expected = (name: string): string => {
      const old = before.get(name)!;
      return name === '@trade/metrics' ? `${Number(old.split('.')[0]) + 1}.0.0` : patched(old);
    };
    for (const { dir, manifest } of bumped) {
      expect(manifest.version, manifest.name).toBe(expected(manifest.name));
      for (const [, spec] of internalDeps(manifest)) expect(spec).toBe('workspace:^');
      const log = await readFile(join(copy, 'packages', dir, 'CHANGELOG.md'), 'utf8');
      const heading = `# ${manifest.name}\n\n## ${manifest.version}\n\n`;
      if (manifest.name === '@trade/core' || manifest.name === '@trade/metrics') {
        expect(log).toContain(
          `${heading}### ${manifest.name === '@trade/core' ? 'Patch' : 'Major'} Changes\n\n- Publish test: a release of core and metrics.\n`,
        );
      } else {
        expect(log).toContain(`${heading}### Patch Changes\n`);
        expect(log).toContain(`@trade/metrics@${released.get('@trade/metrics')}`);
      }
      expect(log).toContain(`\n## ${before.get(manifest.name)}\n`);
    }
    await expect(readdir(join(copy, '.changeset'))).resolves.not.toContain('publish-test.md');

    await changeset('publish', '--no-git-tag');
    for (const { manifest } of bumped) {
      const doc = (await (await packument(manifest.name)).json()) as Packument;
      expect(Object.keys(doc.versions).sort()).toEqual(
        [before.get(manifest.name), manifest.version].sort(),
      );
      expect(doc['dist-tags'].latest).toBe(manifest.version);
      for (const [name, spec] of internalDeps(doc.versions[manifest.version]!)) {
        expect(spec, `${manifest.name} -> ${name}`).toBe(`^${released.get(name)}`);
      }
    }
    expect(trap!.attempts).toEqual([]);
  });

  it('a scratch project outside the workspace installs them from the registry and uses them from ESM and CommonJS', async () => {
    await mkdir(scratch, { recursive: true });
    await writeFile(
      join(scratch, 'package.json'),
      JSON.stringify({ name: 'scratch', version: '0.0.0', private: true }, null, 2),
    );
    // Everything through the private registry: @trade/* from its storage,
    // the rest proxied to its uplink. The token comes from the user npmrc.
    await writeFile(join(scratch, '.npmrc'), `registry=${verdaccio!.url}\n`);
    await runOk(
      'npm',
      ['install', ...libraries.map((l) => l.manifest.name), 'prom-client@^15.1.0'],
      { cwd: scratch, env: clientEnv },
    );
    expect(trap!.attempts).toEqual([]);

    const lock = await readJson<{
      packages: Record<string, { version?: string; resolved?: string }>;
    }>(join(scratch, 'package-lock.json'));
    const installed = Object.entries(lock.packages).filter(([path]) => path !== '');
    expect(installed.length).toBeGreaterThan(libraries.length);
    for (const [path, entry] of installed) {
      expect(entry.resolved, path).toMatch(new RegExp(`^${verdaccio!.url.replace(/\./g, '\\.')}`));
    }
    for (const { manifest } of libraries) {
      const dir = join(scratch, 'node_modules', manifest.name);
      const tarballManifest = await readJson<Manifest>(join(dir, 'package.json'));
      expect(tarballManifest.version).toBe(released.get(manifest.name));
      expect(JSON.stringify(tarballManifest)).not.toContain('workspace:');
      const files = await readdir(dir);
      expect(files).toEqual(expect.arrayContaining(['CHANGELOG.md', 'README.md', 'dist']));
      expect(files).not.toContain('src');
      expect(await readdir(join(dir, 'dist'))).toEqual(
        expect.arrayContaining(['index.js', 'index.cjs', 'index.d.ts', 'index.d.cts']),
      );
    }

    await writeFile(join(scratch, 'esm.mjs'), ESM_SCRIPT);
    await writeFile(join(scratch, 'cjs.cjs'), CJS_SCRIPT);
    const outputs: Record<'esm' | 'cjs', ScenarioOutput> = {
      esm: JSON.parse(
        (await runOk(process.execPath, ['esm.mjs'], { cwd: scratch, env: clientEnv })).stdout,
      ) as ScenarioOutput,
      cjs: JSON.parse(
        (await runOk(process.execPath, ['cjs.cjs'], { cwd: scratch, env: clientEnv })).stdout,
      ) as ScenarioOutput,
    };

    const nm = join(scratch, 'node_modules');
    expect(outputs.esm.entries).toEqual({
      core: join(nm, '@trade/core/dist/index.js'),
      metrics: join(nm, '@trade/metrics/dist/index.js'),
      exchange: join(nm, '@trade/exchange-binance/dist/index.js'),
      sim: join(nm, '@trade/exchange-binance/dist/sim.js'),
      marketData: join(nm, '@trade/market-data/dist/index.js'),
      paperEngine: join(nm, '@trade/paper-engine/dist/index.js'),
    });
    expect(outputs.cjs.entries).toEqual({
      core: join(nm, '@trade/core/dist/index.cjs'),
      metrics: join(nm, '@trade/metrics/dist/index.cjs'),
      exchange: join(nm, '@trade/exchange-binance/dist/index.cjs'),
      sim: join(nm, '@trade/exchange-binance/dist/sim.cjs'),
      marketData: join(nm, '@trade/market-data/dist/index.cjs'),
      paperEngine: join(nm, '@trade/paper-engine/dist/index.cjs'),
    });
    for (const output of Object.values(outputs)) {
      expect(output.simulator).toBe('function');
      expect(output.tick).toMatchObject({
        symbol: 'BTCUSDT',
        tradeId: 42,
        price: '37000.12345678',
        quantity: '0.00100000',
        side: 'SELL',
        isBuyerMaker: true,
        tradeTime: 1700000000000,
      });
      expect(output.recent).toEqual([14, 13, 12]);
      expect(output.ticksProcessed).toBe(14);
      expect(output.fillsWritten).toBeGreaterThan(0);
      expect(output.sides[0]).toBe('BUY');
      expect(output.portfolioFills).toBe(output.fillsWritten);
      expect(output.paperTradesTotal).toBe(output.fillsWritten);
      expect(output.ticksReceivedTotal).toBe(1);
    }
    const { entries: _esm, ...esm } = outputs.esm;
    const { entries: _cjs, ...cjs } = outputs.cjs;
    expect(cjs).toEqual(esm);
  });

  it('left the working tree as it was', async () => {
    expect(await releaseSurface(repoRoot)).toEqual(surfaceBefore);
  });
});
