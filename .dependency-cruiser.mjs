// The layering of Volley's code, checked by dependency-cruiser in `npm run check`:
// contracts depend on nothing of ours, packages never import services, a workspace reaches
// another only through its package name and the files that package.json exports, no cycles.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const WORKSPACES = ['packages', 'services'];

/**
 * Escapes a path for use inside a regular expression.
 * @param {string} path
 * @returns {string}
 */
function literal(path) {
  return path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The export condition that names a workspace's TypeScript sources (see packages/runtime). */
const SOURCE_CONDITION = '@volley/source';

/**
 * The file an "exports" entry names for the sources: the entry itself, or its
 * SOURCE_CONDITION target when it is split by condition (the default being compiled dist/).
 * @param {unknown} target
 * @returns {string | undefined}
 */
function sourceTarget(target) {
  if (typeof target === 'string') return target;
  if (target instanceof Object && SOURCE_CONDITION in target) {
    return sourceTarget(/** @type {Record<string, unknown>} */ (target)[SOURCE_CONDITION]);
  }
  return undefined;
}

/**
 * Each workspace's public files: the source targets of its package.json "exports" (for a
 * package, src/index.ts). Read from the manifests, so a new workspace needs no change here.
 * @returns {string[]}
 */
function publicFiles() {
  const files = [];
  for (const dir of WORKSPACES) {
    for (const name of readdirSync(join(import.meta.dirname, dir))) {
      /** @type {unknown} */
      let manifest;
      try {
        manifest = JSON.parse(
          readFileSync(join(import.meta.dirname, dir, name, 'package.json'), 'utf8'),
        );
      } catch {
        continue; // a folder without a manifest is no workspace
      }
      const exp =
        manifest instanceof Object && 'exports' in manifest ? manifest.exports : undefined;
      const targets =
        typeof exp === 'string' ? [exp] : exp instanceof Object ? Object.values(exp) : [];
      for (const target of targets.map(sourceTarget)) {
        if (target) files.push(`${dir}/${name}/${target.replace(/^\.\//, '')}`);
      }
    }
  }
  return files;
}

const PUBLIC = `^(${publicFiles().map(literal).join('|')})$`;
const WORKSPACE_CODE = `^(${WORKSPACES.join('|')})/`;

/** @type {import('dependency-cruiser').IConfiguration} */
export default {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'A cycle, between packages or between the files of one, means neither side can be read ' +
        'or changed on its own. Type-only imports count: they couple the files just the same.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'contracts-stand-alone',
      severity: 'error',
      comment:
        'packages/contracts is the vocabulary every other part shares (queues, payloads, keys, ' +
        'events); it depends on nothing of ours, so anything can depend on it.',
      from: { path: '^packages/contracts/' },
      to: { path: WORKSPACE_CODE, pathNot: '^packages/contracts/' },
    },
    {
      name: 'packages-not-to-services',
      severity: 'error',
      comment: 'Services wire packages together; a package that imports a service inverts that.',
      from: { path: '^packages/' },
      to: { path: '^services/' },
    },
    {
      name: 'through-the-public-index',
      severity: 'error',
      comment:
        'Another workspace is reached through what its package.json exports (@volley/<name>, ' +
        'its src/index.ts), never a file inside it: its other files may change without notice. ' +
        'Every declared entry counts as public: a subpath is a second surface declared on ' +
        'purpose (@volley/bounce/inbound, the SMTP server only the bounce service runs; ' +
        '@volley/testkit/chromium), and test-only entries point into test/.',
      from: { path: `^(${WORKSPACES.join('|')}|benchmarks|scripts)/([^/]+)/` },
      to: { path: WORKSPACE_CODE, pathNot: [`^$1/$2/`, PUBLIC] },
    },
    {
      name: 'through-the-package-name',
      severity: 'error',
      comment:
        'A relative path into another workspace ("../../api/src/app.ts") bypasses its package ' +
        'name: import @volley/<name> instead.',
      from: { path: `^(${WORKSPACES.join('|')})/([^/]+)/` },
      to: { path: WORKSPACE_CODE, pathNot: `^$1/$2/`, dependencyTypesNot: ['aliased-workspace'] },
    },
    {
      name: 'outside-code-by-package-name',
      severity: 'error',
      comment:
        'Benchmarks, scripts and the deployment checks reach the workspaces by package name, as services do.',
      from: { path: '^(benchmarks|scripts|deploy)/' },
      to: { path: WORKSPACE_CODE, dependencyTypesNot: ['aliased-workspace'] },
    },
    {
      name: 'src-not-to-tests',
      severity: 'error',
      comment: 'Production code never imports test code (fixtures, harnesses).',
      from: { path: `${WORKSPACE_CODE}[^/]+/src/` },
      to: { path: `${WORKSPACE_CODE}[^/]+/test/` },
    },
    {
      name: 'src-not-to-dev-dependencies',
      severity: 'error',
      comment:
        'A deployment installs only "dependencies": production code importing a devDependency ' +
        '(nodemailer is the benchmark baseline, mailparser a test tool) fails there. The ' +
        'testkit is test code kept in a package.',
      from: { path: `${WORKSPACE_CODE}[^/]+/src/`, pathNot: '^packages/testkit/' },
      to: { dependencyTypes: ['npm-dev'] },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that does not resolve fails at run time; it may be a typo in a path.',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // dist/ is what `npm run build` compiles from the sources cruised here.
    exclude: { path: '^benchmarks/results/|^(packages|services)/[^/]+/dist/' },
    // `import type` couples files as much as a value import does.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    // Workspaces are resolved as Node resolves them under tsx in development: through the
    // package name's symlink in node_modules to the real file, and through the "exports" of its
    // package.json with the condition that names the sources (production's dist/ mirrors them).
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: [SOURCE_CONDITION, 'import', 'node', 'default'],
    },
    skipAnalysisNotInRules: true,
    // Dependencies are declared once, in the root package.json (npm workspaces); without this
    // a workspace's imports of its siblings and of npm packages would be "undetermined".
    combinedDependencies: true,
    reporterOptions: { text: { highlightFocused: true } },
  },
};
