import { resolve } from 'node:path';
import { BundleOptions } from '@temporalio/worker';

type WebpackConfiguration = Parameters<NonNullable<BundleOptions['webpackConfigHook']>>[0];

/** Library folders under the repository (or dist) root: the same layout in TypeScript and in compiled JS. */
const LIBS = ['search-space', 'latency-predictor', 'proxy-trainer', 'search', 'storage', 'contracts'];

/**
 * Resolve `@edgenas/<lib>` in the workflow bundle. The compiled code has its aliases rewritten to relative
 * paths already; the TypeScript sources (tests, ts-node) still use them.
 */
export function addLibraryAliases(config: WebpackConfiguration): WebpackConfiguration {
  const root = resolve(__dirname, '..', '..', '..');
  const aliases = Object.fromEntries(
    LIBS.map((lib) => [`@edgenas/${lib}`, resolve(root, 'libs', lib, 'src')]),
  );
  const resolveOptions = config.resolve ?? {};
  const existing = resolveOptions.alias;
  return {
    ...config,
    resolve: {
      ...resolveOptions,
      alias: Array.isArray(existing) ? existing : { ...(existing ?? {}), ...aliases },
    },
  };
}
