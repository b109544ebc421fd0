/**
 * Importing a user's design file, in an ESM project as in a CommonJS one (`npm init -y` makes
 * CommonJS projects).
 *
 * JavaScript (`.js`, `.mjs`, `.cjs`) is imported natively. TypeScript goes through tsx, the one
 * reason tsx is a dependency (the compiled package registers no loader for itself): its loader is
 * registered once, on the first TypeScript design, and a `.ts` / `.mts` design file and the `.ts`
 * files it imports are loaded as ES modules even where the nearest package.json says CommonJS. Loaded
 * as CommonJS there, the design would `require('hyperprop')`, an ES module already being loaded by
 * this command: Node refuses that ("Cannot require() ES Module … in a cycle"), and tsx's scoped
 * import would load a second copy of the whole package instead. As ES modules, the design gets the
 * very `hyperprop` this command runs. A `.cts` file asked to be CommonJS: tsx's scoped import loads it
 * (with its own copy of the package).
 */
import { register as registerHooks } from 'node:module';
import { pathToFileURL } from 'node:url';
import { isDesign } from '../model/host/design.ts';

/** The query that marks a design file's URL (and its TypeScript imports) for the format hook. */
const MARK = 'hyperprop-design';

/**
 * A resolve hook (it runs on Node's loader-hooks thread, so it is plain source): a URL resolved for a
 * marked module, or marked itself, that names a `.ts` / `.mts` file is an ES module.
 */
const FORMAT_HOOK = `
const MARK = ${JSON.stringify(MARK)};
const marked = (url) => typeof url === 'string' && new URL(url).searchParams.has(MARK);
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (!(marked(r.url) || marked(context.parentURL)) || !r.url.startsWith('file:')) return r;
  const u = new URL(r.url);
  if (!/\\.m?ts$/.test(u.pathname) || u.pathname.includes('/node_modules/')) return r;
  u.searchParams.set(MARK, '');
  return { ...r, url: u.href, format: 'module' };
}
`;

let registered: Promise<void> | undefined;

/** Register tsx's loader (unless this process runs the sources, through tsx already) and the format hook. */
const registerTypeScript = (): Promise<void> => {
  registered ??= (async () => {
    if (!import.meta.url.endsWith('.ts')) {
      const { register } = await import('tsx/esm/api');
      register();
    }
    registerHooks(`data:text/javascript,${encodeURIComponent(FORMAT_HOOK)}`);
  })();
  return registered;
};

/** Import the design file at absolute path `abs`; its module namespace. Throws what the import throws. */
export const importDesignFile = async (abs: string): Promise<Record<string, unknown>> => {
  const url = pathToFileURL(abs);
  if (/\.cts$/i.test(abs)) {
    const { tsImport } = await import('tsx/esm/api');
    return (await tsImport(url.href, import.meta.url)) as Record<string, unknown>;
  }
  if (/\.m?ts$/i.test(abs)) {
    await registerTypeScript();
    url.searchParams.set(MARK, '');
  }
  return (await import(url.href)) as Record<string, unknown>;
};

/**
 * The value a design module exports as its design: `design`, else the default export; for a CommonJS
 * module (whose `module.exports` is the namespace's default), the same two names on `module.exports`.
 */
export const exportedDesign = (mod: Record<string, unknown>): unknown => {
  const d = mod.design ?? mod.default;
  if (isDesign(d) || typeof d !== 'object' || d === null) return d;
  const cjs = d as Record<string, unknown>;
  return cjs.design ?? cjs.default ?? d;
};
